"""Timing rules: a scenario whose taps would pair differently from its visit records is
refused with the line at fault."""

from __future__ import annotations

import json

import pytest

from nfcbridge.rig.scenario import ScenarioError
from nfcbridge.rig.scenario_parser import parse_scenario

BASE: list[dict[str, object]] = [
    {"kind": "scenario", "version": 1, "name": "t", "start": "2026-11-24T06:00:00Z"},
    {"kind": "provider", "id": "P-01"},
    {"kind": "customer", "id": "C-1", "provider": "P-01", "household": "H-1"},
    {"kind": "customer", "id": "C-2", "provider": "P-01", "household": "H-1"},
    {"kind": "tag", "uid": "04A1B2C3D4E5F6", "customer": "C-1"},
    {"kind": "tag", "uid": "04A1B2C3D4E5F7", "customer": "C-2"},
    {"kind": "staff", "id": "S-1", "provider": "P-01"},
]


def text(*records: dict[str, object]) -> str:
    return "\n".join(json.dumps(r) for r in [*BASE, *records]) + "\n"


A, B = "04A1B2C3D4E5F6", "04A1B2C3D4E5F7"  # cohabitants C-1 and C-2 (household H-1)
LINE = len(BASE) + 1


def visit(tag: str, start: float, end: float | None, staff: str = "S-1", **extra: object) -> dict:
    return {"kind": "visit", "staff": staff, "tag": tag, "start": start, "end": end, **extra}


OTHER = [
    {"kind": "customer", "id": "C-3", "provider": "P-01"},
    {"kind": "tag", "uid": "04000000000003", "customer": "C-3"},
    {"kind": "staff", "id": "S-2", "provider": "P-01"},
]


def test_joint_visit_to_cohabitants_may_overlap() -> None:
    s = parse_scenario(text(visit(A, 0, 1800), visit(B, 20, 1820)))
    assert len(s.visits) == 2


def test_overlapping_visits_at_two_households_are_refused() -> None:
    with pytest.raises(ScenarioError, match=rf":{LINE + 4}: overlaps staff S-1's visit"):
        parse_scenario(text(*OTHER, visit(A, 0, 1800), visit("04000000000003", 900, 2000)))


def test_joint_visit_starting_outside_the_window_is_refused() -> None:
    with pytest.raises(ScenarioError, match="overlaps"):
        parse_scenario(text(visit(A, 0, 1800), visit(B, 500, 1820)))


def test_taps_of_one_phone_must_not_overlap() -> None:
    with pytest.raises(ScenarioError, match="before the tap of line"):
        parse_scenario(text(visit(A, 0, 1800, hold_start=60), visit(B, 30, 1820)))


def test_two_staff_on_one_customer_is_allowed() -> None:
    s = parse_scenario(text(*OTHER, visit(A, 0, 1800), visit(A, 60, 1700, staff="S-2")))
    assert len(s.visits) == 2


def test_missed_end_that_the_next_tap_would_close_is_refused() -> None:
    with pytest.raises(ScenarioError, match=rf":{LINE}: missed end tap"):
        parse_scenario(text(visit(A, 0, None), visit(A, 3600, 5400)))


def test_missed_end_closed_by_a_visit_elsewhere_is_accepted() -> None:
    s = parse_scenario(
        text(*OTHER, visit(A, 0, None), visit("04000000000003", 2400, 3600), visit(A, 7200, 9000))
    )
    assert [v.end for v in s.visits] == [None, 3600.0, 9000.0]
