"""`nfcbridge readers` and `nfcbridge tag info|write|lock` on the mock reader: output, exit
codes and the promise that `tag lock` without --yes touches nothing."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from drivers.emulated.chip import EmulatedTag, Fault
from drivers.mock import bench
from nfcbridge.cli.main import cli

URI = "https://kvitto.example.se/t/abcdefghijkl"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("NFCBRIDGE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("NFCBRIDGE_CONFIG", raising=False)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def desk():
    """A mock reader name with one blank NTAG213 on it."""
    name = f"cli-{uuid.uuid4().hex[:8]}"
    tag = bench(name).place(EmulatedTag("NTAG213"))
    return f"mock:{name}", tag


def test_readers_lists_what_the_drivers_detect(run):
    result = run("readers")
    assert result.exit_code == 0
    assert "mock:desk?roll=ntag213" in result.stdout


@pytest.mark.parametrize("hardware", [False, True])
def test_readers_hints_only_when_no_hardware_reader_is_found(run, monkeypatch, hardware):
    # Detection depends on what is attached (pcscd may be running here): pin it.
    import drivers
    from drivers.base import DetectedReader

    found = [DetectedReader("mock:desk?roll=ntag213", "emulated")]
    if hardware:
        found.append(DetectedReader("pcsc:ACR122U", "PC/SC reader ACR122U"))
    monkeypatch.setattr(drivers, "detect_readers", lambda: found)
    result = run("readers")
    assert result.exit_code == 0
    assert ("pn533" in result.stderr) is not hardware  # kernel modules may claim USB readers


def test_readers_json(run):
    data = json.loads(run("readers", "--json").stdout)
    assert {"url": "mock:desk?roll=ntag213"}.items() <= data[0].items()


def test_info_json_of_a_blank_tag(run, desk):
    url, tag = desk
    result = run("tag", "info", "--reader", url, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["uid"] == tag.uid.hex().upper()
    assert info["product"] == "NTAG213" and info["capacity"] == 137
    assert info["lock"]["level"] == "unlocked" and info["ndef"]["records"] == []
    assert info["genuine"] is False and info["signature"]["verdict"] == "test-key"


def test_write_uri_then_info_shows_it(run, desk):
    url, _ = desk
    assert run("tag", "write", "--reader", url, "--uri", URI).exit_code == 0
    out = run("tag", "info", "--reader", url).stdout
    assert URI in out and "unlocked" in out


def test_write_text_with_language(run, desk):
    url, _ = desk
    assert run("tag", "write", "--reader", url, "--text", "Hej", "--lang", "sv").exit_code == 0
    record = json.loads(run("tag", "info", "--reader", url, "--json").stdout)["ndef"]["records"]
    assert record == [{"type": "urn:nfc:wkt:T", "text": "Hej", "language": "sv"}]


def test_write_needs_exactly_one_of_uri_and_text(run, desk):
    url, tag = desk
    assert run("tag", "write", "--reader", url).exit_code == 2
    assert run("tag", "write", "--reader", url, "--uri", URI, "--text", "x").exit_code == 2
    assert tag.log == []


def test_write_too_large_is_a_tag_error_and_writes_nothing(run, desk):
    url, tag = desk
    result = run("tag", "write", "--reader", url, "--text", "x" * 200)
    assert result.exit_code == 6 and "does not fit" in result.stderr
    assert not any(c[0] == 0xA2 for c in tag.log)


def test_lock_without_yes_refuses_and_touches_nothing(run, desk):
    url, tag = desk
    before = bytes(tag.memory)
    result = run("tag", "lock", "--reader", url)
    assert result.exit_code == 9
    assert "permanent and irreversible" in result.stderr and "--yes" in result.stderr
    assert tag.log == [] and bytes(tag.memory) == before


def test_lock_with_yes_locks_and_info_reports_it(run, desk):
    url, tag = desk
    run("tag", "write", "--reader", url, "--uri", URI)
    uid = tag.uid.hex(":")
    result = run("tag", "lock", "--reader", url, "--yes", "--expect-uid", uid)
    assert result.exit_code == 0, result.output
    info = json.loads(run("tag", "info", "--reader", url, "--json").stdout)
    assert info["lock"]["level"] == "locked" and info["lock"]["cfglck"] is True
    assert info["ndef"]["records"][0]["uri"] == URI
    assert run("tag", "write", "--reader", url, "--uri", URI).exit_code == 6  # TagLocked


def test_lock_of_another_uid_is_refused(run, desk):
    url, tag = desk
    run("tag", "write", "--reader", url, "--uri", URI)
    result = run("tag", "lock", "--reader", url, "--yes", "--expect-uid", "04AABBCCDDEEFF")
    assert result.exit_code == 6 and "not the expected 04AABBCCDDEEFF" in result.stderr
    assert tag.page(3) == bytes.fromhex("E1101200")


@pytest.mark.parametrize("bad", ["04AABB", "zz", "04:AA:BB:CC:DD:EE:FF:00"])
def test_bad_uid_is_a_usage_error(run, desk, bad):
    url, _ = desk
    result = run("tag", "lock", "--reader", url, "--yes", "--expect-uid", bad)
    assert result.exit_code == 2 and "--expect-uid" in result.stderr


def test_unknown_scheme_is_a_usage_error_listing_the_known(run):
    result = run("tag", "info", "--reader", "nfc:usb")
    assert result.exit_code == 2
    assert "mock" in result.stderr and "pcsc" in result.stderr


def test_no_tag_within_timeout_exits_5(run):
    result = run(
        "tag", "info", "--reader", f"mock:empty-{uuid.uuid4().hex[:6]}", "--timeout", "0.05"
    )
    assert result.exit_code == 5 and "no tag" in result.stderr


def test_tag_removed_mid_write_exits_6(run):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    bench(name).place(EmulatedTag("NTAG213", faults=[Fault("remove", 5)]))
    result = run("tag", "write", "--reader", f"mock:{name}", "--uri", URI)
    assert result.exit_code == 6


def test_clone_tag_exits_6_naming_the_vendor(run):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    clone = EmulatedTag("NTAG213")
    clone.version = bytes.fromhex("0005040201000F03")
    bench(name).place(clone)
    result = run("tag", "info", "--reader", f"mock:{name}")
    assert result.exit_code == 6 and "0x05" in result.stderr
