"""Scenario files and `rig generate` options are untrusted input with bounded values: each
case here raised an uncaught exception, or validated and failed halfway through a replay, or
grew memory without bound, on an earlier main (issue 10)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from nfcbridge.cli.main import cli
from nfcbridge.rig.generator import DayParameters, generate_day
from nfcbridge.rig.scenario import ScenarioError
from nfcbridge.rig.scenario_parser import parse_scenario
from tests.support.scenarios import BASE, HEADER
from tests.support.scenarios import scenario_text as text

VISIT = {"kind": "visit", "staff": "S-1", "tag": "04A1B2C3D4E5F6", "start": 60, "end": 600}


@pytest.mark.parametrize(
    "line",
    [
        '{"kind": "visit", "staff": "S-1", "tag": "04A1B2C3D4E5F6", "start": NaN, "end": 600}',
        '{"kind": "visit", "staff": "S-1", "tag": "04A1B2C3D4E5F6", "start": 60, "end": Infinity}',
        '{"kind": "visit", "staff": "S-1", "tag": "04A1B2C3D4E5F6", "start": 1e12, "end": null}',
        '{"kind": "visit", "staff": "S-1", "tag": "04A1B2C3D4E5F6", "start": 1e400, "end": null}',
        '{"kind": "visit", "staff": "S-1", "tag": "04A1B2C3D4E5F6", "start": 6, "end": 1'
        + "0" * 400
        + "}",
        '{"kind": "visit", "staff": "S-1", "tag": "04A1B2C3D4E5F6", "start": "'
        + "9" * 5000
        + ':00", "end": null}',
        '{"kind": "visit", "staff": "S-1", "tag": "04A1B2C3D4E5F6", "start": 6, "end": 600, '
        '"hold_start": NaN}',
        '{"kind": "visit", "staff": "S-1", "tag": "04A1B2C3D4E5F6", "start": 6, "end": 600, '
        '"hold_end": 1e300}',
        '{"kind": "provider", "id": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"kind": "provider", "id": "P-2", "note": ' + "1" * 5000 + "}",
    ],
)
def test_bad_numbers_and_nesting_are_scenario_errors_naming_the_line(line: str) -> None:
    with pytest.raises(ScenarioError, match=r"<scenario>:9: "):
        parse_scenario(text() + line + "\n")


@pytest.mark.parametrize(
    "start", ["9999-12-31T23:00:00Z", "0001-01-01T00:00:00+01:00", "1970-01-01T00:00:00Z"]
)
def test_a_start_outside_the_plausible_years_is_refused(start: str) -> None:
    base = [{**HEADER, "start": start}, *BASE[1:]]
    with pytest.raises(ScenarioError, match="'start'"):
        parse_scenario(text(VISIT, base=base))


def test_an_unknown_product_is_refused_at_validation() -> None:
    tag = {"kind": "tag", "uid": "04EE00112233CC", "state": "unknown", "product": "NTAG999"}
    with pytest.raises(ScenarioError, match=r":9: field 'product'"):
        parse_scenario(text(tag))
    ok = {**tag, "product": "ntag216"}
    assert parse_scenario(text(ok)).tags["04EE00112233CC"].product == "NTAG216"


def test_cli_validate_of_a_year_9999_scenario_is_exit_3(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    base = [{**HEADER, "start": "9999-12-31T23:59:00Z"}, *BASE[1:]]
    path.write_text(text({**VISIT, "start": 86400 * 2, "end": 86400 * 3}, base=base))
    result = CliRunner().invoke(cli, ["rig", "validate", str(path)])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("option", [("--visits-per-customer", "1e9"), ("--customers", "100000000")])
def test_generate_refuses_unbounded_sizes(tmp_path: Path, option: tuple[str, str]) -> None:
    result = CliRunner().invoke(
        cli, ["rig", "generate", *option, "--out", str(tmp_path / "day.jsonl")]
    )
    assert result.exit_code == 2 and "range" in result.output
    assert not (tmp_path / "day.jsonl").exists()


@pytest.mark.parametrize(
    "params",
    [
        DayParameters(customers=2, staff=2, visits_per_customer=float("nan")),
        DayParameters(customers=2, staff=2, visits_per_customer=1e9),
        DayParameters(customers=2, staff=2, start="9999-12-31T23:00:00Z"),
        DayParameters(customers=2, staff=2, start="2026-11-24T06:00:00"),
    ],
)
def test_generate_day_checks_its_parameters(params: DayParameters) -> None:
    with pytest.raises(ValueError):
        generate_day(params)


def test_generate_with_a_year_9999_start_is_exit_3(tmp_path: Path) -> None:
    out = tmp_path / "day.jsonl"
    args = ["--customers", "2", "--staff", "2", "--start", "9999-12-31T23:00Z"]
    result = CliRunner().invoke(cli, ["rig", "generate", *args, "--out", str(out)])
    assert result.exit_code == 3, result.output
    assert not out.exists()
