"""Scenario records for the municipal process: ended customers, locks, manual registrations."""

from __future__ import annotations

import pytest

from nfcbridge.rig.scenario import ScenarioError, scenario_lines
from nfcbridge.rig.scenario_parser import parse_scenario

HEAD = (
    '{"kind": "scenario", "version": 1, "name": "t", "start": "2026-11-24T06:00:00Z"}\n'
    '{"kind": "provider", "id": "P"}\n'
    '{"kind": "customer", "id": "C", "provider": "P", "end_reason": "moved_away",'
    ' "ended_on": "2026-11-01"}\n'
    '{"kind": "customer", "id": "L", "provider": "P", "lock_installed": "2026-10-01"}\n'
    '{"kind": "tag", "uid": "04000000000001", "customer": "C"}\n'
    '{"kind": "staff", "id": "S", "provider": "P"}\n'
)


def test_a_visit_on_an_ended_customers_tag_is_refused_but_a_lone_tap_is_an_anomaly():
    with pytest.raises(ScenarioError, match=r":7: field 'tag': .*ended customer's door"):
        parse_scenario(
            HEAD + '{"kind": "visit", "staff": "S", "tag": "04000000000001", "start": 10,'
            ' "end": 100}\n'
        )
    s = parse_scenario(HEAD + '{"kind": "tap", "staff": "S", "tag": "04000000000001", "t": 5}\n')
    assert (s.customers["C"].end_reason, s.customers["L"].lock_installed) == (
        "moved_away",
        "2026-10-01",
    )


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ('"side": "middle", "reason": "technical_fault", "note": "x"', "must be start or end"),
        ('"side": "start", "reason": "forgot", "note": "x"', "'forgot' is not one of"),
        ('"side": "start", "reason": "technical_fault"', "field 'note': missing"),
    ],
)
def test_a_bad_manual_record_names_its_line_and_field(record: str, problem: str):
    line = '{"kind": "manual", "staff": "S", "customer": "L", "t": 60, ' + record + "}\n"
    with pytest.raises(ScenarioError, match=problem):
        parse_scenario(HEAD + line)


def test_a_scenario_with_the_new_records_reads_back_what_it_wrote():
    s = parse_scenario(
        HEAD + '{"kind": "manual", "staff": "S", "customer": "L", "side": "end", "t": "00:01",'
        ' "reason": "ended_outside", "note": "outside"}\n'
    )
    again = parse_scenario("\n".join(scenario_lines(s)))
    assert again.manual == s.manual and again.customers == s.customers
