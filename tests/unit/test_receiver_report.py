"""The receiver's report: pairing start/end taps per reader and tag, missing end taps, joint
visits, double staffing, anomalies and per-customer/provider totals."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from nfcbridge.receiver.report import build_report

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
_ids = itertools.count(1)
_seq: dict[str, int] = {}

A, B, X = "04000000000001", "04000000000002", "04000000000009"
CUSTOMER = {A: "psn:a", B: "psn:b"}


def tap(
    reader: str,
    uid: str,
    minutes: float,
    *,
    anomalies: list[str] | None = None,
    state: str | None = "active",
) -> dict[str, object]:
    _seq[reader] = _seq.get(reader, 0) + 1
    registry = (
        None
        if state is None
        else {"state": state, "customer": CUSTOMER.get(uid), "provider": "P-01"}
    )
    return {
        "schema": "nfcbridge.tap/1",
        "event_id": f"e{next(_ids)}",
        "station": "rig",
        "reader": reader,
        "seq": _seq[reader],
        "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "tag": {"uid": uid},
        "registry": registry,
        "origin": "simulated",
        "anomalies": anomalies or [],
    }


def durations(report: dict) -> list[tuple[str, str, float | None]]:
    return [(v["reader"], v["uid"], v["duration_s"]) for v in report["visits"]]


def test_taps_alternate_start_and_end_per_reader_and_tag() -> None:
    r = build_report([tap("s1", A, 0), tap("s1", A, 30), tap("s1", A, 120), tap("s1", A, 150)])
    assert durations(r) == [("s1", A, 1800.0), ("s1", A, 1800.0)]
    assert r["missing_end"] == [] and r["double_staffing"] == []


def test_a_start_elsewhere_closes_an_open_visit_as_missing_end() -> None:
    r = build_report([tap("s1", A, 0), tap("s1", B, 45), tap("s1", B, 75), tap("s1", A, 200)])
    assert durations(r) == [("s1", A, None), ("s1", B, 1800.0), ("s1", A, None)]
    assert [(m["uid"], m["customer"]) for m in r["missing_end"]] == [(A, "psn:a"), (A, "psn:a")]


def test_joint_visit_to_cohabitants_keeps_both_open() -> None:
    r = build_report([tap("s1", A, 0), tap("s1", B, 0.5), tap("s1", A, 30), tap("s1", B, 30.5)])
    assert durations(r) == [("s1", A, 1800.0), ("s1", B, 1800.0)]


def test_an_open_visit_older_than_max_visit_is_not_ended_by_the_next_tap() -> None:
    r = build_report([tap("s1", A, 0), tap("s1", A, 9 * 60), tap("s1", A, 9 * 60 + 20)])
    assert durations(r) == [("s1", A, None), ("s1", A, 1200.0)]


def test_two_readers_overlapping_on_one_tag_is_double_staffing() -> None:
    r = build_report(
        [
            tap("s1", A, 0),
            tap("s2", A, 2),
            tap("s2", A, 28),
            tap("s1", A, 30),
            tap("s3", A, 40),
            tap("s3", A, 50),
        ]
    )
    assert [(d["readers"], d["from"], d["to"]) for d in r["double_staffing"]] == [
        (["s1", "s2"], "2026-11-24T06:02:00.000Z", "2026-11-24T06:28:00.000Z")
    ]
    assert r["per_customer"]["psn:a"]["double_staffing"] == 1


def test_unknown_and_retired_taps_are_anomalies_not_visits() -> None:
    r = build_report(
        [
            tap("s1", X, 0, anomalies=["unknown_tag"], state=None),
            tap("s1", B, 1, anomalies=["retired_tag"], state="retired"),
            tap("s1", A, 2),
            tap("s1", A, 32),
        ]
    )
    assert durations(r) == [("s1", A, 1800.0)]
    assert [(a["kind"], a["uid"]) for a in r["anomalies"]] == [
        ("unknown_tag", X),
        ("retired_tag", B),
    ]


def test_registry_state_alone_flags_an_anomaly_and_genuineness_does_not_block_pairing() -> None:
    r = build_report(
        [
            tap("s1", B, 0, state="issued"),
            tap("s1", A, 1, anomalies=["not_genuine"]),
            tap("s1", A, 31),
        ]
    )
    assert [a["kind"] for a in r["anomalies"]] == ["issued", "not_genuine"]
    assert durations(r) == [("s1", A, 1800.0)]


def test_events_without_registry_pair_by_tag() -> None:
    r = build_report([tap("s1", X, 0, state=None), tap("s1", X, 10, state=None)])
    assert r["visits"][0]["customer"] == f"tag:{X}" and r["anomalies"] == []


def test_totals_per_customer_and_provider() -> None:
    r = build_report(
        [tap("s1", A, 0), tap("s1", A, 30), tap("s2", B, 0), tap("s2", B, 15), tap("s2", A, 60)]
    )
    assert r["per_customer"]["psn:a"] == {
        "visits": 2,
        "seconds": 1800.0,
        "missing_end": 1,
        "double_staffing": 0,
        "anomalies": 0,
        "provider": "P-01",
    }
    assert r["per_provider"]["P-01"]["visits"] == 3
    assert r["per_provider"]["P-01"]["seconds"] == 2700.0


def test_arrival_order_does_not_matter() -> None:
    events = [
        tap("s1", A, 0),
        tap("s1", B, 45),
        tap("s1", B, 75),
        tap("s2", A, 3),
        tap("s2", A, 20),
    ]
    assert build_report(events) == build_report(list(reversed(events)))


def test_the_report_names_anomalies_as_the_events_do_with_no_aliases() -> None:
    r = build_report(
        [
            tap("s1", X, 0, anomalies=["unknown_tag"], state=None),
            tap("s1", B, 1, anomalies=["retired_tag"], state="retired"),
            tap("s1", A, 2, anomalies=["registry_unavailable"], state=None),
            tap("s1", A, 32, state=None),
        ]
    )
    kinds = ["unknown_tag", "retired_tag", "registry_unavailable"]
    assert [a["kind"] for a in r["anomalies"]] == kinds
    assert durations(r) == [("s1", A, 1800.0)]  # an unavailable registry does not lose a visit
