"""The tap pipeline: debounce, enrichment (best effort), commit before acknowledgement."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from nfcbridge.events import TapEvent
from nfcbridge.outbox import Outbox, OutboxError
from nfcbridge.pipeline import Debouncer, Enricher, TapPipeline, classify


@dataclass
class Ctx:
    state: str
    customer: str | None
    provider: str | None


class FakeRegistry:
    def __init__(self, known: dict[bytes, Ctx], *, fail: bool = False, delay: float = 0):
        self.known, self.fail, self.delay, self.asked = known, fail, delay, []

    def tap_context(self, uid: bytes) -> Ctx | None:
        self.asked.append(uid)
        time.sleep(self.delay)
        if self.fail:
            raise ConnectionError("registry down")
        return self.known.get(uid)


UID = "04A1B2C3D4E5F6"


@pytest.fixture
def box(tmp_path: Path) -> Outbox:
    outbox = Outbox.open(tmp_path / "o.db")
    yield outbox
    outbox.close()


def test_a_tap_is_committed_before_subscribers_hear_of_it(box: Outbox) -> None:
    pipeline = TapPipeline("st", box, clock_synced=lambda: True)
    seen: list[tuple[TapEvent, int]] = []
    pipeline.subscribe(lambda e: seen.append((e, box.count())))
    event = pipeline.tap("desk", UID.lower(), "simulated")
    assert seen == [(event, 1)]  # already in the outbox when told
    assert event.seq == 1 and event.tag.uid == UID and event.origin == "simulated"
    assert box.events()[0].payload == event.to_json()


def test_a_failed_commit_is_not_acknowledged(box: Outbox) -> None:
    pipeline = TapPipeline("st", box)
    told: list[TapEvent] = []
    pipeline.subscribe(told.append)
    box.close()
    box.path = box.path.parent / "missing-dir" / "o.db"
    with pytest.raises(OutboxError):
        pipeline.tap("desk", UID, "reader")
    assert told == []


def test_unsubscribe_handle(box: Outbox) -> None:
    pipeline = TapPipeline("st", box)
    told: list[TapEvent] = []
    off = pipeline.subscribe(told.append)
    off()
    pipeline.tap("desk", UID, "reader")
    assert told == []


def test_a_failing_subscriber_is_counted_not_fatal(box: Outbox) -> None:
    pipeline = TapPipeline("st", box)
    pipeline.subscribe(lambda e: 1 / 0)
    pipeline.tap("desk", UID, "reader")
    assert pipeline.subscriber_errors == 1 and box.count() == 1


@pytest.mark.parametrize(
    ("ctx", "anomalies"),
    [
        (None, ("unknown_tag",)),
        (Ctx("active", "psn:k1:ab", "P-1"), ()),
        (Ctx("retired", "psn:k1:ab", "P-1"), ("retired_tag",)),
        (Ctx("spoiled", None, None), ("spoiled_tag",)),
        (Ctx("issued", None, "P-1"), ("not_attached",)),
        (Ctx("in_stock", None, None), ("not_attached",)),
    ],
)
def test_registry_states_become_anomalies(ctx: Ctx | None, anomalies: tuple[str, ...]) -> None:
    assert classify(ctx).anomalies == anomalies


def test_enrichment_fills_registry_facts(box: Outbox) -> None:
    registry = FakeRegistry({bytes.fromhex(UID): Ctx("active", "psn:k1:ab", "P-0042")})
    pipeline = TapPipeline("st", box, enricher=Enricher(registry))
    event = pipeline.tap("desk", UID, "reader")
    assert registry.asked == [bytes.fromhex(UID)]
    assert event.to_dict()["registry"] == {
        "state": "active",
        "customer": "psn:k1:ab",
        "provider": "P-0042",
    }
    assert event.anomalies == ()


@pytest.mark.parametrize("registry", [FakeRegistry({}, fail=True), FakeRegistry({}, delay=1.0)])
def test_an_unavailable_registry_still_commits_the_tap(box: Outbox, registry: FakeRegistry) -> None:
    pipeline = TapPipeline("st", box, enricher=Enricher(registry, budget=0.2))
    event = pipeline.tap("desk", UID, "reader")
    assert event.registry is None
    assert event.anomalies == ("registry_unavailable",)
    assert box.count() == 1


def test_debounce_one_event_per_presentation_and_retap_window() -> None:
    d = Debouncer()
    assert d.is_new_tap("r", "A", 2.0, now=0.0)
    d.ended("r", "A", now=1.0)
    assert not d.is_new_tap("r", "A", 2.0, now=2.5)  # back within 2 s of removal
    d.ended("r", "A", now=3.0)
    assert d.is_new_tap("r", "A", 2.0, now=5.5)  # 2.5 s after removal: a new tap
    d.ended("r", "A", now=6.0)
    assert d.is_new_tap("r", "B", 2.0, now=6.1)  # another tag is always a new tap
    assert d.is_new_tap("other", "B", 2.0, now=6.1)  # another reader too


def test_a_burst_of_taps_beyond_the_pending_bound_is_looked_up_not_skipped() -> None:
    """Twenty readers tapping at once (a rig, a busy hall) with a registry answering in
    50 ms: the ones beyond the eight outstanding lookups wait for a slot within the budget."""
    known = {bytes.fromhex(UID): Ctx("active", "psn:k1:abc", "P-1")}
    enricher = Enricher(FakeRegistry(known, delay=0.05), budget=2.0, max_pending=8)
    results: list[tuple[str, ...]] = []
    taps = [
        threading.Thread(target=lambda: results.append(enricher(UID).anomalies)) for _ in range(20)
    ]
    for t in taps:
        t.start()
    for t in taps:
        t.join(10)
    enricher.close()
    assert results == [()] * 20


def test_a_pending_bound_full_of_hung_lookups_answers_unavailable_within_the_budget() -> None:
    release = threading.Event()

    class Hangs(FakeRegistry):
        def tap_context(self, uid: bytes) -> Ctx | None:
            release.wait(30)
            return None

    enricher = Enricher(Hangs({}), budget=0.2, max_pending=1)
    try:
        assert enricher(UID).anomalies == ("registry_unavailable",)  # the lookup hangs
        started = time.monotonic()
        assert enricher(UID).anomalies == ("registry_unavailable",)  # no slot frees
        assert time.monotonic() - started < 5  # bounded by the budget, not by the hang
    finally:
        release.set()
        enricher.close()


def test_hung_registry_lookups_do_not_block_later_taps() -> None:
    release = threading.Event()
    known = {bytes.fromhex(UID): Ctx("active", "psn:k1:abc", "P-1")}

    class HangsTwice(FakeRegistry):
        def tap_context(self, uid: bytes) -> Ctx | None:
            self.asked.append(uid)
            if len(self.asked) <= 2:
                release.wait(30)  # a lookup stuck on a lost connection
            return self.known.get(uid)

    enricher = Enricher(HangsTwice(known), budget=0.2)
    try:
        assert enricher(UID).anomalies == ("registry_unavailable",)
        assert enricher(UID).anomalies == ("registry_unavailable",)
        found = enricher(UID)  # the registry answers again: so must the enrichment
        assert found.anomalies == () and found.registry is not None
        assert found.registry.customer == "psn:k1:abc"
    finally:
        release.set()
        enricher.close()
