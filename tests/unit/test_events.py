"""The tap event schema v1: exact shape, ids, time format."""

from __future__ import annotations

import json
import time
import uuid

from nfcbridge import events as ev
from nfcbridge.events import RegistryFacts, TagFacts
from tests.support.events import make


def test_json_has_exactly_the_schema_v1_keys_in_order() -> None:
    data = json.loads(make().to_json())
    assert list(data) == [
        "schema",
        "event_id",
        "station",
        "reader",
        "seq",
        "occurred_at",
        "clock_synced",
        "tag",
        "registry",
        "origin",
        "anomalies",
    ]
    assert data["schema"] == "nfcbridge.tap/1"
    assert data["seq"] == 1042
    assert data["registry"] is None
    assert data["anomalies"] == []


def test_occurred_at_is_utc_with_milliseconds_and_z() -> None:
    assert make().to_dict()["occurred_at"] == "2026-11-24T07:58:12.345Z"


def test_event_ids_are_uuid_version_7_and_time_ordered() -> None:
    before_ms = time.time_ns() // 1_000_000
    ids = [ev.new_event_id() for _ in range(50)]
    after_ms = time.time_ns() // 1_000_000
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert all(uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)
    assert all(before_ms <= uuid.UUID(i).int >> 80 <= after_ms for i in ids)  # RFC 9562 5.7
    assert len(set(ids)) == 50
    assert [i[:13] for i in ids] == sorted(i[:13] for i in ids)  # 48-bit ms timestamp prefix


def test_product_and_genuine_are_null_when_unknown() -> None:
    assert make().to_dict()["tag"] == {
        "uid": "04A1B2C3D4E5F6",
        "product": None,
        "genuine": None,
        "signature": None,
    }
    tag = TagFacts("04A1B2C3D4E5F6", product="NTAG213", genuine=False, signature="invalid")
    assert make(tag=tag).to_dict()["tag"] == {
        "uid": "04A1B2C3D4E5F6",
        "product": "NTAG213",
        "genuine": False,
        "signature": "invalid",
    }


def test_registry_facts_serialise_as_an_object() -> None:
    facts = RegistryFacts(state="active", customer="psn:k1:abc", provider="P-0042")
    data = make(registry=facts, anomalies=("not_attached",)).to_dict()
    assert data["registry"] == {"state": "active", "customer": "psn:k1:abc", "provider": "P-0042"}
    assert data["anomalies"] == ["not_attached"]


def test_serialisation_is_stable_byte_for_byte() -> None:
    event = make()
    assert event.to_json() == event.to_json()
    assert " " not in event.to_json()


def test_clock_synced_answers_a_bool() -> None:
    assert ev.clock_synced() in (True, False)


def test_with_seq_changes_the_sequence_number_and_nothing_else() -> None:
    import dataclasses

    event = make(registry=RegistryFacts("active", "psn:k1:abc", "P-0042"), run="r1")
    stored = event.with_seq(7)
    assert stored == dataclasses.replace(event, seq=7) and stored is not event
    assert event.seq == 1042  # the original is untouched
    assert json.loads(stored.to_json())["seq"] == 7


def test_a_replaced_time_is_the_time_serialised_not_the_one_formatted_before() -> None:
    import dataclasses
    from datetime import UTC, datetime

    event = make()
    assert event.to_dict()["occurred_at"] == "2026-11-24T07:58:12.345Z"  # formatted once
    later = dataclasses.replace(event, occurred_at=datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert later.to_dict()["occurred_at"] == "2027-01-02T03:04:05.000Z"
    assert event.with_seq(1).to_dict()["occurred_at"] == "2026-11-24T07:58:12.345Z"
