"""The daemon beside the tools an operator runs next to it (issue 8).

The daemon runs as a process of its own; ``nfcbridge outbox ...`` and ``status`` run as other
processes, as on a station. What is checked is what breaks a station silently: the
outbox's -wal and -shm files deleted under the running daemon (every tap acknowledged after
that is lost at the next crash), descriptors and threads that grow with every scrape.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from nfcbridge.control import request as control_request
from tests.support.harness import REPO, free_port, start_daemon, uid_for, wait_ready, write_config


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "nfcbridge.cli.main", "--config", str(config), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def deleted_files(pid: int) -> list[str]:
    """What the process still holds open although it was deleted from the file system."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.endswith("(deleted)"):
            found.append(target)
    return found


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def settled_usage(pid: int) -> tuple[int, int]:
    """(open fds, threads) once the last call's connection thread has ended."""
    last = (-1, -1)
    for _ in range(50):
        now = (open_fds(pid), threads(pid))
        if now == last:
            return now
        last = now
        time.sleep(0.1)
    return last


@pytest.fixture
def station(tmp_path: Path):
    metrics_port = free_port()
    config = write_config(
        tmp_path,
        readers=[("desk", "mock:beside-ops")],
        forwarders=(
            f'[[forwarders]]\ntype = "jsonl"\nname = "file"\npath = "{tmp_path / "taps.jsonl"}"\n'
        ),
        extra=f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n',
    )
    proc = start_daemon(config, tmp_path / "daemon.log")
    try:
        wait_ready(proc, tmp_path / "control.sock")
        yield tmp_path, config, proc, metrics_port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def tap(sock: Path, i: int) -> str:
    answer = control_request(sock, {"op": "tap", "reader": "desk", "uid": uid_for(i), "hold": 0})
    assert answer["ok"] and answer["event_id"], answer
    return str(answer["event_id"])


def test_outbox_commands_beside_the_daemon_never_delete_its_wal(station) -> None:
    directory, config, proc, _ = station
    sock = directory / "control.sock"
    acknowledged = [tap(sock, 1)]
    assert control_request(sock, {"op": "status"})["ok"]  # a reading thread in the daemon
    for args in (
        ("outbox", "list"),
        ("outbox", "retry", "--all-dead"),
        ("outbox", "prune", "--dry-run"),
        ("outbox", "forget", "no-such-forwarder"),
        ("status",),
    ):
        cli(config, *args)
        assert control_request(sock, {"op": "status"})["ok"]
        acknowledged.append(tap(sock, len(acknowledged) + 1))
        assert (directory / "outbox.db-wal").exists(), args
        assert (directory / "outbox.db-shm").exists(), args
        assert deleted_files(proc.pid) == [], args
    proc.send_signal(signal.SIGKILL)  # the crash after which a deleted WAL loses the taps
    proc.wait()
    db = sqlite3.connect(directory / "outbox.db")
    try:
        stored = {r[0] for r in db.execute("SELECT event_id FROM events")}
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
    assert set(acknowledged) <= stored


def scrape(port: int) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert b"nfcbridge_outbox_pending" in r.read()


def test_scrapes_and_status_calls_leave_no_descriptors_or_threads(station) -> None:
    directory, _config, proc, port = station
    sock = directory / "control.sock"
    tap(sock, 1)

    def calls(n: int) -> None:
        for _ in range(n):
            scrape(port)
            assert control_request(sock, {"op": "status"})["ok"]

    calls(10)
    after_ten = settled_usage(proc.pid)
    calls(100)
    assert settled_usage(proc.pid) == after_ten
