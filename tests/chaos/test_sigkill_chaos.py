"""Chaos: the daemon killed with SIGKILL at random, over and over, while mock readers tap
steadily and a real local backend fails about 30% of requests (503, 429, connections
dropped, and commits whose reply is lost). After the drain, the backend holds exactly the
events the daemon acknowledged: none lost, none invented, repeats carry the same id.

Taps are driven through the control socket (one thread per reader, taps back to back), so
they travel the real reader path; "acknowledged" is "committed in the outbox", read from
the outbox file after the run, and every control-socket reply that named an event id must
be in it too.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from nfcbridge.control import ControlError
from nfcbridge.control import request as control_request
from nfcbridge.outbox import Outbox
from tests.support.harness import (
    RecordingBackend,
    new_secret,
    start_daemon,
    stop_daemon,
    uid_for,
    wait_ready,
    webhook_forwarder,
    write_config,
)

KILLS = 50
READERS = ("north", "south")


class Tapper(threading.Thread):
    """Taps one reader back to back; survives the daemon dying under it."""

    def __init__(self, sock: Path, reader: str, offset: int) -> None:
        super().__init__(daemon=True)
        self.sock, self.reader, self.n = sock, reader, offset
        self.replied: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.n += 1
            try:
                answer = control_request(
                    self.sock,
                    {"op": "tap", "reader": self.reader, "uid": uid_for(self.n), "hold": 0.0},
                    timeout=5.0,
                )
            except (OSError, ValueError, ControlError):
                time.sleep(0.02)  # the daemon is down: wait for the next one
                continue
            if answer.get("event_id"):
                self.replied.append(answer["event_id"])
            time.sleep(0.03)  # a busy station, and an outbox the drain below can empty in time


@pytest.mark.slow
@pytest.mark.timeout(360)
def test_sigkill_at_random_loses_and_invents_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261124)
    secret = new_secret()
    (tmp_path / "hook.secret").write_text(secret)
    backend = RecordingBackend(secret, fail_rate=0.3, seed=5).start()
    config = write_config(
        tmp_path,
        readers=[(r, f"mock:chaos-{r}") for r in READERS],
        forwarders=webhook_forwarder(
            backend.url, tmp_path / "hook.secret", max_backoff=0.2, timeout=1.0
        ),
    )
    sock = tmp_path / "control.sock"
    log = tmp_path / "daemon.log"
    tappers = [Tapper(sock, r, i * 10**6) for i, r in enumerate(READERS)]
    for t in tappers:
        t.start()
    kills = 0
    proc = None
    try:
        while kills < KILLS:
            proc = start_daemon(config, log)
            wait_ready(proc, sock)
            time.sleep(rng.uniform(0.05, 0.6))
            proc.kill()  # SIGKILL: no drain, no cleanup
            proc.wait()
            kills += 1
        for t in tappers:
            t.stopping.set()
        for t in tappers:
            t.join(10)
        proc = start_daemon(config, log)  # the last start drains everything
        wait_ready(proc, sock)
        box = Outbox.open(tmp_path / "outbox.db")
        committed = box.event_ids()
        deadline = time.monotonic() + 150  # one event at a time, 30% failing, backoff
        while backend.ids() != committed:
            assert time.monotonic() < deadline, (len(backend.ids()), len(committed))
            time.sleep(0.1)
        assert stop_daemon(proc) == 0
        stored = box.events()
        box.close()
    finally:
        for t in tappers:
            t.stopping.set()
        if proc is not None and proc.poll() is None:
            proc.kill()
        backend.stop()
    replied = {i for t in tappers for i in t.replied}
    assert kills >= 50
    assert len(committed) > 100, "too few taps to prove anything"
    assert backend.ids() == committed  # none lost, none invented
    assert replied <= committed  # every tap the daemon answered for is stored
    for reader in READERS:  # no hole in any reader's sequence
        seqs = sorted(e.seq for e in stored if e.reader == reader)
        assert seqs == list(range(1, len(seqs) + 1))
    assert backend.bad_signatures == 0 and backend.id_mismatch == 0
    repeats = Counter(backend.deliveries)
    assert any(n > 1 for n in repeats.values())  # repeats happened, with the same id
    assert backend.failures.get("lost_reply", 0) > 0
    with contextlib.suppress(Exception):
        print(
            f"kills={kills} events={len(committed)} deliveries={len(backend.deliveries)} "
            f"failures={backend.failures}"
        )
