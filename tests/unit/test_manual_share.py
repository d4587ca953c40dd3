"""The receiver and manual registrations: the event check, the manual list and each
provider's manual share per Swedish calendar month against the limit."""

from __future__ import annotations

import pytest

from nfcbridge.receiver.report import build_report, render_text
from nfcbridge.receiver.server import EventInvalid, check_event

_seq = iter(range(1, 10_000))


def tap(provider: str, at: str, uid: str = "04A1B2C3D4E5F6") -> dict:
    n = next(_seq)
    return {
        "schema": "nfcbridge.tap/1",
        "event_id": f"t{n}",
        "station": "st",
        "reader": f"r-{provider}",
        "seq": n,
        "occurred_at": at,
        "clock_synced": True,
        "tag": {"uid": uid, "product": None, "genuine": None},
        "registry": {"state": "active", "customer": "ext:c", "provider": provider},
        "origin": "reader",
        "anomalies": [],
    }


def manual(provider: str, at: str, kind: str = "start") -> dict:
    n = next(_seq)
    return {
        "schema": "nfcbridge.tap/1",
        "event_id": f"m{n}",
        "station": "st",
        "reader": "manual",
        "seq": n,
        "occurred_at": at,
        "clock_synced": False,
        "tag": None,
        "registry": {"state": "active", "customer": "ext:c", "provider": provider},
        "origin": "manual",
        "anomalies": [],
        "manual": {
            "kind": kind,
            "staff": "S-1",
            "customer": "ext:c",
            "reason": "technical_fault",
            "note_ref": "ref",
            "note_sha256": "0" * 64,
        },
    }


def test_a_provider_above_the_manual_limit_is_flagged_per_swedish_month():
    events = [tap("P-A", f"2026-05-0{d}T08:00:00.000Z") for d in range(1, 10)]
    events.append(manual("P-A", "2026-05-03T09:00:00.000Z"))  # 1 of 10: at the limit
    events += [tap("P-B", "2026-05-02T08:00:00.000Z"), manual("P-B", "2026-05-02T08:30:00.000Z")]
    events.append(manual("P-B", "2026-04-30T22:30:00.000Z"))  # 00:30 on 1 May in Sweden
    report = build_report(events)
    rows = {(r["month"], r["provider"]): r for r in report["manual_share"]}
    assert (rows[("2026-05", "P-A")]["share_percent"], rows[("2026-05", "P-A")]["over_limit"]) == (
        10.0,
        False,
    )
    assert (rows[("2026-05", "P-B")]["manual"], rows[("2026-05", "P-B")]["registrations"]) == (2, 3)
    assert rows[("2026-05", "P-B")]["over_limit"] is True
    assert len(report["manual"]) == 3
    assert all(v["reader"] != "manual" for v in report["visits"])  # never half a visit
    assert "2026-05 P-B: 2/3 = 66.7% (limit 10%)  ABOVE THE LIMIT" in render_text(report)


def test_the_receiver_accepts_a_manual_registration_and_refuses_one_with_its_note():
    event = manual("P-A", "2026-05-03T09:00:00.000Z")
    assert check_event(event, event["event_id"]) is event
    leaked = {**event, "manual": {**event["manual"], "note": "the whole story"}}
    with pytest.raises(EventInvalid, match="must not carry its note"):
        check_event(leaked, event["event_id"])
    with pytest.raises(EventInvalid, match="needs a 'manual' object"):
        check_event({**event, "manual": None}, event["event_id"])
    with pytest.raises(EventInvalid, match=r"tag\.uid"):
        plain = tap("P-A", "2026-05-03T09:00:00.000Z")
        check_event({**plain, "tag": None}, plain["event_id"])
