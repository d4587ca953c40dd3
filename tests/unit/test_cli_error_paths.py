"""Every CLI command's error paths go through the boundary: a documented exit code, never
exit 1 ("internal error", a bug), one line on stderr, JSON on stderr with ``--json``.

The command tree is walked, so a command added later is covered (or the test names it).
Each command runs in every hostile environment below with its required parameters filled
in with values that cannot work; commands that would serve forever with a usable
configuration get hostile invocations of their own (``BLOCKING``).
"""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from nfcbridge.cli.main import cli
from nfcbridge.cli.params import OutputPath
from nfcbridge.errors import ExitCode

BASE = """
[station]
name = "st"
data_dir = "{d}"
[registry]
url = "sqlite:///{d}/registry.db"
"""


def _not_utf8(d: Path) -> bytes:
    return BASE.format(d=d).encode() + b"[outbox]\n# caf\xe9\n"


def _registry_none(d: Path) -> str:
    return BASE.format(d=d).replace(f'"sqlite:///{d}/registry.db"', '"none"')


def _registry_not_a_url(d: Path) -> str:
    return BASE.format(d=d).replace(f'"sqlite:///{d}/registry.db"', '"registry"')


def _data_dir_unusable(d: Path) -> str:
    (d / "a-file").write_text("not a directory")
    data = d / "a-file" / "data"  # under a regular file: unusable even for root
    return BASE.format(d=data).replace(f'url = "sqlite:///{data}/registry.db"', "")


def _outbox_foreign(d: Path) -> str:
    other = sqlite3.connect(d / "other.db")
    other.execute("CREATE TABLE recipes (name TEXT)")
    other.commit()
    other.close()
    return BASE.format(d=d) + f'[outbox]\npath = "{d}/other.db"\n'


def _keep_days_huge(d: Path) -> str:
    return BASE.format(d=d) + "[outbox]\nkeep_days = 1000000\n"


ENVIRONMENTS: dict[str, Callable[[Path], str | bytes]] = {
    "config not UTF-8": _not_utf8,
    "registry url none": _registry_none,
    "registry url not a URL": _registry_not_a_url,
    "data dir unusable": _data_dir_unusable,
    "outbox is another program's database": _outbox_foreign,
    "keep_days beyond any date": _keep_days_huge,
}

# Commands that serve until interrupted when they can start: only hostile invocations.
BLOCKING: dict[str, list[list[str]]] = {
    "run": [["--config", "{bad_config}"]],
    "demo": [["--dir", "{garbage}"], ["--customers", "1"]],
    "emulate pn532": [["--fault", "melt@x"], ["--uid", "zz"], ["--link", "{missing}/tty"]],
    "emulate vpcd": [["--fault", "melt@x"], ["--port", "99999"]],
    "receiver serve": [
        ["--listen", ":99999", "--secret-file", "{secret}", "--db", "{d}/r.db"],
        ["--listen", "127.0.0.1:{busy}", "--secret-file", "{secret}", "--db", "{d}/r.db"],
        ["--listen", "127.0.0.1:0", "--secret-file", "{garbage}", "--db", "{d}/r.db"],
        ["--listen", "127.0.0.1:0", "--secret-file", "{secret}", "--db", "{missing}/r.db"],
    ],
    "web": [
        ["--listen", ":99999"],
        ["--listen", "0.0.0.0:8080"],
        ["--listen", "127.0.0.1:{busy}"],
    ],
    "rig run": [
        ["{garbage}"],
        ["{scenario}", "--standalone", "--jsonl", "{missing}/taps.jsonl"],
    ],
}

# Named cases from the issue, beyond the environments.
EXTRA: list[list[str]] = [
    ["rig", "generate", "--out", "{missing}/scenario.toml"],
    ["outbox", "prune", "--config", "{keep_days_config}"],
    ["receiver", "report", "--db", "{garbage}"],
    ["provider", "add", "P 1/x", "--name", "bad id"],
    ["tag", "info", "--reader", "mock:desk?tga=ntag213"],
    ["tag", "info", "--reader", "serial:/dev/null?bauds=115200"],
]


def walk(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from walk(command, (*path, name))
        else:
            yield " ".join((*path, name)), command


COMMANDS = dict(walk(cli))


def filler(param: click.Parameter, garbage: Path) -> list[str]:
    """A value for a required parameter that no command can use."""
    if isinstance(param.type, click.Choice):
        value = str(param.type.choices[0])
    elif isinstance(param.type, OutputPath):  # never overwrite the garbage other commands read
        value = str(garbage.parent / "no" / "such" / "dir" / "out")
    elif isinstance(param.type, click.Path):
        value = str(garbage)
    elif param.name == "reader_url":
        value = "nosuch:reader"
    else:
        value = "X-1"
    if isinstance(param, click.Option):
        return [param.opts[0], value]
    return [value]


def generic_args(command: click.Command, garbage: Path) -> list[str]:
    args: list[str] = []
    for param in command.params:
        if param.required:
            args += filler(param, garbage)
    return args


@pytest.fixture(scope="module")
def generated_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A district day from ``rig generate``, made once for the module."""
    scenario = tmp_path_factory.mktemp("scenario") / "scenario.toml"
    assert CliRunner().invoke(cli, ["rig", "generate", "--out", str(scenario)]).exit_code == 0
    return scenario


@pytest.fixture
def places(tmp_path: Path, generated_scenario: Path) -> dict[str, str]:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\xff\xfe not text, not TOML, not SQLite \x00\x81")
    secret = tmp_path / "webhook.secret"
    secret.write_text("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=")
    bad_config = tmp_path / "bad.toml"
    bad_config.write_bytes(_not_utf8(tmp_path))
    good_config = tmp_path / "good.toml"
    good_config.write_text(BASE.format(d=tmp_path))
    keep_days_config = tmp_path / "keep.toml"
    keep_days_config.write_text(_keep_days_huge(tmp_path))
    scenario = tmp_path / "scenario.toml"
    shutil.copyfile(generated_scenario, scenario)
    return {
        "d": str(tmp_path),
        "garbage": str(garbage),
        "secret": str(secret),
        "bad_config": str(bad_config),
        "good_config": str(good_config),
        "keep_days_config": str(keep_days_config),
        "missing": str(tmp_path / "no" / "such" / "dir"),
        "scenario": str(scenario),
    }


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def invoke(args: list[str], *, config: Path | None = None, stdin: str = "") -> Result:
    full = (["--config", str(config)] if config else []) + args
    return CliRunner().invoke(cli, full, input=stdin)


def assert_clean_failure(result: Result, what: str) -> None:
    assert result.exit_code != ExitCode.INTERNAL, f"{what}: exit 1\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{what}: {result.exception!r} escaped the boundary"
    )
    assert "internal error" not in result.output and "Traceback" not in result.output, what


@pytest.mark.parametrize("environment", sorted(ENVIRONMENTS))
def test_every_command_fails_cleanly_in_a_hostile_environment(
    environment: str, tmp_path: Path, places: dict[str, str]
) -> None:
    config = tmp_path / "env.toml"
    text = ENVIRONMENTS[environment](tmp_path)
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    other = tmp_path / "other.db"
    foreign = other.read_bytes() if other.exists() else None
    for name, command in COMMANDS.items():
        if name in BLOCKING:
            continue
        args = name.split() + generic_args(command, Path(places["garbage"]))
        assert_clean_failure(invoke(args, config=config), f"{environment}: {' '.join(args)}")
    if foreign is not None:
        assert other.read_bytes() == foreign  # another program's database is never written


def test_blocking_commands_fail_cleanly_on_hostile_input(
    places: dict[str, str], busy_port: int
) -> None:
    fill = {**places, "busy": str(busy_port)}
    for name, variants in BLOCKING.items():
        assert name in COMMANDS, f"BLOCKING names {name!r}, which is no longer a command"
        for variant in variants:
            args = name.split() + [a.format(**fill) for a in variant]
            result = invoke(args, config=Path(places["good_config"]))  # files stay in tmp
            assert_clean_failure(result, " ".join(args))
            assert result.exit_code != 0, " ".join(args)


@pytest.mark.parametrize("case", EXTRA, ids=lambda c: " ".join(c[:3]))
def test_named_cases_from_the_issue_fail_cleanly(case: list[str], places: dict[str, str]):
    args = [a.format(**places) for a in case]
    result = invoke(args)
    assert_clean_failure(result, " ".join(args))
    assert result.exit_code != 0


def test_every_command_is_reached_by_the_walk() -> None:
    assert {"run", "status", "provision", "receiver serve", "rig run", "tag info"} <= set(COMMANDS)


def test_registry_url_none_is_refused_by_registry_commands_without_creating_a_file(
    tmp_path: Path,
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(_registry_none(tmp_path))
    result = CliRunner().invoke(cli, ["--config", str(config), "report", "stock"])
    assert result.exit_code == ExitCode.CONFIG and "registry.url" in result.output
    assert not (Path.cwd() / "none").exists() and not (tmp_path / "none").exists()


def test_customer_add_with_an_unusable_data_directory_names_it(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(_data_dir_unusable(tmp_path))
    result = CliRunner().invoke(
        cli,
        ["--config", str(config), "customer", "add", "--provider", "P-1"],
        input="198112189876\n",
    )
    assert result.exit_code in (ExitCode.CONFIG, ExitCode.STORE), result.output
    assert "a-file" in result.output


def test_end_of_input_at_the_hidden_prompt_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(BASE.format(d=tmp_path))
    CliRunner().invoke(cli, ["--config", str(config), "provider", "add", "P-1", "--name", "p"])
    result = CliRunner().invoke(
        cli, ["--config", str(config), "customer", "add", "--provider", "P-1"], input=""
    )
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "end of input" in result.output


def test_ctrl_c_at_a_prompt_is_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.toml"
    config.write_text(BASE.format(d=tmp_path))

    def prompt_interrupted(*_: object, **__: object) -> str:
        try:  # what click.prompt does when Ctrl-C is pressed at it
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise click.Abort() from None

    monkeypatch.setattr(click, "prompt", prompt_interrupted)
    CliRunner().invoke(cli, ["--config", str(config), "provider", "add", "P-1", "--name", "p"])
    result = CliRunner().invoke(
        cli, ["--config", str(config), "customer", "add", "--provider", "P-1"]
    )
    assert result.exit_code == ExitCode.INTERRUPTED, result.output


def test_errors_are_json_on_stderr_with_json(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_bytes(_not_utf8(tmp_path))
    result = CliRunner().invoke(cli, ["--config", str(config), "provider", "list", "--json"])
    assert result.exit_code == ExitCode.CONFIG
    assert result.stdout == ""
    error = json.loads(result.stderr)["error"]
    assert error["code"] == ExitCode.CONFIG and "UTF-8" in error["message"]


def test_usage_errors_are_json_too_with_json() -> None:
    result = CliRunner().invoke(cli, ["report", "nonsense", "--json"])
    assert result.exit_code == ExitCode.USAGE
    assert json.loads(result.stderr)["error"]["code"] == ExitCode.USAGE
