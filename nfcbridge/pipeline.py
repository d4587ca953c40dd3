"""The tap pipeline: debounce -> enrich -> commit -> (only then) acknowledge and signal.

Order of guarantees:

1. The event id (UUIDv7) and the time are assigned when the tag is seen, before anything
   can fail, and are stored with the event: a retry never invents a second id.
2. Enrichment from the registry is best effort and bounded in time: when the registry is
   slow or down the tap is still committed, with ``registry: null`` and the anomaly
   ``registry_unavailable``. Enrichment never blocks the commit for long.
3. ``commit`` returns only after SQLite (WAL, synchronous=FULL) has the event on disk.
   Only then are subscribers told (the reader beeps, forwarders wake up, metrics count).
   If the commit fails the tap is *not* acknowledged: the reader signals failure and the
   person taps again.

By default only the UID from anticollision is used at tap time; ``tag.product`` and
``tag.genuine`` are left null. Reading GET_VERSION and READ_SIG costs two more round trips
(about 40 ms on an ACR122U, docs/hardware.md "Timing") on every door tap, while the
originality of each tag is already checked once, at provisioning; the registry knows which
UIDs were provisioned as genuine, so a clone of an unknown UID shows up as ``unknown_tag``.
A reader that can afford it reads the signature on each tap (``[[readers]]
check_signature``, ``nfcbridge.tap_checks``): a clone of a *known* UID then shows up as
``not_genuine``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from nfcbridge import events as ev
from nfcbridge.events import Origin, RegistryFacts, TagFacts, TapEvent
from nfcbridge.outbox import Outbox

log = logging.getLogger("nfcbridge.pipeline")


class TapContextSource(Protocol):
    """What the pipeline needs of the registry (``provisioning.registry.Registry``)."""

    def tap_context(self, uid: bytes) -> Any | None: ...


Subscriber = Callable[[TapEvent], None]
MANUAL_READER = "manual"  # manual registrations have their own sequence, like a reader


@dataclass
class Enrichment:
    registry: RegistryFacts | None
    anomalies: tuple[str, ...]
    sun_tag: bool = False  # the registry knows this UID as a SUN tag (NTAG 424 DNA)


def classify(context: Any | None) -> Enrichment:
    """Registry facts and anomalies from a ``TapContext`` (state, customer, provider)."""
    if context is None:
        return Enrichment(None, (ev.UNKNOWN_TAG,))
    raw = getattr(context, "state", "")
    state = str(getattr(raw, "value", raw) or "")  # an enum or a plain string
    customer = getattr(context, "customer", None)
    provider = getattr(context, "provider", None)
    status = getattr(context, "customer_status", None)
    facts = RegistryFacts(state=state, customer=customer, provider=provider, customer_status=status)
    anomalies: list[str] = []
    if state == "retired":
        anomalies.append(ev.RETIRED_TAG)
    elif state == "spoiled":
        anomalies.append(ev.SPOILED_TAG)
    elif state != "active" or not customer:
        anomalies.append(ev.NOT_ATTACHED)
    sun_tag = getattr(context, "sun_key_version", None) is not None
    return Enrichment(facts, tuple(anomalies), sun_tag=sun_tag)


class Enricher:
    """Asks the registry with a time budget; never raises.

    Each lookup runs in a thread of its own, so a lookup that hangs (a lost connection, a
    locked row) costs only itself: the tap goes on without registry facts after ``budget``
    seconds (``[registry] lookup_timeout``) and later taps are looked up as usual. At most
    ``max_pending`` lookups may be outstanding; a tap beyond that waits for a slot within its
    budget (a burst on many readers), and is taken as registry unavailable when none frees
    (lookups that hang)."""

    def __init__(
        self, registry: TapContextSource, *, budget: float = 0.5, max_pending: int = 8
    ) -> None:
        self.registry = registry
        self.budget = budget
        self._slots = threading.BoundedSemaphore(max_pending)
        self._closed = False

    def __call__(self, uid: str) -> Enrichment:
        # a burst of taps on many readers waits for a slot within the budget; only lookups
        # that still hang after it make a tap go on without the registry
        deadline = time.monotonic() + self.budget
        if self._closed or not self._slots.acquire(timeout=self.budget):
            log.warning("registry enrichment skipped for %s: earlier lookups still hang", uid)
            return Enrichment(None, (ev.REGISTRY_UNAVAILABLE,))
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        thread = threading.Thread(
            target=self._lookup, args=(uid, future), name="enrich", daemon=True
        )
        thread.start()
        try:
            return classify(future.result(timeout=max(0.0, deadline - time.monotonic())))
        except Exception as exc:  # enrichment failure must not lose a tap
            log.warning("registry enrichment failed for %s: %r", uid, exc)
            return Enrichment(None, (ev.REGISTRY_UNAVAILABLE,))

    def _lookup(self, uid: str, future: concurrent.futures.Future[Any]) -> None:
        try:
            future.set_result(self.registry.tap_context(bytes.fromhex(uid)))
        except BaseException as exc:
            future.set_exception(exc)
        finally:
            self._slots.release()

    def close(self) -> None:
        self._closed = True


class Debouncer:
    """One event per presentation, plus a re-tap window.

    A presentation is the time a tag stays in the field (the worker waits for removal). A
    presentation of the same UID on the same reader that begins less than *window* seconds
    after the previous one ended is the same tap (a hand wobbling at the door, a field that
    drops for a moment): no new event.
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[str, float]] = {}  # reader -> (uid, ended at monotonic)
        self._lock = threading.Lock()

    def is_new_tap(self, reader: str, uid: str, window: float, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            last = self._last.get(reader)
            self._last[reader] = (uid, float("inf"))  # present: not ended yet
            if last is None or last[0] != uid:
                return True
            return now - last[1] >= window

    def ended(self, reader: str, uid: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._last[reader] = (uid, now)


class TapPipeline:
    def __init__(
        self,
        station: str,
        outbox: Outbox,
        *,
        enricher: Callable[[str], Enrichment] | None = None,
        clock_synced: Callable[[], bool] = ev.clock_synced,
    ) -> None:
        self.station = station
        self.outbox = outbox
        self.enricher = enricher
        self.clock_synced = clock_synced
        self.debouncer = Debouncer()
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self.subscriber_errors = 0

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Be told of every committed event; returns the unsubscribe handle."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def tap(
        self,
        reader: str,
        uid: str,
        origin: Origin,
        *,
        occurred_at: datetime | None = None,
        product: str | None = None,
        genuine: bool | None = None,
        run: str | None = None,
        signature: str | None = None,
        seen_at: datetime | None = None,
        sun: dict[str, Any] | None = None,
    ) -> TapEvent:
        """Build, enrich and durably commit one tap; returns it as stored (with its seq).

        *occurred_at*, when given, is a moment that did not come from the station clock (a
        simulated tap stamped with its scenario time): the event says ``clock_synced: false``.
        *seen_at* is the station clock's moment the tag was seen, when checks read the tag
        before this call. Raises ``OutboxError`` when the commit failed: the tap is then not
        acknowledged."""
        event_id = ev.new_event_id()
        moment = occurred_at or seen_at or ev.now_utc()
        synced = self.clock_synced() if occurred_at is None else False
        anomalies: list[str] = []
        if genuine is False:
            anomalies.append(ev.NOT_GENUINE)
        registry = None
        if self.enricher is not None:
            found = self.enricher(uid)
            registry = found.registry
            anomalies.extend(found.anomalies)
            if found.sun_tag and sun is None:
                anomalies.append(ev.SUN_MISSING)  # a clone of a SUN tag's UID
        event = TapEvent(
            event_id=event_id,
            station=self.station,
            reader=reader,
            occurred_at=moment,
            tag=TagFacts(
                uid=uid.upper(), product=product, genuine=genuine, signature=signature, sun=sun
            ),
            origin=origin,
            clock_synced=synced,
            registry=registry,
            anomalies=tuple(anomalies),
            run=run,
        )
        return self._commit(event)

    def manual(
        self,
        event_id: str,
        occurred_at: datetime,
        facts: ev.ManualFacts,
        registry: RegistryFacts | None,
    ) -> TapEvent:
        """Commit a manual registration (``nfcbridge.manual``) on the pseudo-reader ``manual``:
        same event type, same outbox sequence discipline, same subscribers as a tap."""
        event = TapEvent(
            event_id=event_id,
            station=self.station,
            reader=MANUAL_READER,
            occurred_at=occurred_at,
            tag=None,
            origin="manual",
            clock_synced=False,  # the time was entered by a person
            registry=registry,
            manual=facts,
        )
        return self._commit(event)

    def _commit(self, event: TapEvent) -> TapEvent:
        stored = self.outbox.commit(event)
        self._publish(stored)
        return stored

    def _publish(self, event: TapEvent) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # a failing subscriber is logged, never fatal
                self.subscriber_errors += 1
                log.exception("tap subscriber %r failed", callback)
