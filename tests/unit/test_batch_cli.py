"""``nfcbridge provision`` end to end on the mock reader and a real SQLite registry (click
runner): confirmation, dry run, one line per tag when not on a terminal, the JSON summary,
resuming a batch, configuration errors; the terminal progress line; the URI token."""

from __future__ import annotations

import io
import json
from pathlib import Path

import ndef
import pytest
from click.testing import Result

from nfcbridge.cli.progress import Progress
from provisioning.batch import BatchRunner
from provisioning.batch_results import TagResult
from provisioning.batch_token import check_template, new_token, render_uri, uri_message
from provisioning.registry import Registry
from tests.support.cli import cli_state, run_cli


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return cli_state(tmp_path, monkeypatch)


def run(*args: str, code: int = 0) -> Result:
    return run_cli(*args, operator="desk-dana", code=code)


def registry(state: Path) -> Registry:
    return Registry.open(f"sqlite:///{state / 'registry.db'}")


def test_provisioning_without_yes_is_refused_before_anything_opens(state: Path):
    result = run("provision", "--reader", "mock:c1?roll=ntag213", "--batch", "r1", code=9)
    assert "--yes" in result.stderr and "permanently locks" in result.stderr
    assert not (state / "registry.db").exists()


def test_a_roll_is_provisioned_with_one_line_per_tag_and_a_json_summary(state: Path):
    url = "mock:c2?roll=ntag213"
    result = run("provision", "--reader", url, "--batch", "r1", "--count", "4", "--yes", "--json")
    summary = json.loads(result.stdout)
    assert summary["run"]["provisioned"] == 4 and summary["run"]["tags"] == 4
    assert summary["batch_totals"] == {"provisioned": 4, "spoiled": 0, "attempts": 0}
    assert not summary["interrupted"] and not summary["resumed"]
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("provisioned")]
    assert [ln.split()[1] for ln in lines] == [t["uid"] for t in summary["tags"]]
    with registry(state) as reg:
        records = [reg.tag(t["uid"]) for t in summary["tags"]]
        assert {r.state for r in records} == {"in_stock"}
        assert {r.batch for r in records} == {"r1"}
        assert len({r.token for r in records}) == 4
        assert reg.verify_audit().ok


def test_running_the_same_command_again_resumes_the_batch_up_to_its_count(state: Path):
    url = "mock:c3?roll=ntag213"
    run("provision", "--reader", url, "--batch", "r1", "--count", "2", "--yes")
    again = run("provision", "--reader", url, "--batch", "r1", "--count", "5", "--yes", "--json")
    assert "resuming batch r1: 2 provisioned" in again.stderr and "3 to go" in again.stderr
    summary = json.loads(again.stdout)
    assert summary["resumed"] and summary["run"]["provisioned"] == 3
    assert summary["batch_totals"]["provisioned"] == 5
    done = run("provision", "--reader", url, "--batch", "r1", "--count", "5", "--yes", "--json")
    assert json.loads(done.stdout)["run"]["tags"] == 0  # already complete: no tag touched


def test_a_roll_that_runs_out_before_the_count_exits_5_and_can_be_resumed(state: Path):
    short = run(
        "provision", "--reader", "mock:c4?roll=ntag213&count=2", "--batch", "r2",
        "--count", "3", "--timeout", "0.05", "--yes", "--json", code=5,
    )  # fmt: skip
    assert json.loads(short.stdout)["batch_totals"]["provisioned"] == 2  # summary still printed
    assert json.loads(short.stderr.strip().splitlines()[-1]) == {  # --json: errors as JSON
        "error": {
            "code": 5,
            "message": "batch r2 holds 2 of 3 tags: no tag presented within 0.05 s; "
            "run the same command again to go on",
        }
    }
    run("provision", "--reader", "mock:c5?roll=ntag213", "--batch", "r2", "--count", "3", "--yes")


def test_a_dry_run_checks_tags_and_records_nothing(state: Path):
    url = "mock:c4?roll=ntag213&count=3"
    result = run("provision", "--reader", url, "--batch", "trial", "--dry-run", "--timeout", "0.05")
    assert result.stderr.count("checked") == 3
    assert "3 checked" in result.stdout
    with registry(state) as reg:
        assert reg.batch("trial") is None and reg.batches() == []


def test_refused_and_failed_tags_are_listed_with_their_reason(state: Path):
    url = "mock:c5?roll=ntag213&count=2&fault=remove@6"
    result = run("provision", "--reader", url, "--batch", "r1", "--yes", "--timeout", "0.05")
    first, second = [ln for ln in result.stderr.splitlines() if ln[:5] in ("retry", "provi")]
    assert first.startswith("retry") and "present it again" in first
    assert second.startswith("provisioned")
    assert "1 provisioned, 0 refused, 0 spoiled, 1 retry" in result.stdout


def test_a_template_without_token_is_a_configuration_error(state: Path, tmp_path: Path):
    config = tmp_path / "nfcbridge.toml"
    config.write_text('[provisioning]\nuri_template = "https://kvitto.example.se/t/fixed"\n')
    result = run(
        "--config",
        str(config),
        "provision",
        "--reader",
        "mock:c6?roll=ntag213",
        "--batch",
        "r1",
        "--yes",
        code=3,
    )
    assert "provisioning" in result.stderr and "{token}" in result.stderr


def test_the_terminal_progress_bar_counts_the_batch_across_resumes(state: Path):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    run("provision", "--reader", "mock:c7?roll=ntag213", "--batch", "r1", "--count", "3", "--yes")
    with registry(state) as reg:
        runner = BatchRunner(None, reg, "r1", operator="x", count=10)  # type: ignore[arg-type]
        runner.open()
        stream = Tty()
        progress = Progress(stream, runner)
        for outcome in ("provisioned", "refused", "provisioned"):
            result = TagResult(uid="04AABBCCDDEEFF", outcome=outcome, reason="why")
            runner.tally.add(result)
            progress.tag(result)
        progress.close()
    text = stream.getvalue()
    assert "5/10" in text and "1 refused, 0 spoiled, 0 retry" in text
    assert "refused     04AABBCCDDEEFF: put this tag aside, nothing was written: why" in text
    assert "\x1b[2K" not in text  # the bar is tqdm's, not hand-made escape codes


def test_without_a_terminal_each_line_counts_the_batch_across_resumes(state: Path):
    run("provision", "--reader", "mock:c8?roll=ntag213", "--batch", "r1", "--count", "2", "--yes")
    again = run("provision", "--reader", "mock:c8?roll=ntag213", "--batch", "r1", "--count", "4",
                "--yes")  # fmt: skip
    lines = [ln for ln in again.stderr.splitlines() if ln.startswith("provisioned")]
    assert [ln.rsplit("[", 1)[1] for ln in lines] == ["3/4 in the batch]", "4/4 in the batch]"]


def test_the_uri_carries_only_a_fresh_random_token():
    tokens = {new_token(12) for _ in range(1000)}
    assert len(tokens) == 1000 and {len(t) for t in tokens} == {16}
    uri = render_uri("https://kvitto.example.se/t/{token}", "abc")
    assert uri == "https://kvitto.example.se/t/abc"
    assert list(ndef.message_decoder(uri_message(uri))) == [ndef.UriRecord(uri)]


@pytest.mark.parametrize(
    ("template", "nbytes", "problem"),
    [
        ("https://x.se/t/", 12, "exactly once"),
        ("https://x.se/{token}/{token}", 12, "exactly once"),
        ("https://x.se/{token}?p={pnr}", 12, "no other field"),
        ("kvitto/{token}", 12, "absolute"),
        ("https://x.se/{token}", 4, "token_bytes"),
    ],
)
def test_bad_templates_and_short_tokens_are_refused(template, nbytes, problem):
    with pytest.raises(ValueError, match=problem):
        check_template(template, nbytes)
