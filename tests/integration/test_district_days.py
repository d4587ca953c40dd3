"""Whole district days, each a few seconds: a generated day replayed standalone through the
daemon's pipeline into a real receiver, whose report equals the ground truth and finds
exactly the planted implausible patterns; and the truth equal to pairing the day's own taps,
each enriched from a registry seeded with the day. (The generator's and the report's rules
on small inputs are in the unit tier: tests/unit/test_generator.py, test_plausibility.py,
test_scenario_replay.py.)"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from nfcbridge.pipeline import classify
from nfcbridge.receiver.report import build_report
from nfcbridge.receiver.server import ReceiverHTTPServer
from nfcbridge.rig.generator import DayParameters, generate_day
from nfcbridge.rig.implausible import plant_implausible
from nfcbridge.rig.replay import replay
from nfcbridge.rig.scenario import scenario_lines
from nfcbridge.rig.scenario_parser import parse_scenario
from nfcbridge.rig.seed import seed_registry
from nfcbridge.rig.standalone import Station, webhook
from nfcbridge.rig.truth import compare, expected_report
from provisioning.registry import Registry
from tests.support.receiver_events import running_receiver

# The unit tier's day (tests/unit/test_generator.py), three seeds.
SMALL = DayParameters(
    customers=120, staff=30, visits_per_customer=3.0, double_staffing=0.05, anomalies=0.05, seed=11
)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[ReceiverHTTPServer, Path]]:
    """The reference receiver, and the file holding its webhook secret."""
    with running_receiver(tmp_path) as running:
        yield running


def test_a_district_day_with_planted_patterns_reports_exactly_those(receiver) -> None:
    srv, secret_file = receiver
    day = generate_day(
        DayParameters(customers=24, staff=6, anomalies=0.2, double_staffing=0.1, seed=5)
    )
    planted = plant_implausible(day)
    day = parse_scenario("\n".join(scenario_lines(day)))  # the format carries every pattern
    with Station(day, webhook(srv.url, secret_file), retap_window=0.0) as station:
        result = replay(day, station, speed=1000, max_idle=0.02, min_hold=0.02, retap_gap=0.05)
    assert result.errors == []
    report = build_report(srv.store.events())
    truth = expected_report(day)
    assert compare(truth, report) == []
    retired_taps = {
        ("after_retired", lt.tag, None)
        for lt in day.lone_taps
        if day.tags[lt.tag].state == "retired"
    }
    want = {(p["kind"], p["uid"], p["reader"]) for p in planted} | retired_taps
    got = [(f["kind"], f["uid"], f["reader"]) for f in report["plausibility"]]
    assert len(got) == len(set(got)) and set(got) == want
    assert {k for k, _, _ in got} == {
        "impossible_travel",
        "open_too_long",
        "too_many_taps",
        "after_retired",
        "before_attached",
    }


def test_standalone_replay_at_high_speed_reports_exactly_the_ground_truth(
    receiver: tuple[ReceiverHTTPServer, Path],
) -> None:
    srv, secret_file = receiver
    day = generate_day(
        DayParameters(customers=24, staff=6, anomalies=0.2, double_staffing=0.1, seed=5)
    )
    with Station(day, webhook(srv.url, secret_file), retap_window=0.0) as station:
        result = replay(day, station, speed=1000, max_idle=0.02, min_hold=0.02, retap_gap=0.05)
    assert result.errors == []
    events = srv.store.events()
    assert len(events) == result.taps == len(day.taps())
    assert {e["origin"] for e in events} == {"simulated"}
    report = build_report(events)
    assert report["gaps"] == []
    assert compare(expected_report(day), report) == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pairing_the_days_taps_gives_exactly_the_ground_truth(seed: int, tmp_path) -> None:
    """The truth comes from the visit records; the report pairs the taps: they must agree.
    Each tap is enriched as the daemon does it, from a registry seeded with the day."""
    s = generate_day(dataclasses.replace(SMALL, seed=seed))
    registry = Registry.open(f"sqlite:///{tmp_path / 'rig.db'}")
    seed_registry(registry, s, operator="test")
    seqs: Counter[str] = Counter()
    events = []
    for tap in s.taps():
        seqs[tap.reader] += 1
        enrichment = classify(registry.tap_context(bytes.fromhex(tap.uid)))
        facts = enrichment.registry
        registry_block = None if facts is None else facts.__dict__
        anomalies = list(enrichment.anomalies)
        events.append(
            {
                "event_id": str(uuid.uuid4()),
                "station": "rig",
                "reader": tap.reader,
                "seq": seqs[tap.reader],
                "occurred_at": s.at(tap.t).isoformat(),
                "tag": {"uid": tap.uid},
                "registry": registry_block,
                "anomalies": anomalies,
                "origin": "simulated",
            }
        )
    registry.close()
    assert compare(expected_report(s), build_report(events)) == []
