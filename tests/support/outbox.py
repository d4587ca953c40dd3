"""Outbox helpers for tests: commit numbered events, deliver them, make them look old."""

from __future__ import annotations

import itertools
import time

from nfcbridge.outbox import Outbox
from nfcbridge.retention import DAY
from tests.support.events import make

_numbers = itertools.count()


def commit(box: Outbox, n: int, *, reader: str = "desk-left", prefix: str = "e") -> list[str]:
    ids = [f"{prefix}{next(_numbers)}" for _ in range(n)]
    for event_id in ids:
        box.commit(make(event_id=event_id, reader=reader))
    return ids


def backdate(box: Outbox, event_ids: list[str], days: float) -> None:
    """Make these events look committed *days* ago (the test's only change behind the API)."""
    with box.transaction() as c:
        c.executemany(
            "UPDATE events SET committed_at = ? WHERE event_id = ?",
            [(time.time() - days * DAY, e) for e in event_ids],
        )


def deliver(box: Outbox, forwarder: str, event_ids: list[str] | None = None) -> None:
    box.register(forwarder)
    wanted = [
        e for e in box.pending(forwarder, 100_000) if event_ids is None or e.event_id in event_ids
    ]
    box.mark_delivered(forwarder, wanted)


def kept(box: Outbox) -> list[str]:
    return [e.event_id for e in box.events()]
