"""A crash between the remote end's confirmation and the batched mark loses nothing.

Forwarders mark confirmed events delivered in batches (``nfcbridge.forwarders.base``). A
process killed in between leaves those events pending in the outbox; the next start sends
them again with the same event ids and payloads, so the receiver deduplicates them.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from nfcbridge.forwarders.jsonl import JsonlForwarder
from nfcbridge.outbox import Outbox
from tests.support.harness import REPO

CRASHING_FORWARDER = """
import os, signal, sys, time
from nfcbridge.forwarders.jsonl import JsonlForwarder
from nfcbridge.outbox import Outbox
from tests.support.events import make

box = Outbox.open(sys.argv[1])
for i in range(3):
    box.commit(make(event_id=f"e{i}", seq=i + 1))
fw = JsonlForwarder("file", box, path=sys.argv[2], mark_interval=3600)
fw.start()
deadline = time.monotonic() + 20
while fw.health.delivered < 3 and time.monotonic() < deadline:
    time.sleep(0.01)
os.kill(os.getpid(), signal.SIGKILL)  # confirmed (appended and fsynced), never marked
"""


def test_kill_between_confirmation_and_mark_redelivers_the_same_events(tmp_path: Path) -> None:
    db, sink = tmp_path / "outbox.db", tmp_path / "taps.jsonl"
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_FORWARDER, str(db), str(sink)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    first = sink.read_text().splitlines()
    assert [json.loads(line)["event_id"] for line in first] == ["e0", "e1", "e2"]
    with Outbox.open(db) as box:
        assert box.progress("file").pending == 3  # the marks died with the process
        fw = JsonlForwarder("file", box, path=sink)  # the next start
        fw.start()
        fw.drain()
        fw.join(10)
        assert box.progress("file").pending == 0
    lines = sink.read_text().splitlines()
    assert lines[3:] == first  # sent again: the same ids, byte for byte the same payloads
    assert {json.loads(line)["event_id"] for line in lines} == {"e0", "e1", "e2"}
