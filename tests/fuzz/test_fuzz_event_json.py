"""The stored, signed and sent bytes of an event are ``json.dumps`` of its dictionary with
the schema's options, whatever text the fields hold (the event's encoder is built once,
``nfcbridge.events``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import example, given
from hypothesis import strategies as st

from nfcbridge.events import ManualFacts, RegistryFacts, TagFacts, TapEvent

TEXT = st.text(max_size=40)
NULLABLE = st.none() | TEXT
MOMENTS = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2999, 1, 1), timezones=st.just(UTC)
)
TAGS = st.none() | st.builds(
    TagFacts,
    uid=TEXT,
    product=NULLABLE,
    genuine=st.none() | st.booleans(),
    signature=NULLABLE,
    sun=st.none() | st.dictionaries(TEXT, TEXT, max_size=2),
)
REGISTRY = st.none() | st.builds(
    RegistryFacts, state=TEXT, customer=NULLABLE, provider=NULLABLE, customer_status=NULLABLE
)
MANUAL = st.none() | st.builds(
    ManualFacts,
    kind=st.sampled_from(["start", "end"]),
    staff=TEXT,
    customer=TEXT,
    reason=TEXT,
    note_ref=TEXT,
    note_sha256=TEXT,
)
EVENTS = st.builds(
    TapEvent,
    event_id=TEXT,
    station=TEXT,
    reader=TEXT,
    occurred_at=MOMENTS,
    tag=TAGS,
    origin=st.sampled_from(["reader", "simulated", "manual"]),
    clock_synced=st.booleans(),
    seq=st.integers(min_value=0, max_value=2**63 - 1),
    registry=REGISTRY,
    anomalies=st.lists(TEXT, max_size=3).map(tuple),
    run=NULLABLE,
    manual=MANUAL,
)


@given(EVENTS)
@example(
    TapEvent(
        event_id='"\\\n\x00\u2028\U0001f600',
        station="Älvsjö 1",
        reader="dörr\tvänster",
        occurred_at=datetime(2026, 11, 24, 7, 58, 12, 345678, tzinfo=UTC),
        tag=TagFacts("04A1B2C3D4E5F6"),
        origin="reader",
        clock_synced=True,
    )
)
def test_event_json_is_json_dumps_of_its_dict(event: TapEvent) -> None:
    expected = json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False)
    assert event.to_json() == expected
    assert event.with_seq(event.seq + 1).to_json() == json.dumps(
        event.with_seq(event.seq + 1).to_dict(), separators=(",", ":"), ensure_ascii=False
    )
