"""The forwarder loop shared by every kind: drain the outbox, in commit order, forever.

A concrete forwarder implements ``send(batch) -> Outcome``: which events the remote end
confirmed, which it rejected for good (they go to the dead-letter table, kept forever), and
whether to back off before trying the rest again. The loop marks progress in the outbox only
after confirmation, so delivery is at-least-once with the same event id and payload.

Confirmed events are marked delivered in batches: one write transaction for up to
``batch_size`` events or ``mark_interval`` seconds (0.25 s) of confirmations, and before any
backoff wait and at the end of the loop. Each mark is a synchronous=FULL commit that queues
on the same write lock as the taps, so one per delivered event (at 100 taps/s, 100 more
fsyncs a second) would make taps wait behind deliveries. Until its mark is written a
confirmed event is still pending in the outbox; the loop skips it by id (it only ever
confirms events in commit order), and a crash before the mark sends it again with the same
event id and payload, which the receiver deduplicates, exactly as a crash between the
remote end's answer and an unbatched mark always could.

Retries go on forever with exponential backoff and full jitter (a random wait between 0 and
``min(max_backoff, base * 2**failures)``, so many stations coming back at once do not
stampede a backend); a ``Retry-After`` from the remote end is honoured, bounded by
``max_backoff``. Head-of-line order is kept: the next event is not sent while an earlier one
is still being retried, so a backend that was down sees each reader's events in sequence.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from nfcbridge.errors import StoreUnavailable
from nfcbridge.outbox import Outbox, OutboxError, StoredEvent
from nfcbridge.seams import DeliveryMetrics

log = logging.getLogger("nfcbridge.forwarders")


class TransientError(StoreUnavailable):
    """Try again later (network down, 5xx, 429, broker away)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Outcome:
    delivered: list[StoredEvent] = field(default_factory=list)
    dead: list[tuple[StoredEvent, str]] = field(default_factory=list)
    retry: TransientError | None = None  # set: back off, then resume with what is left


@dataclass
class ForwarderHealth:
    name: str
    kind: str
    # starting | ok | failing (retrying, or its last batch had dead letters) | stopped
    state: str = "starting"
    delivered: int = 0
    dead: int = 0
    failures: int = 0  # consecutive
    last_error: str | None = None
    last_delivery: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Forwarder(threading.Thread):
    kind = "base"

    def __init__(
        self,
        name: str,
        outbox: Outbox,
        *,
        max_backoff: float = 300.0,
        batch_size: int = 100,
        base_backoff: float = 0.5,
        idle_wait: float = 1.0,
        mark_interval: float = 0.25,
        metrics: DeliveryMetrics | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(name=f"forwarder-{name}", daemon=True)
        self.forwarder_name = name
        self.outbox = outbox
        self.max_backoff = max_backoff
        self.batch_size = batch_size
        self.base_backoff = base_backoff
        self.idle_wait = idle_wait
        self.mark_interval = mark_interval
        self.metrics = metrics
        self.rng = rng or random.Random()
        self.health = ForwarderHealth(name, self.kind)
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._draining = threading.Event()
        self._stopping = threading.Event()  # either stop: ends a backoff wait
        self._reader: sqlite3.Connection | None = None
        # confirmed by the remote end, not yet marked delivered in the outbox (module doc)
        self._unmarked: list[StoredEvent] = []
        self._unmarked_since = 0.0  # monotonic: when the oldest of them was confirmed
        self._handled_up_to = 0  # every event id up to this one is confirmed or dead

    # -- control --------------------------------------------------------------------------
    def wake(self, *_: object) -> None:
        """Something was committed: look at the outbox now (a pipeline subscriber)."""
        self._wake.set()

    def stop(self, *, drain: bool = False) -> None:
        """End now, interrupting any backoff wait; with *drain*, deliver what is pending
        first (the daemon bounds how long it waits, then stops without drain). A drain
        that comes during a backoff wait tries again at once instead of waiting it out
        (the backend may be back, and the station is about to stop); after that it backs
        off as usual until the daemon's deadline."""
        if drain:
            self._draining.set()
        else:
            self._halt.set()
        self._stopping.set()
        self._wake.set()

    def drain(self) -> None:
        self.stop(drain=True)

    def healthy(self) -> bool:
        return self.is_alive()

    # -- the concrete part ----------------------------------------------------------------
    def send(self, batch: list[StoredEvent]) -> Outcome:
        raise NotImplementedError

    def setup(self) -> None:
        """Connect (called in the forwarder's thread before the loop)."""

    def teardown(self) -> None:
        """Release connections (called in the forwarder's thread at the end)."""

    # -- the loop -------------------------------------------------------------------------
    def backoff_delay(self, error: TransientError) -> float:
        if error.retry_after is not None:
            return max(0.0, min(error.retry_after, self.max_backoff))
        cap = min(self.max_backoff, self.base_backoff * 2 ** min(self.health.failures, 30))
        return self.rng.uniform(0, cap)

    def run(self) -> None:
        self.outbox.register(self.forwarder_name)
        try:
            self.setup()
            self._reader = self.outbox.open_reader()  # this thread's, closed at the end
            self._loop()
        except Exception:  # logged; the daemon's watchdog sees the thread end
            log.exception("forwarder %s crashed", self.forwarder_name)
            self.health.last_error = "crashed"
        finally:
            try:
                self._mark_unmarked()
            except OutboxError as exc:  # they stay pending: sent again at the next start
                log.error("forwarder %s cannot mark deliveries: %s", self.forwarder_name, exc)
            try:
                self.teardown()
            finally:
                if self._reader is not None:
                    self._reader.close()
                    self._reader = None
                self.health.state = "stopped"

    def _loop(self) -> None:
        while not self._halt.is_set():
            if self._unmarked and self._marks_due():
                self._mark_unmarked()
            try:
                batch = self.outbox.pending(
                    self.forwarder_name,
                    self.batch_size,
                    conn=self._reader,
                    after=self._handled_up_to,
                )
            except OutboxError as exc:
                log.error("forwarder %s cannot read the outbox: %s", self.forwarder_name, exc)
                self._halt.wait(1.0)
                continue
            if not batch:
                if self._draining.is_set():
                    return
                self._wake.wait(self._idle_timeout())
                self._wake.clear()
                continue
            try:
                outcome = self.send(batch)
            except TransientError as exc:
                outcome = Outcome(retry=exc)
            except Exception as exc:  # a bug in send is retried, not fatal
                log.exception("forwarder %s send failed", self.forwarder_name)
                outcome = Outcome(retry=TransientError(f"{type(exc).__name__}: {exc}"))
            self._record(batch, outcome)
            if outcome.retry is not None:
                self._mark_unmarked()  # the DB knows what was confirmed before we wait
                self.health.failures += 1
                self.health.state = "failing"
                self.health.last_error = str(outcome.retry)
                delay = self.backoff_delay(outcome.retry)
                log.warning(
                    "forwarder %s: %s; retrying in %.2f s",
                    self.forwarder_name,
                    outcome.retry,
                    delay,
                )
                # a drain that begins now cuts the wait short once; while draining only a
                # stop does
                (self._halt if self._draining.is_set() else self._stopping).wait(delay)
                if self._halt.is_set():
                    return
            elif outcome.dead:
                self.health.failures = 0
                self.health.state = "failing"
                self.health.last_error = f"dead letter: {outcome.dead[-1][1]}"
            else:
                self.health.failures = 0
                self.health.state = "ok"
                self.health.last_error = None

    # -- marks ----------------------------------------------------------------------------
    def _marks_due(self) -> bool:
        return (
            len(self._unmarked) >= self.batch_size
            or time.monotonic() - self._unmarked_since >= self.mark_interval
        )

    def _idle_timeout(self) -> float:
        """How long to wait for a wake-up: until the unmarked confirmations are due."""
        if not self._unmarked:
            return self.idle_wait
        due = self._unmarked_since + self.mark_interval - time.monotonic()
        return max(0.0, min(self.idle_wait, due))

    def _mark_unmarked(self) -> None:
        """Mark every confirmed event delivered, in one write transaction (kept for the
        next try when it fails)."""
        if self._unmarked:
            self.outbox.mark_delivered(self.forwarder_name, self._unmarked)
            self._unmarked = []
        self._handled_up_to = 0  # the outbox is the whole truth again

    def _record(self, batch: list[StoredEvent], outcome: Outcome) -> None:
        if outcome.delivered:
            if not self._unmarked:
                self._unmarked_since = time.monotonic()
            self._unmarked.extend(outcome.delivered)
            self.health.delivered += len(outcome.delivered)
            self.health.last_delivery = time.time()
            if self.metrics is not None:
                self.metrics.delivered(self.forwarder_name, len(outcome.delivered))
        for event, reason in outcome.dead:
            log.error(
                "forwarder %s: event %s rejected for good (dead letter): %s",
                self.forwarder_name,
                event.event_id,
                reason,
            )
            self.outbox.mark_dead(self.forwarder_name, event, reason)
            self.health.dead += 1
            if self.metrics is not None:
                self.metrics.dead_letter(self.forwarder_name)
        if outcome.retry is not None and self.metrics is not None:
            self.metrics.delivery_failure(self.forwarder_name)
        if self._unmarked:  # the next query skips the batch's confirmed prefix
            handled = {e.id for e in outcome.delivered} | {e.id for e, _ in outcome.dead}
            for event in batch:
                if event.id not in handled:
                    break
                self._handled_up_to = event.id
