"""Soak: the daemon on a station as operators, scrapers and faults run beside it (issue 8).

The daemon runs as a process with two mock readers and one emulated PN532 (nfcpy's real
driver on a pty), a webhook forwarder to a real local backend, metrics and the control
socket. Side by side, for ``NFCBRIDGE_SOAK_SECONDS`` (default 120 s):

- taps at a steady rate on both mock readers through the control socket;
- a tag presented on the PN532 now and then, and the emulator unplugged while a tag is held;
- a Prometheus scrape every 100 ms and a status request every 500 ms;
- ``nfcbridge status``, ``outbox list``, ``outbox retry --all-dead`` and ``outbox prune
  --dry-run`` as separate processes, in a loop;
- the backend flapping between healthy and failing most requests (503, 429, dropped
  connections, lost replies);
- the daemon SIGKILLed every ~25 s and started again;
- the web app (``nfcbridge web``, its own process on the same data directory) with a
  logged-in desk account loading the station page (which asks the daemon's control socket)
  and the desk page every 300 ms.

At the end: every acknowledged event id is in the outbox and at the backend, and the backend
has nothing else; ``PRAGMA integrity_check`` is ok; the -wal and -shm files never
disappeared (nor showed as deleted in /proc/PID/fd) while a daemon ran; the daemon's open
descriptors and threads after 200 scrapes and status calls are what they were after 10, and
so are the web app's after 200 page loads; the web app answered every page, daemon up or down.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pn532 = pytest.importorskip("drivers.emulated.pn532")
pytest.importorskip("nfc")

from drivers.emulated.chip import EmulatedTag  # noqa: E402
from drivers.emulated.field import Field  # noqa: E402
from nfcbridge.control import request as control_request  # noqa: E402
from tests.support.harness import (  # noqa: E402
    REPO,
    RecordingBackend,
    free_port,
    new_secret,
    start_daemon,
    stop_daemon,
    uid_for,
    wait_ready,
    webhook_forwarder,
    write_config,
)
from tests.support.web_process import WebApp  # noqa: E402

SECONDS = float(os.environ.get("NFCBRIDGE_SOAK_SECONDS", "120"))
KILL_EVERY = 25.0
MOCK_READERS = ("north", "south")


class Loop(threading.Thread):
    """Runs *step* every *every* seconds until stopped; counts errors, never dies."""

    def __init__(self, name: str, every: float, step) -> None:  # type: ignore[no-untyped-def]
        super().__init__(name=name, daemon=True)
        self.every, self.step = every, step
        self.stopping = threading.Event()
        self.runs = 0
        self.failed: list[str] = []

    def run(self) -> None:
        while not self.stopping.wait(self.every):
            try:
                self.step()
                self.runs += 1
            except AssertionError as exc:  # a broken promise: reported at the end
                self.failed.append(str(exc))
            except Exception:  # the daemon is down (SIGKILL): try again
                pass


class Station:
    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.sock = tmp_path / "control.sock"
        self.proc: subprocess.Popen[bytes] | None = None
        self.running = threading.Event()  # a daemon is up and its files must be there
        self.lock = threading.Lock()
        self.acknowledged: set[str] = set()
        self.wal_violations: list[str] = []

    # -- watched while a daemon runs ------------------------------------------------------
    def check_files(self) -> None:
        if not self.running.is_set() or self.proc is None:
            return
        pid = self.proc.pid
        for suffix in ("-wal", "-shm"):
            if not (self.dir / f"outbox.db{suffix}").exists() and self.running.is_set():
                self.wal_violations.append(f"outbox.db{suffix} missing while pid {pid} ran")
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if "outbox.db" in target and target.endswith("(deleted)"):
                        self.wal_violations.append(f"{target} held deleted by pid {pid}")

    def tap(self, reader: str, n: int) -> None:
        answer = control_request(
            self.sock, {"op": "tap", "reader": reader, "uid": uid_for(n), "hold": 0.0}, 5.0
        )
        if answer.get("event_id"):
            with self.lock:
                self.acknowledged.add(answer["event_id"])


def cli(config: Path, *args: str) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "nfcbridge.cli.main", "--config", str(config), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=60,
    ).returncode


def usage(pid: int) -> tuple[int, int]:
    last = (-1, -1)
    for _ in range(50):
        now = (len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task")))
        if now == last:
            return now
        last = now
        time.sleep(0.1)
    return last


@pytest.mark.slow
@pytest.mark.timeout(SECONDS + 240)
def test_soak_with_operators_scrapers_and_faults_loses_nothing(tmp_path: Path) -> None:
    secret = new_secret()
    (tmp_path / "hook.secret").write_text(secret)
    backend = RecordingBackend(secret, fail_rate=0.0, seed=8).start()
    field = Field()
    link = str(tmp_path / "ttyNFC0")
    emulator = pn532.Pn532Emulator(field, link=link).start()
    metrics_port = free_port()
    config = write_config(
        tmp_path,
        readers=[*((r, f"mock:soak-{r}") for r in MOCK_READERS), ("door", emulator.reader_url)],
        forwarders=webhook_forwarder(backend.url, tmp_path / "hook.secret", max_backoff=0.3),
        extra=f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n',
    )
    station = Station(tmp_path)
    counter = iter(range(1, 10**9))

    def scrape() -> None:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
            r.read()

    def status() -> None:
        control_request(station.sock, {"op": "status"}, 5.0)

    def operator() -> None:
        for args in (
            ("status",),
            ("outbox", "list"),
            ("outbox", "retry", "--all-dead"),
            ("outbox", "prune", "--dry-run"),
        ):
            code = cli(config, *args)
            assert code in (0, 11), f"{' '.join(args)} exited {code}"  # 11: status unhealthy

    def flap() -> None:
        backend.fail_rate = 0.0 if backend.fail_rate else 0.8

    def pn532_presentation() -> None:
        nonlocal emulator
        n = next(counter)
        field.place(EmulatedTag(uid=bytes.fromhex(uid_for(n))))
        time.sleep(0.4)
        if n % 3 == 0:  # unplugged while the tag is held, plugged back in
            emulator.stop()
            field.remove()
            time.sleep(0.3)
            emulator = pn532.Pn532Emulator(field, link=link).start()
        else:
            field.remove()

    loops = [
        *(Loop(f"tap-{r}", 0.05, lambda r=r: station.tap(r, next(counter))) for r in MOCK_READERS),
        Loop("files", 0.05, station.check_files),
        Loop("scrape", 0.1, scrape),
        Loop("status", 0.5, status),
        Loop("operator", 0.2, operator),
        Loop("flap", 3.0, flap),
        Loop("pn532", 1.0, pn532_presentation),
        Loop("web", 0.3, lambda: web.pages()),
    ]
    log = tmp_path / "daemon.log"
    kills = 0
    web = WebApp(tmp_path)
    try:
        station.proc = start_daemon(config, log)
        wait_ready(station.proc, station.sock)
        station.running.set()
        for loop in loops:
            loop.start()
        end = time.monotonic() + SECONDS
        while time.monotonic() < end:
            time.sleep(min(KILL_EVERY, max(0.0, end - time.monotonic())))
            if time.monotonic() >= end:
                break
            station.running.clear()
            station.proc.kill()  # SIGKILL: no drain, no cleanup
            station.proc.wait()
            kills += 1
            station.proc = start_daemon(config, log)
            wait_ready(station.proc, station.sock)
            station.running.set()
        for loop in loops:
            loop.stopping.set()
        for loop in loops:
            loop.join(60)
        backend.fail_rate = 0.0
        # quiet now: every reader back (an unplugged PN532 is re-opened with backoff, and its
        # tty is then open again: not a leak), then descriptors and threads after many
        # scrapes and status calls
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            readers = control_request(station.sock, {"op": "status"}, 5.0)["status"]["readers"]
            if all(r["state"] == "ok" for r in readers):
                break
            time.sleep(0.2)
        pid = station.proc.pid
        for _ in range(10):
            scrape()
            status()
        after_ten = usage(pid)
        for _ in range(200):
            scrape()
            status()
        after_many = usage(pid)
        for _ in range(10):
            web.pages()
        web_after_ten = usage(web.proc.pid)
        for _ in range(200):
            web.pages()
        web_after_many = usage(web.proc.pid)
        # everything committed reaches the backend
        deadline = time.monotonic() + 120
        while True:
            db = sqlite3.connect(tmp_path / "outbox.db")
            try:
                committed = {r[0] for r in db.execute("SELECT event_id FROM events")}
            finally:
                db.close()
            if backend.ids() >= committed or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        station.running.clear()
        assert stop_daemon(station.proc) == 0
    finally:
        for loop in loops:
            loop.stopping.set()
        if station.proc is not None and station.proc.poll() is None:
            station.proc.kill()
            station.proc.wait()
        emulator.stop()
        backend.stop()
        web.stop()
    db = sqlite3.connect(tmp_path / "outbox.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        committed = {r[0] for r in db.execute("SELECT event_id FROM events")}
        door = db.execute("SELECT COUNT(*) FROM events WHERE reader = 'door'").fetchone()[0]
    finally:
        db.close()
    failures = [f"{loop.name}: {f}" for loop in loops for f in loop.failed]
    print(
        f"soak {SECONDS:.0f} s: kills={kills} acknowledged={len(station.acknowledged)} "
        f"committed={len(committed)} pn532 taps={door} scrapes={loops[3].runs} "
        f"status={loops[4].runs} operator rounds={loops[5].runs} "
        f"backend failures={backend.failures} fds/threads {after_ten} -> {after_many} "
        f"web pages={loops[-1].runs} web fds/threads {web_after_ten} -> {web_after_many}"
    )
    assert failures == []
    assert station.wal_violations == []
    assert len(station.acknowledged) > 50 and door > 0
    assert station.acknowledged <= committed  # every acknowledged tap is stored
    assert backend.ids() == committed  # and delivered; nothing invented
    assert backend.bad_signatures == 0 and backend.id_mismatch == 0
    assert after_many == after_ten
    assert loops[-1].runs > 50
    assert web_after_many == web_after_ten
