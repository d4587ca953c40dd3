"""The district-day generator: the day follows the domain rules, the planted anomalies are
there, and the ground truth is what pairing the day's own taps gives."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict

import pytest

from nfcbridge.receiver.pairing import JOINT_WINDOW
from nfcbridge.rig.generator import DayParameters, generate_day
from nfcbridge.rig.scenario import Scenario, scenario_lines
from nfcbridge.rig.scenario_parser import parse_scenario
from nfcbridge.rig.truth import expected_report

SMALL = DayParameters(
    customers=120, staff=30, visits_per_customer=3.0, double_staffing=0.05, anomalies=0.05, seed=11
)


@pytest.fixture(scope="module")
def day() -> Scenario:
    return generate_day(SMALL)


def test_every_customer_has_exactly_one_active_tag_cohabitants_included(day: Scenario) -> None:
    active = Counter(t.customer for t in day.tags.values() if t.state == "active")
    assert set(active) == set(day.customers)
    assert set(active.values()) == {1}
    households = Counter(c.household for c in day.customers.values())
    assert 2 in households.values()  # there are cohabitants, each with their own tag


def test_visit_count_follows_the_parameters(day: Scenario) -> None:
    truth = expected_report(day)
    single = len(truth["visits"]) - len(truth["double_staffing"])
    assert single == pytest.approx(SMALL.customers * SMALL.visits_per_customer, rel=0.05)


def test_one_staff_members_visits_never_overlap_except_joint_visits(day: Scenario) -> None:
    by_staff = defaultdict(list)
    for v in day.visits:
        by_staff[v.staff].append(v)
    for visits in by_staff.values():
        visits.sort(key=lambda v: v.start)
        for a, b in itertools.pairwise(visits):
            household = {day.customers[day.tags[x.tag].customer].household for x in (a, b)}
            if len(household) == 1 and b.start - a.start <= JOINT_WINDOW:
                continue  # both doors of one household
            a_end = a.end if a.end is not None else a.start
            assert b.start - a_end >= 5 * 60, "travel time between visits"


def test_a_households_visits_overlap_only_when_double_staffed(day: Scenario) -> None:
    truth = expected_report(day)
    doubles = {(d["uid"], tuple(d["readers"])) for d in truth["double_staffing"]}
    by_tag = defaultdict(list)
    for v in day.visits:
        by_tag[v.tag].append(v)
    for tag, visits in by_tag.items():
        visits.sort(key=lambda v: v.start)
        for a, b in itertools.pairwise(visits):
            if a.end is not None and b.start < a.end:
                pair = tuple(sorted([day.reader_of(a.staff), day.reader_of(b.staff)]))
                assert (tag, pair) in doubles


def test_double_staffing_is_two_staff_of_the_same_provider(day: Scenario) -> None:
    truth = expected_report(day)
    assert len(truth["double_staffing"]) >= 0.03 * SMALL.customers * SMALL.visits_per_customer
    staff_by_reader = {s.reader: s for s in day.staff.values()}
    for d in truth["double_staffing"]:
        a, b = (staff_by_reader[r] for r in d["readers"])
        assert a.id != b.id and a.provider == b.provider
        customer = day.tags[d["uid"]].customer
        assert day.customers[customer].provider == a.provider


def test_every_anomaly_kind_is_planted(day: Scenario) -> None:
    planted = Counter(p["kind"] for p in expected_report(day)["planted"])
    assert set(planted) == {"missed_end", "held", "unknown", "retired"}
    assert sum(planted.values()) == round(SMALL.anomalies * SMALL.customers * 3)
    states = Counter(t.state for t in day.tags.values())
    assert states["unknown"] == planted["unknown"] and states["retired"] == planted["retired"]


def test_same_seed_same_day_other_seed_other_day() -> None:
    assert scenario_lines(generate_day(SMALL)) == scenario_lines(generate_day(SMALL))
    other = DayParameters(**{**SMALL.__dict__, "seed": 12})
    assert scenario_lines(generate_day(other)) != scenario_lines(generate_day(SMALL))


def test_the_written_day_passes_the_parser_and_its_rules(day: Scenario) -> None:
    again = parse_scenario("\n".join(scenario_lines(day)))
    assert len(again.visits) == len(day.visits) and len(again.taps()) == len(day.taps())


def test_too_few_staff_is_refused() -> None:
    with pytest.raises(ValueError):
        generate_day(DayParameters(customers=3, staff=1))
