"""Plausibility in the receiver's report: each rule on a few hand-made events (and the
look-alikes it must leave alone). A generated district day with one of each pattern planted,
replayed into a real receiver, is in tests/integration/test_district_days.py."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from nfcbridge.receiver.plausibility import Limits
from nfcbridge.receiver.report import build_report
from nfcbridge.receiver.store import EventStore
from nfcbridge.rig.scenario_parser import parse_scenario
from nfcbridge.rig.truth import expected_report

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
A, B, C = "04000000000001", "04000000000002", "04000000000003"
CUSTOMER = {A: "ext:a", B: "ext:b", C: "ext:c"}
_ids = itertools.count(1)


def tap(reader: str, uid: str, minutes: float, *, station: str = "rig", **registry: object):
    facts = {"state": "active", "customer": CUSTOMER.get(uid), "provider": "P-1", **registry}
    return {
        "schema": "nfcbridge.tap/1",
        "event_id": f"e{next(_ids)}",
        "station": station,
        "reader": reader,
        "seq": next(_ids),
        "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "tag": {"uid": uid},
        "registry": facts,
        "origin": "simulated",
        "anomalies": [],
    }


def found(events: list[dict], limits: Limits | None = None) -> list[tuple[str, str]]:
    return [(f["kind"], f["uid"]) for f in build_report(events, limits=limits)["plausibility"]]


def test_one_reader_at_two_doors_a_minute_apart_is_impossible_travel():
    events = [tap("s1", A, 0), tap("s1", A, 20), tap("s1", B, 21), tap("s1", B, 40)]
    (finding,) = build_report(events)["plausibility"]
    assert (finding["kind"], finding["uid"], finding["reader"]) == ("impossible_travel", A, "s1")
    assert [t["event_id"] for t in finding["taps"]] == [
        events[1]["event_id"],
        events[2]["event_id"],
    ]
    assert found(events, Limits(min_travel=30)) == []  # a configurable minimum


def test_a_joint_visit_to_cohabitants_and_a_normal_walk_are_not_travel():
    joint = [tap("s1", A, 0), tap("s1", B, 1), tap("s1", A, 30), tap("s1", B, 30.3)]
    walk = [tap("s2", C, 0), tap("s2", C, 20), tap("s2", A, 60), tap("s2", A, 80)]
    assert found(joint + walk) == []


def test_households_in_the_registry_decide_what_is_a_joint_visit():
    two_homes = [tap("s1", A, 0, household="H1"), tap("s1", B, 1, household="H2")]
    assert found(two_homes) == [("impossible_travel", A)]
    one_home = [tap("s1", A, 0, household="H1"), tap("s1", B, 1, household="H1")]
    assert found(one_home) == []


def test_the_same_tag_at_two_stations_closer_than_travel_allows():
    events = [tap("desk", A, 0, station="north"), tap("desk", A, 1, station="south")]
    assert found(events) == [("impossible_travel", A)]
    far = [tap("desk", A, 0, station="north"), tap("desk", A, 30, station="south")]
    assert ("impossible_travel", A) not in found(far)


def test_a_start_left_open_longer_than_a_working_day():
    events = [tap("s1", A, 0), tap("s2", B, 0), tap("s2", B, 30), tap("s2", C, 9 * 60)]
    (finding,) = [f for f in build_report(events)["plausibility"] if f["kind"] == "open_too_long"]
    assert (finding["uid"], finding["reader"]) == (A, "s1")
    assert "open_too_long" not in [k for k, _ in found(events, Limits(working_day=10 * 3600))]
    ongoing = [tap("s1", A, 0), tap("s2", B, 60)]  # the newest event is an hour later
    assert found(ongoing) == []


def test_more_taps_on_a_tag_in_a_day_than_visits_explain():
    many = [tap("s1", A, k * 10) for k in range(6)]
    assert found(many, Limits(max_taps_per_day=6)) == []
    assert found([*many, tap("s1", A, 70)], Limits(max_taps_per_day=6)) == [("too_many_taps", A)]


def test_taps_after_retirement_before_attachment_or_on_ended_and_locked_customers():
    events = [
        tap("s1", A, 0, state="retired"),
        tap("s1", A, 5, state="retired"),
        tap("s1", B, 10, state="issued", customer=None),
        tap("s2", C, 20, customer_status="ended"),
        tap("s3", A, 200, customer_status="lock"),
    ]
    events[0]["anomalies"] = events[1]["anomalies"] = ["retired_tag"]
    findings = build_report(events)["plausibility"]
    assert [(f["kind"], f["uid"], len(f["taps"])) for f in findings] == [
        ("after_retired", A, 2),
        ("before_attached", B, 1),
        ("customer_ended", C, 1),
        ("digital_lock", A, 1),
    ]


ISSUED = [
    '{"kind": "scenario", "version": 1, "name": "new sticker", "start": "2026-11-24T06:00:00Z"}',
    '{"kind": "provider", "id": "P-01"}',
    '{"kind": "customer", "id": "C-1", "provider": "P-01"}',
    '{"kind": "tag", "uid": "04A1B2C3D4E5F6", "customer": "C-1"}',
    '{"kind": "tag", "uid": "04A1B2C3D4E5F9", "state": "issued", "customer": "C-1"}',
    '{"kind": "staff", "id": "S-1", "provider": "P-01"}',
    '{"kind": "tap", "staff": "S-1", "tag": "04A1B2C3D4E5F9", "t": "01:00"}',
]


def test_an_issued_tag_is_a_scenario_state_seeded_as_picked_up_but_not_attached(registry_url):
    from nfcbridge.rig.scenario import ScenarioError
    from nfcbridge.rig.seed import seed_registry
    from provisioning.registry import Registry

    day = parse_scenario("\n".join(ISSUED))
    assert expected_report(day)["anomalies"][0]["kind"] == "not_attached"
    with pytest.raises(ScenarioError, match="issued tag needs the customer"):
        parse_scenario(
            "\n".join([*ISSUED[:4], '{"kind": "tag", "uid": "04A1B2C3D4E5F9", "state": "issued"}'])
        )
    with Registry.open(registry_url) as reg:
        first = seed_registry(reg, day, operator="rig")
        again = seed_registry(reg, day, operator="rig")
        record = reg.tag("04A1B2C3D4E5F9")
    assert (first.added["issued"], again.existing["issued"]) == (1, 1)
    assert (record.state, record.provider, record.customer) == ("issued", "P-01", None)


def test_receiver_report_cli_takes_the_limits_and_prints_the_taps_behind_a_finding(tmp_path):
    import json

    from click.testing import CliRunner

    from nfcbridge.cli.main import cli

    store = EventStore(tmp_path / "rx.db")
    for event in [tap("s1", A, 0), tap("s1", A, 20), tap("s1", B, 21), tap("s1", B, 40)]:
        store.add(event)
    store.close()
    db = str(tmp_path / "rx.db")
    text = CliRunner().invoke(cli, ["receiver", "report", "--db", db]).output
    assert "implausible 1" in text and "impossible_travel: 04000000000001" in text
    assert text.count("    tap ") == 2
    relaxed = CliRunner().invoke(
        cli, ["receiver", "report", "--db", db, "--min-travel", "30", "--json"]
    )
    assert json.loads(relaxed.output)["plausibility"] == []
