"""Scenario files are hand-written input: any lines after a header give a scenario or one
``ScenarioError`` naming the line; an accepted scenario plans its taps and writes itself
back as lines that read back to the same taps."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from nfcbridge.rig.scenario import ScenarioError, scenario_lines
from nfcbridge.rig.scenario_parser import parse_scenario
from tests.support.scenarios import BASE

NUMBERS = st.integers(-10, 10**6) | st.floats(allow_nan=True, allow_infinity=True)
TIMES = NUMBERS | st.sampled_from(["01:00", "25:59:59.5", "99:99", "1e12", "999999999:00"])
VALUES: dict[str, Any] = {
    "kind": st.sampled_from(["visit", "tap", "tag", "customer", "staff", "provider", "x"]),
    "staff": st.sampled_from(["S-1", "S-2", "", "x" * 70]),
    "tag": st.sampled_from(["04A1B2C3D4E5F6", "04A1B2C3D4E5F7", "04EE00112233BB", "zz"]),
    "start": TIMES,
    "end": TIMES | st.none(),
    "t": TIMES,
    "hold": NUMBERS,
    "hold_start": NUMBERS,
    "hold_end": NUMBERS,
    "uid": st.sampled_from(["04CC00112233CC", "04:CC:00:11:22:33:CD", "04", "xyz"]),
    "state": st.sampled_from(["active", "retired", "unknown", "lost"]),
    "product": st.sampled_from(["NTAG213", "ntag216", "NTAG999", "MF0UL11"]),
    "customer": st.sampled_from(["C-1", "C-2", "C-9"]),
    "id": st.sampled_from(["P-01", "P-02", "C-3", "S-2", "bad id"]),
    "provider": st.sampled_from(["P-01", "P-02"]),
    "note": st.text(max_size=10),
}
RECORDS = st.fixed_dictionaries(
    {"kind": VALUES["kind"]}, optional={k: v for k, v in VALUES.items() if k != "kind"}
)


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record)  # NaN and Infinity go out as the non-JSON tokens they are


@given(st.lists(RECORDS.map(_line) | st.text(max_size=30), max_size=8))
@example(['{"kind": "visit", "staff": "S-1", "tag": "04A1B2C3D4E5F6", "start": NaN, "end": 9}'])
@example(['{"kind": "tag", "uid": "04CC00112233CC", "state": "unknown", "product": "NTAG999"}'])
@example(['{"kind": "provider", "id": ' + "[" * 3000 + "]" * 3000 + "}"])
def test_any_lines_give_a_scenario_or_one_scenario_error(lines: list[str]) -> None:
    text = "\n".join([*(json.dumps(r) for r in BASE), *lines]) + "\n"
    try:
        scenario = parse_scenario(text)
    except ScenarioError as exc:
        assert str(exc).startswith("<scenario>")
        assert "\n" not in str(exc)
        return
    taps = scenario.taps()
    again = parse_scenario("\n".join(scenario_lines(scenario)) + "\n")
    assert [(t.uid, t.reader, t.role) for t in again.taps()] == [
        (t.uid, t.reader, t.role) for t in taps
    ]
    assert all(scenario.at(t.t) for t in taps)
