"""The forwarder loop and the JSON lines forwarder, with the real SQLite outbox."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from nfcbridge.forwarders.base import Forwarder, Outcome, TransientError
from nfcbridge.forwarders.jsonl import JsonlForwarder
from nfcbridge.outbox import Outbox, StoredEvent
from tests.support.events import make
from tests.support.waiting import wait_until


@pytest.fixture
def box(tmp_path: Path) -> Outbox:
    outbox = Outbox.open(tmp_path / "o.db")
    yield outbox
    outbox.close()


class Flaky(Forwarder):
    """Fails the first *failures* sends, records what it delivered."""

    kind = "flaky"

    def __init__(self, name: str, outbox: Outbox, failures: int, **kw) -> None:
        super().__init__(name, outbox, base_backoff=0.001, idle_wait=0.05, **kw)
        self.left = failures
        self.sent: list[str] = []

    def send(self, batch: list[StoredEvent]) -> Outcome:
        if self.left > 0:
            self.left -= 1
            raise TransientError("down")
        self.sent.extend(e.event_id for e in batch)
        return Outcome(delivered=list(batch))


def test_jsonl_appends_one_line_per_event_and_marks_delivered(box: Outbox, tmp_path: Path) -> None:
    for i in range(3):
        box.commit(make(event_id=f"e{i}"))
    path = tmp_path / "taps.jsonl"
    fw = JsonlForwarder("file", box, path=path, idle_wait=0.05)
    fw.start()
    assert wait_until(lambda: box.progress("file").pending == 0)
    box.commit(make(event_id="e3"))
    fw.wake()
    assert wait_until(lambda: box.progress("file").pending == 0)
    fw.drain()
    fw.join(5)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["event_id"] for line in lines] == ["e0", "e1", "e2", "e3"]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4]


def test_jsonl_unwritable_path_is_transient(box: Outbox, tmp_path: Path) -> None:
    box.commit(make(event_id="e0"))
    fw = JsonlForwarder("file", box, path=tmp_path / "no-dir" / "t.jsonl")
    outcome = fw.send(box.pending("file"))
    assert outcome.delivered == [] and outcome.retry is not None


def test_several_forwarders_each_deliver_everything_at_their_own_pace(box: Outbox) -> None:
    for i in range(20):
        box.commit(make(event_id=f"e{i:02d}"))
    fast = Flaky("fast", box, failures=0, batch_size=7)
    slow = Flaky("slow", box, failures=5, batch_size=3)
    for fw in (fast, slow):
        fw.start()
    assert wait_until(
        lambda: box.progress("fast").pending == 0 and box.progress("slow").pending == 0
    )
    for fw in (fast, slow):
        fw.drain()
        fw.join(5)
    expected = [f"e{i:02d}" for i in range(20)]
    assert fast.sent == expected and slow.sent == expected
    assert slow.health.delivered == 20


def test_stop_interrupts_a_long_backoff(box: Outbox) -> None:
    box.commit(make(event_id="e0"))
    fw = Flaky("f", box, failures=10**6, max_backoff=3600)
    fw.base_backoff = 3600
    fw.start()
    assert wait_until(lambda: fw.health.failures >= 1)
    t = time.monotonic()
    fw.stop()
    fw.join(5)
    assert not fw.is_alive() and time.monotonic() - t < 5
    assert box.progress("f").pending == 1  # still there for the next start


def test_a_drain_during_a_long_backoff_tries_again_at_once_then_backs_off_until_stopped(
    box: Outbox,
) -> None:
    """``systemctl stop`` with the backend down: one more try at once, then the usual
    backoff until the daemon's deadline stops it; what was not delivered stays."""
    box.commit(make(event_id="e0"))
    fw = Flaky("f", box, failures=10**6, max_backoff=3600)
    fw.base_backoff = 3600
    fw.start()
    assert wait_until(lambda: fw.health.failures >= 1)
    tried = fw.left
    fw.drain()
    assert wait_until(lambda: fw.left == tried - 1)  # tried again without waiting out the backoff
    time.sleep(0.2)
    assert fw.is_alive() and fw.left == tried - 1  # then back off (no busy retrying)
    fw.stop()
    fw.join(5)
    assert not fw.is_alive() and box.progress("f").pending == 1


def test_a_drain_during_a_backoff_delivers_when_the_remote_end_is_back(box: Outbox) -> None:
    box.commit(make(event_id="e0"))
    fw = Flaky("f", box, failures=1, max_backoff=3600)
    fw.base_backoff = 3600
    fw.start()
    assert wait_until(lambda: fw.health.failures >= 1)
    fw.drain()
    fw.join(5)
    assert not fw.is_alive() and fw.sent == ["e0"]
    assert box.progress("f").pending == 0


def test_drain_ends_when_nothing_is_pending(box: Outbox) -> None:
    fw = Flaky("f", box, failures=0)
    fw.start()
    fw.drain()
    fw.join(5)
    assert not fw.is_alive()


def test_a_bug_in_send_is_retried_not_fatal(box: Outbox) -> None:
    box.commit(make(event_id="e0"))
    calls = threading.Event()

    class Buggy(Flaky):
        def send(self, batch):  # type: ignore[override]
            if not calls.is_set():
                calls.set()
                raise KeyError("bug")
            return super().send(batch)

    fw = Buggy("b", box, failures=0)
    fw.start()
    assert wait_until(lambda: box.progress("b").pending == 0)
    fw.drain()
    fw.join(5)
    assert fw.sent == ["e0"]


class Counting(Flaky):
    """Delivers everything; counts the outbox write transactions that mark deliveries."""

    def __init__(self, name: str, outbox: Outbox, **kw) -> None:
        super().__init__(name, outbox, failures=0, **kw)
        self.marks: list[int] = []  # events per mark_delivered call
        mark = outbox.mark_delivered

        def counting_mark(forwarder, events) -> None:  # type: ignore[no-untyped-def]
            self.marks.append(len(events))
            mark(forwarder, events)

        outbox.mark_delivered = counting_mark  # type: ignore[method-assign]


def test_confirmed_deliveries_are_marked_in_batches_not_one_transaction_per_event(
    box: Outbox,
) -> None:
    fw = Counting("f", box, batch_size=5, mark_interval=3600)
    fw.start()
    for i in range(10):  # one event at a time, as taps arrive at a station
        box.commit(make(event_id=f"e{i}"))
        fw.wake()
        assert wait_until(lambda i=i: fw.health.delivered == i + 1)
    assert wait_until(lambda: box.progress("f").pending == 0)
    fw.drain()
    fw.join(5)
    assert fw.marks == [5, 5]  # two write transactions for ten deliveries
    assert fw.sent == [f"e{i}" for i in range(10)]  # an unmarked event is not sent again


def test_confirmed_but_unmarked_events_stay_pending_until_the_mark_and_drain_marks_them(
    box: Outbox,
) -> None:
    fw = Counting("f", box, mark_interval=3600)
    fw.start()
    for i in range(3):
        box.commit(make(event_id=f"e{i}"))
    fw.wake()
    assert wait_until(lambda: fw.health.delivered == 3)
    assert box.progress("f").pending == 3  # confirmed, not yet marked: a crash re-sends them
    fw.drain()
    fw.join(5)
    assert fw.marks == [3] and box.progress("f").pending == 0
    assert fw.sent == ["e0", "e1", "e2"]


def test_unmarked_confirmations_are_marked_after_mark_interval_while_idle(box: Outbox) -> None:
    fw = Counting("f", box, mark_interval=0.05, batch_size=100)
    fw.idle_wait = 3600  # only the mark interval can end the idle wait
    fw.start()
    box.commit(make(event_id="e0"))
    fw.wake()
    assert wait_until(lambda: box.progress("f").pending == 0)
    assert fw.marks == [1]
    fw.stop()
    fw.join(5)


def test_a_transient_failure_marks_what_was_confirmed_before_backing_off(box: Outbox) -> None:
    for i in range(4):
        box.commit(make(event_id=f"e{i}"))

    class HalfThenDown(Counting):
        def send(self, batch):  # type: ignore[override]
            if self.sent:
                raise TransientError("down")
            self.sent.extend(e.event_id for e in batch[:2])
            return Outcome(delivered=batch[:2], retry=TransientError("down"))

    fw = HalfThenDown("f", box, mark_interval=3600, max_backoff=3600)
    fw.base_backoff = 3600
    fw.start()
    assert wait_until(lambda: fw.health.failures >= 1)
    assert wait_until(lambda: box.progress("f").pending == 2)  # marked before the long wait
    fw.stop()
    fw.join(5)
    assert fw.marks == [2] and fw.sent == ["e0", "e1"]
