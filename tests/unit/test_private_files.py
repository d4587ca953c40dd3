"""The registry and the outbox hold customer pseudonyms: their files are owner-only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from nfcbridge.outbox import Outbox
from provisioning.registry import Registry


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_registry_and_outbox_files_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a permissive umask, as on a desk login
    try:
        with Registry.open(f"sqlite:///{tmp_path / 'registry.db'}"):
            pass
        Outbox.open(tmp_path / "outbox.db").close()
    finally:
        os.umask(old)
    for name in ("registry.db", "outbox.db"):
        assert mode(tmp_path / name) == 0o600, name
    for extra in tmp_path.glob("*.db-*"):
        assert mode(extra) & 0o077 == 0, extra.name


def test_the_receiver_database_is_owner_only(tmp_path: Path) -> None:
    from nfcbridge.receiver.store import open_store

    old = os.umask(0o022)
    try:
        open_store(tmp_path / "receiver.db").close()
    finally:
        os.umask(old)
    assert mode(tmp_path / "receiver.db") == 0o600
