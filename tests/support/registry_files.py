"""Registries on file made once and copied: migrating a new SQLite registry costs about
0.1 s, a copy about a millisecond (tests/conftest.py ``migrated_sqlite_registry``)."""

from __future__ import annotations

import shutil
from pathlib import Path


def copy_registry(source: Path, path: Path) -> str:
    """Copy the closed SQLite registry *source* to *path* as ``Registry.open`` would make
    it (folder 0700, file 0600); return its URL."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(source, path)
    path.chmod(0o600)
    return f"sqlite:///{path}"
