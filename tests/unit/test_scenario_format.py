"""Scenario files: the documented format parses, and every malformed file is refused with one
line naming the line and the field at fault."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nfcbridge.cli.main import cli
from nfcbridge.rig.scenario import ScenarioError, scenario_lines
from nfcbridge.rig.scenario_parser import load_scenario, parse_scenario
from tests.support.scenarios import BASE, HEADER
from tests.support.scenarios import scenario_text as text


def test_documented_example_parses_into_taps_in_time_order() -> None:
    s = parse_scenario(
        "# a comment\n\n"
        + text(
            {
                "kind": "visit",
                "staff": "S-1",
                "tag": "04A1B2C3D4E5F6",
                "start": "01:00",
                "end": "01:30:00",
            },
            {"kind": "tap", "staff": "S-1", "tag": "04EE00112233BB", "t": 3000},
        )
    )
    taps = s.taps()
    assert [(t.t, t.role, t.uid) for t in taps] == [
        (3000.0, "lone", "04EE00112233BB"),
        (3600.0, "start", "04A1B2C3D4E5F6"),
        (5400.0, "end", "04A1B2C3D4E5F6"),
    ]
    assert taps[0].reader == "s-1"  # default reader name: the staff id lower-cased
    assert s.at(3600).isoformat() == "2026-11-24T07:00:00+00:00"


def test_generated_lines_read_back_to_the_same_scenario() -> None:
    s = parse_scenario(
        text(
            {
                "kind": "visit",
                "staff": "S-1",
                "tag": "04A1B2C3D4E5F6",
                "start": 60,
                "end": None,
                "hold_start": 30,
            }
        )
    )
    again = parse_scenario("\n".join(scenario_lines(s)))
    assert again.visits == [
        v.__class__(**{**v.__dict__, "line": again.visits[0].line}) for v in s.visits
    ]
    assert again.tags == s.tags and again.staff == s.staff and again.customers == s.customers


@pytest.mark.parametrize(
    ("record", "where"),
    [
        (
            {"kind": "visit", "staff": "S-9", "tag": "04A1B2C3D4E5F6", "start": 0, "end": 60},
            "field 'staff'",
        ),
        (
            {
                "kind": "visit",
                "staff": "S-1",
                "tag": "04A1B2C3D4E5F6",
                "start": "7 o'clock",
                "end": 60,
            },
            "field 'start'",
        ),
        ({"kind": "visit", "staff": "S-1", "tag": "04A1B2C3D4E5F6", "start": 0}, "field 'end'"),
        (
            {"kind": "visit", "staff": "S-1", "tag": "04A1B2C3D4E5F6", "start": 100, "end": 50},
            "field 'end'",
        ),
        (
            {"kind": "visit", "staff": "S-1", "tag": "04EE00112233BB", "start": 0, "end": 60},
            "field 'tag'",
        ),
        ({"kind": "tap", "staff": "S-1", "tag": "04A1B2C3D4E5F6", "t": 5}, "field 'tag'"),
        ({"kind": "tag", "uid": "04A1B2C3", "customer": "C-1"}, "field 'uid'"),
        ({"kind": "tag", "uid": "04A1B2C3D4E5F6", "state": "retired"}, "field 'uid'"),
        ({"kind": "tag", "uid": "04000000000001", "customer": "C-1"}, "field 'customer'"),
        ({"kind": "tag", "uid": "04000000000001", "state": "lost"}, "field 'state'"),
        ({"kind": "staff", "id": "S-2", "provider": "P-01", "reader": "s-1"}, "field 'reader'"),
        ({"kind": "staff", "id": "S 2", "provider": "P-01"}, "field 'id'"),
        ({"kind": "customer", "id": "C-3", "provider": "P-01", "colour": "red"}, "field 'colour'"),
        ({"kind": "door", "id": "x"}, "field 'kind'"),
        (
            {"kind": "visit", "staff": "S-1", "tag": "04A1B2C3D4E5F6", "start": True, "end": 9},
            "field 'start'",
        ),
    ],
)
def test_malformed_record_names_its_line_and_field(record: dict[str, object], where: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text(record), "day.jsonl")
    message = str(info.value)
    assert message.startswith(f"day.jsonl:{len(BASE) + 1}: ")
    assert where in message
    assert "\n" not in message


def test_broken_json_names_the_line() -> None:
    with pytest.raises(ScenarioError, match=r"^s\.jsonl:3: not valid JSON"):
        parse_scenario(json.dumps(HEADER) + '\n\n{"kind": "provider", \n', "s.jsonl")


def test_header_must_come_first_and_have_a_zone() -> None:
    with pytest.raises(ScenarioError, match=r":1: field 'kind'"):
        parse_scenario(json.dumps({"kind": "provider", "id": "P"}))
    with pytest.raises(ScenarioError, match=r":1: field 'start'.*zone"):
        parse_scenario(json.dumps({**HEADER, "start": "2026-11-24T06:00:00"}))
    with pytest.raises(ScenarioError, match="empty scenario"):
        parse_scenario("# nothing\n")


def test_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "nope.jsonl")


def test_cli_validate_prints_one_line_and_exits_3(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        text({"kind": "visit", "staff": "S-1", "tag": "04FFFFFFFFFFFF", "start": 0, "end": 60})
    )
    result = CliRunner().invoke(cli, ["rig", "validate", str(bad)])
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines() if result.stderr else result.output.splitlines()
    assert len(lines) == 1
    assert f"bad.jsonl:{len(BASE) + 1}: field 'tag'" in lines[0]


def test_cli_validate_summarises_a_good_file(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(
        text({"kind": "visit", "staff": "S-1", "tag": "04A1B2C3D4E5F6", "start": 0, "end": 600})
    )
    result = CliRunner().invoke(cli, ["rig", "validate", str(good), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["visits"] == 1 and summary["taps"] == 2 and summary["households"] == 1
