"""The daemon when something fails on the way: it says what, and leaves nothing behind."""

from __future__ import annotations

import socket
import sqlite3
import threading
from pathlib import Path

import pytest

from nfcbridge.config import load_settings
from nfcbridge.daemon import Daemon
from nfcbridge.errors import ConfigError
from nfcbridge.events import TagFacts, TapEvent, new_event_id, now_utc
from nfcbridge.outbox import Outbox, OutboxError
from nfcbridge.sdnotify import SdNotify
from tests.support.daemon_config import config


def daemon_with(tmp_path: Path, extra: str) -> Daemon:
    path = config(tmp_path)
    path.write_text(path.read_text() + extra)
    return Daemon(load_settings(path), notify=SdNotify(""), drain_timeout=1.0)


def test_a_metrics_port_in_use_is_a_config_error_and_leaves_no_socket_or_thread(
    tmp_path: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        daemon = daemon_with(tmp_path, f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
        before = set(threading.enumerate())
        with pytest.raises(ConfigError) as caught:
            daemon.run(install_signals=False)
    assert caught.value.key == "metrics.listen" and "127.0.0.1" in str(caught.value)
    assert caught.value.exit_code == 3
    assert not (tmp_path / "control.sock").exists()
    left = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert left == []


def test_a_control_socket_naming_a_regular_file_is_refused_not_deleted(tmp_path: Path) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me")
    daemon = daemon_with(tmp_path, f'[control]\nsocket = "{precious}"\n')
    with pytest.raises(ConfigError) as caught:
        daemon.run(install_signals=False)
    assert caught.value.key == "control.socket" and "not a socket" in str(caught.value)
    assert precious.read_text() == "keep me"


def test_a_commit_sqlite_rolled_back_itself_reports_the_real_cause(tmp_path: Path) -> None:
    """SQLite rolls a transaction back by itself on a full disk or an I/O error; a second
    ROLLBACK ("no transaction is active") must not hide why the tap was not stored."""
    box = Outbox.open(tmp_path / "o.db")
    try:
        db = sqlite3.connect(tmp_path / "o.db")
        db.execute(
            "CREATE TRIGGER disk_full BEFORE INSERT ON events "
            "BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full'); END"
        )
        db.close()
        event = TapEvent(
            event_id=new_event_id(),
            station="st",
            reader="desk",
            occurred_at=now_utc(),
            tag=TagFacts(uid="04A1B2C3D4E5F6"),
            origin="simulated",
            clock_synced=True,
        )
        with pytest.raises(OutboxError) as caught:
            box.commit(event)
        assert "disk is full" in str(caught.value)
        assert "no transaction" not in str(caught.value)
    finally:
        box.close()
