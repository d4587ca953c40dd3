"""Config values have ranges, checked before anything starts: each value here started a
daemon that then misbehaved, or made `config show` print non-TOML, on an earlier main
(issue 10). A bad value is exit 3 with one line naming the key and the allowed range."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from nfcbridge.cli.main import cli
from tests.support.config_files import base
from tests.support.config_files import run_refused as run


def show(tmp_path: Path, text: str) -> tuple[int, str]:
    """`config show` of *text*: loading the file is the first thing every command does."""
    path = tmp_path / "bad.toml"
    path.write_text(text.replace("{d}", str(tmp_path)))
    result = CliRunner().invoke(cli, ["--config", str(path), "config", "show"])
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    return result.exit_code, lines[0] if lines else result.output


JSONL = '[[forwarders]]\ntype = "jsonl"\nname = "f"\npath = "{d}/taps.jsonl"\n'
MQTT = '[[forwarders]]\ntype = "mqtt"\nname = "m"\n'
WEBHOOK = '[[forwarders]]\ntype = "webhook"\nname = "w"\nsecret_file = "{d}/s"\nurl = "http://h/"\n'


@pytest.mark.parametrize(
    ("extra", "key", "allowed"),
    [
        (JSONL + "batch_size = 0\n", "forwarders[0].batch_size", "between 1 and 10000"),
        (JSONL + "max_backoff = nan\n", "forwarders[0].max_backoff", "finite"),
        (JSONL + "max_backoff = -5.0\n", "forwarders[0].max_backoff", "between 0.01 and"),
        (JSONL + "timeout = -1.0\n", "forwarders[0].timeout", "between 0.01 and 600"),
        (JSONL + "timeout = inf\n", "forwarders[0].timeout", "finite"),
        (JSONL + "timeout = 0\n", "forwarders[0].timeout", "between 0.01 and 600"),  # an int
        (MQTT + "port = -1\n", "forwarders[0].port", "between 1 and 65535"),
        (MQTT + "port = 99999\n", "forwarders[0].port", "between 1 and 65535"),
        ("[provisioning]\ntag_timeout = nan\n", "provisioning.tag_timeout", "finite"),
        ("[quota]\nspare = 1000000000\n", "quota.spare", "between 0 and 1000"),
    ],
)
def test_values_out_of_range_are_exit_3_naming_key_and_range(
    tmp_path: Path, extra: str, key: str, allowed: str
) -> None:
    exit_code, line = show(tmp_path, base() + extra)
    assert exit_code == 3, line
    assert run(tmp_path, base() + extra) == (exit_code, line)  # the daemon: the same line
    assert key in line and allowed in line


@pytest.mark.parametrize("value", ["0", "-0.5", "60.0", "nan"])
def test_the_registry_lookup_timeout_must_be_in_range(tmp_path: Path, value: str) -> None:
    text = base().replace('url = "none"', f'url = "none"\nlookup_timeout = {value}')
    exit_code, line = show(tmp_path, text)
    assert exit_code == 3 and "registry.lookup_timeout" in line
    assert ("finite" if value == "nan" else "between 0.01 and 30") in line
    assert run(tmp_path, text) == (exit_code, line)  # the daemon: the same line


@pytest.mark.parametrize("value", ["nan", "inf", "-1.0", "-1", "1e9"])
def test_retap_window_must_be_a_finite_number_in_range(tmp_path: Path, value: str) -> None:
    text = base().replace('url = "mock:cfg"', f'url = "mock:cfg"\nretap_window = {value}')
    exit_code, line = show(tmp_path, text)
    assert exit_code == 3 and "readers[0].retap_window" in line


def test_a_jsonl_path_in_a_missing_directory_is_refused_before_start(tmp_path: Path) -> None:
    text = base() + JSONL.replace("{d}/taps.jsonl", "{d}/no/such/dir/taps.jsonl")
    exit_code, line = run(tmp_path, text)
    assert exit_code == 3 and "forwarders[0].path" in line and "does not exist" in line


@pytest.mark.parametrize(
    "url", ["not a url", "ftp://h/x", "http://", "http://h:99999/", "http://h/ x", "/relative"]
)
def test_a_webhook_url_must_be_an_http_url_with_a_host(tmp_path: Path, url: str) -> None:
    (tmp_path / "s").write_text("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n")
    exit_code, line = show(tmp_path, base() + WEBHOOK.replace("http://h/", url))
    assert exit_code == 3 and "forwarders[0].url" in line


def test_config_show_prints_toml_that_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        base().replace("{d}", str(tmp_path))
        + JSONL.replace("{d}", str(tmp_path)).replace('name = "f"', 'name = "f\\u007f\\"x"')
        + "max_backoff = 1e-2\n"
    )
    result = CliRunner().invoke(cli, ["--config", str(path), "config", "show"])
    assert result.exit_code == 0, result.output
    shown = tomllib.loads(result.stdout)
    assert shown["forwarders"][0]["name"] == 'f\x7f"x'
    assert shown["forwarders"][0]["max_backoff"] == 0.01
