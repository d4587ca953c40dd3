"""Owner-only database files, created without ever closing a descriptor on a live one.

SQLite files here hold customer pseudonyms, so they are created mode 0600 (SQLite gives a
database's -wal and -shm files the database file's mode). The file is created here, before
SQLite opens it, and only when it does not exist yet: opening and closing a descriptor on a
database that is already in use would drop every POSIX lock the process holds on it,
SQLite's included, and another process closing its connection would then delete the WAL
(and the taps in it) under us. Used by the registry, the outbox and the receiver.
"""

from __future__ import annotations

import os
from pathlib import Path


def create_owner_only(path: str | Path) -> bool:
    """Create *path* empty with mode 0600 unless it exists; True if this call created it.
    ``OSError`` when the directory is missing or not writable."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True
