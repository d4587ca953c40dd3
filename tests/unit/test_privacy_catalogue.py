"""No personnummer by any door: every CLI option and control-socket field that takes text.

A valid personnummer (and a samordningsnummer) in every written form goes into each text
option; the command must not store it (nothing at rest under the test's directory) and must
not print it (stdout and stderr). Where the text would be kept (ids, names, reasons, the
operator), the command is refused with exit 7 and a message naming the field, never the value.
The end-of-run scan (tests/conftest.py) checks every file again after the whole run.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from nfcbridge.cli.main import cli
from nfcbridge.control import ControlServer, request
from provisioning.errors import PersonnummerRefused
from provisioning.identity import looks_like_personnummer, redact_personnummer
from provisioning.registry import Registry
from tests.support.personnummer import files_with_personnummer, holds_test_personnummer
from tests.support.registry_files import copy_registry

# Every written form of test numbers the end-of-run scan knows (tests/conftest.py).
FORMS = (
    "121212-1212",
    "1212121212",
    "191212121212",
    "19121212-1212",
    "121212+1212",
    "811218-9876",
    "198112189876",
    "701063-2391",  # samordningsnummer
    "197010632391",
)
UID = "04A1B2C3D4E5F6"

# (argv with {P} for the number, the exit code or None when any refusal will do).
CASES: list[tuple[list[str], int | None]] = [
    (["--operator", "{P}", "provider", "add", "P-9", "--name", "x"], 7),
    (["--operator", "desk {P}", "retire", "--tag", UID, "--reason", "lost"], 7),
    (["provider", "add", "{P}", "--name", "x"], 7),
    (["provider", "add", "P-9", "--name", "Omsorg {P}"], 7),
    (["provider", "policy", "P-1", "--per-customer", "2", "--reason", "pnr {P}"], 7),
    (["provider", "show", "{P}"], 7),
    (["customer", "add", "--external-id", "{P}", "--provider", "P-1"], 7),
    (["customer", "add", "--external-id", "ext:{P}", "--provider", "P-1"], 7),
    (["customer", "add", "--external-id", "4712", "--provider", "{P}"], 7),
    (["customer", "move", "{P}", "--to", "P-2"], 7),
    (["customer", "move", "ext:4711", "--to", "P-2", "--reason", "asked by {P}"], 7),
    (["customer", "move", "ext:4711", "--to", "{P}"], 7),
    (["customer", "list", "--provider", "{P}"], 7),
    (["pickup", "--provider", "{P}", "--count", "1"], 7),
    (["attach", "--tag", "{P}", "--customer", "ext:4711"], 7),
    (["attach", "--tag", UID, "--customer", "{P}"], 7),
    (["retire", "--tag", UID, "--reason", "customer {P} moved"], 7),
    (["retire", "--tag", UID, "--reason", "line1\n{P}"], 7),
    (["retire", "--tag", "{P}", "--reason", "lost"], 7),
    (["tag", "history", "{P}"], 7),
    (["report", "issued", "--month", "{P}"], 7),
    (["report", "{P}"], 7),
    (["audit", "verify", "--anchor", "{P}"], 7),
    (["provision", "--reader", "mock:pnr-empty", "--batch", "{P}", "--count", "1"], None),
    (["tag", "write", "--reader", "mock:pnr-empty", "--text", "{P}"], 7),
    (["tag", "write", "--reader", "mock:pnr-empty", "--uri", "https://x.se/{P}"], 7),
    (["tag", "info", "--reader", "mock:{P}", "--timeout", "0"], None),
    (["outbox", "retry", "{P}"], None),
    (["outbox", "forget", "{P}"], None),
    (["receiver", "report", "--db", "{P}"], None),
    (["--config", "{P}.toml", "config", "show"], None),
]


@pytest.fixture(scope="module")
def filled_registry(
    tmp_path_factory: pytest.TempPathFactory, migrated_sqlite_registry: Path
) -> Path:
    """Two providers, a customer and a tag in stock: made once, copied into each test."""
    path = tmp_path_factory.mktemp("filled") / "registry.db"
    with Registry.open(copy_registry(migrated_sqlite_registry, path)) as reg:
        reg.add_provider("P-1", "Omsorg Syd", operator="desk")
        reg.add_provider("P-2", "Omsorg Norr", operator="desk")
        reg.add_customer("ext:4711", "P-1", operator="desk")
        reg.open_batch("roll-1", operator="desk")
        reg.record_provisioned(bytes.fromhex(UID), "NTAG213", uuid.uuid4().hex, "roll-1", "desk")
    return path


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, filled_registry: Path) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("NFCBRIDGE_DATA_DIR", str(state))
    monkeypatch.delenv("NFCBRIDGE_CONFIG", raising=False)
    copy_registry(filled_registry, state / "registry.db")
    return state


@pytest.mark.parametrize(
    ("argv", "code"), CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else str(v)
)
def test_no_personnummer_is_stored_or_printed_by_any_cli_text_option(
    state: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    code: int | None,
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative path typed in is looked up (or created) under the test
    for form in FORMS:
        args = [a.replace("{P}", form) for a in argv]
        result = CliRunner().invoke(cli, args, input="")
        shown = (result.stdout + result.stderr).encode()
        assert not holds_test_personnummer(shown), (args, result.output)
        assert result.exit_code != 0, (args, result.output)
        if code is not None:
            assert result.exit_code == code, (args, result.exit_code, result.output)
    assert files_with_personnummer(tmp_path) == []


# Commands that serve, emulate or replay until stopped: their text options are covered by
# the cases above or name local files and listen addresses, never stored identities.
LONG_RUNNING = {"run", "receiver serve", "emulate pn532", "emulate vpcd", "rig run", "demo"}
# Values for required parameters other than the one under test.
REQUIRED = {
    "provider_id": "P-1", "name": "x", "to_provider": "P-2", "ref": "ext:4711", "uid": UID,
    "reason": "lost", "reader_url": "mock:pnr-empty", "batch_name": "b2", "forwarder": "fw",
    "file": "scenario.jsonl", "out": "out.jsonl", "db": "rx.db", "secret_file": "whsec.txt",
}  # fmt: skip
EXTRA = {"timeout": ["--timeout", "0.1"], "count": ["--count", "1"]}


def _text_params(command: click.Command) -> list[click.Parameter]:
    return [
        p
        for p in command.params
        if isinstance(p.type, click.types.StringParamType | click.Path)
        or type(p.type).__name__ in ("UidParam", "ReaderUrlParam")
    ]


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
        else:
            found.append((" ".join((*path, name)), command))
    return found


def _argv(path: str, command: click.Command, target: click.Parameter, value: str) -> list[str]:
    args = path.split()
    for param in command.params:
        wanted = param is target or (param.required and param.name in REQUIRED)
        if isinstance(param, click.Option) and param.name in EXTRA and param is not target:
            args += EXTRA[param.name]
        if not wanted:
            continue
        text = value if param is target else REQUIRED[str(param.name)]
        args += [text] if isinstance(param, click.Argument) else [param.opts[0], text]
    return args


CATALOGUE = [
    (path, command, param)
    for path, command in _commands(cli)
    if path not in LONG_RUNNING
    for param in _text_params(command)
    if param.name != "personnummer"  # where a personnummer belongs: pseudonymised at once
]


@pytest.mark.parametrize(
    ("path", "command", "param"), CATALOGUE, ids=[f"{c[0]} {c[2].name}" for c in CATALOGUE]
)
def test_every_text_option_of_every_command_leaks_no_personnummer(
    state: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    command: click.Command,
    param: click.Parameter,
) -> None:
    """Found by walking the command tree: an option added later is covered too."""
    monkeypatch.chdir(tmp_path)
    for form in FORMS:
        args = _argv(path, command, param, form)
        result = CliRunner().invoke(cli, ["--operator", "desk", *args], input="")
        shown = (result.stdout + result.stderr).encode()
        assert not holds_test_personnummer(shown), (args, result.output)
    assert files_with_personnummer(tmp_path) == []
    assert not [p for p in tmp_path.rglob("*") if holds_test_personnummer(p.name.encode())]


def test_the_refusal_names_the_option_and_leaves_no_audit_row(state: Path) -> None:
    result = CliRunner().invoke(cli, ["retire", "--tag", UID, "--reason", "pnr 121212-1212"])
    assert result.exit_code == 7
    assert result.stderr.startswith("error: the value of --reason looks like it holds a person")
    with Registry.open(f"sqlite:///{state / 'registry.db'}") as reg:
        assert reg.tag(UID).state == "in_stock"
        assert [e.action for e in reg.history(UID)] == ["tag.provisioned"]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda r, p: r.add_provider(p, "x", operator="desk"), "the provider id"),
        (lambda r, p: r.add_provider("P-8", f"Omsorg {p}", operator="desk"), "the provider name"),
        (lambda r, p: r.add_customer(f"ext:{p}", "P-1", operator="desk"), "the external"),
        (lambda r, p: r.retire(UID, reason=f"för {p}", operator="desk"), "the reason"),
        (lambda r, p: r.retire(UID, reason="lost", operator=p), "the operator"),
        (lambda r, p: r.open_batch(f"roll {p}", operator="desk"), "the batch name"),
        (
            lambda r, p: r.move_customer("ext:4711", "P-2", operator="desk", reason=p),
            "the reason",
        ),
    ],
)
def test_the_registry_layer_refuses_it_in_every_stored_text_field(
    state: Path, call: Any, field: str
) -> None:
    """What a future web app gets too: the refusal is in the registry, not only the CLI."""
    with Registry.open(f"sqlite:///{state / 'registry.db'}") as reg:
        for form in FORMS:
            with pytest.raises(PersonnummerRefused, match=f"^{field}") as info:
                call(reg, form)
            assert not holds_test_personnummer(str(info.value).encode())
        assert reg.verify_audit().ok
    assert files_with_personnummer(state) == []


@pytest.mark.parametrize(
    "text",
    ["P-0042", "Omsorg Syd AB", "04A1B2C3D4E5F6", "0701234567", "121212-1213", "ext:4711"],
)
def test_ordinary_text_and_numbers_that_fail_the_checks_are_accepted(text: str) -> None:
    assert not looks_like_personnummer(text)
    assert redact_personnummer(text) == text


class _NoReaders:
    def reader_settings(self, name: str) -> None:
        return None

    def worker(self, name: str) -> None:
        raise KeyError(name)

    def status(self) -> dict[str, int]:
        return {"ok": 1}


@pytest.mark.parametrize("field", ["op", "reader", "uid", "product", "at", "anything"])
def test_every_control_socket_text_field_refuses_a_personnummer(tmp_path: Path, field: str) -> None:
    server = ControlServer(tmp_path / "c.sock", _NoReaders())
    server.start()
    try:
        for form in FORMS:
            message = {"op": "tap", "reader": "rig", "uid": UID, field: f"x {form}"}
            answer = request(tmp_path / "c.sock", message)
            assert (
                not answer["ok"]
                and f"field '{field}' looks like a personnummer" in (answer["error"])
            )
            assert not holds_test_personnummer(str(answer).encode())
            keyed = request(tmp_path / "c.sock", {"op": "ping", form: 1})
            assert not keyed["ok"] and not holds_test_personnummer(str(keyed).encode())
    finally:
        server.close()
    assert files_with_personnummer(tmp_path) == []


def test_human_output_cannot_be_forged_with_control_characters(state: Path) -> None:
    forged = "lost\n     99 2026-01-01T00:00:00Z boss: tag.found \x1b[2J\x1b[32mok\r"
    CliRunner().invoke(
        cli, ["--operator", "eve\x1b[8m", "retire", "--tag", UID, "--reason", forged]
    )
    history = CliRunner().invoke(cli, ["tag", "history", UID]).stdout
    assert "\x1b" not in history and "\r" not in history
    assert len(history.splitlines()) == 3  # the tag, provisioned, retired: no forged line
    assert "lost\\n" in history and "eve\\x1b[8m" in history


def test_csv_cells_never_start_a_formula(state: Path) -> None:
    with Registry.open(f"sqlite:///{state / 'registry.db'}") as reg:
        for pid, name in [("P-3", "=HYPERLINK(1)"), ("P-4", "+1"), ("P-5", "-1"), ("P-6", "@A")]:
            reg.add_provider(pid, name, operator="desk")
        reg.add_provider("P-7", "\tx", operator="desk")
    out = CliRunner().invoke(cli, ["report", "providers", "--csv"]).stdout
    names = {line.split(",")[0]: line.split(",")[1] for line in out.splitlines()[1:]}
    assert names["P-3"] == "'=HYPERLINK(1)" and names["P-4"] == "'+1" and names["P-5"] == "'-1"
    assert names["P-6"] == "'@A" and names["P-7"] == "'\tx"
