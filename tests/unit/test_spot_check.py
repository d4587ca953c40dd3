"""``nfcbridge tag check``: a spot check of the tag on a door against the registry (click
runner, mock reader, real registry on SQLite and PostgreSQL).

The door's tag is provisioned by ``nfcbridge provision`` (which keeps the hash of the NDEF
message it wrote), picked up and attached to customer ext:1. The failing cases put another
emulated tag on the reader: a tag the registry never saw, or a copy of the door's tag with
the same UID (a "magic" clone) that differs in exactly one way."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from drivers.emulated.chip import EmulatedTag
from drivers.mock import bench
from drivers.signature import Verdict
from nfcbridge.cli.main import cli
from provisioning.batch_token import BatchSettings, uri_message
from provisioning.records import TagRecord
from provisioning.registry import Registry
from provisioning.spot_check import ChipReading, judge

OP = "officer-olle"


@dataclass
class Door:
    url: str  # the mock reader the officer holds to the door
    tag: EmulatedTag  # the tag provisioned and attached to ext:1
    registry_url: str
    config: Path

    def run(self, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(
            cli, ["--config", str(self.config), "--operator", OP, *args], catch_exceptions=False
        )
        assert result.exit_code == code, (result.exit_code, result.output)
        return result

    def check(self, *args: str, code: int = 0) -> dict:
        result = self.run("tag", "check", "--reader", self.url, "--json", *args, code=code)
        return json.loads(result.stdout)

    def swap(self, tag: EmulatedTag) -> EmulatedTag:
        bench(self.url.removeprefix("mock:")).place(tag)
        return tag

    def spot_checks(self) -> list:
        with Registry.open(self.registry_url) as reg:
            return [e for e in reg.history(self.tag.uid) if e.action == "tag.spot_check"]


@pytest.fixture
def door(tmp_path: Path, registry_url: str) -> Iterator[Door]:
    config = tmp_path / "nfcbridge.toml"
    config.write_text(
        f'[station]\ndata_dir = "{tmp_path / "state"}"\n[registry]\nurl = "{registry_url}"\n'
    )
    name = f"door-{uuid.uuid4().hex[:8]}"
    tag = bench(name).place(EmulatedTag("NTAG213"))
    d = Door(f"mock:{name}", tag, registry_url, config)
    d.run("provision", "--reader", d.url, "--batch", "b1", "--count", "1", "--yes")
    with Registry.open(registry_url) as reg:
        reg.add_provider("P-1", "Hemtjänst Syd", operator="desk")
        reg.add_provider("P-2", "Omsorg Norr", operator="desk")
        reg.add_customer("ext:1", "P-1", operator="desk")
        reg.add_customer("ext:2", "P-1", operator="desk")
        reg.pickup_tags("P-1", [tag.uid], operator="desk")
        reg.attach(tag.uid, "ext:1", operator="coordinator")
    yield d


def clone_of(original: EmulatedTag, uid: bytes | None = None, **kwargs: object) -> EmulatedTag:
    """A tag whose memory from page 3 on (and the lock bytes of page 2) copies *original*."""
    clone = EmulatedTag("NTAG213", uid=uid or original.uid, **kwargs)  # type: ignore[arg-type]
    clone.memory[10:12] = original.memory[10:12]
    clone.memory[12:] = original.memory[12:]
    return clone


def test_a_freshly_attached_tag_passes_and_the_check_is_in_the_audit_trail(door: Door):
    result = door.check("--customer", "ext:1")
    assert result["passed"] is True and result["failed"] == []
    assert {name: c["result"] for name, c in result["checks"].items()} == {
        "known": "pass",
        "active": "pass",
        "customer": "pass",
        "chip": "pass",
        "signature": "pass",
        "lock": "pass",
        "ndef": "pass",
    }
    (entry,) = door.spot_checks()
    assert entry.operator == OP and entry.seq == result["audit_seq"]
    assert entry.details["passed"] is True and entry.details["failed"] == []
    assert (entry.details["customer"], entry.details["provider"]) == ("ext:1", "P-1")


def test_an_unknown_uid_fails_the_known_check(door: Door):
    stranger = door.swap(clone_of(door.tag, uid=b"\x04" + os.urandom(6)))
    out = door.run("tag", "check", "--reader", door.url, code=10)
    assert "failed: known (UID not in registry)" in out.stderr
    assert "known     fail" in out.stdout
    with Registry.open(door.registry_url) as reg:
        (entry,) = [e for e in reg.history(stranger.uid) if e.action == "tag.spot_check"]
    assert entry.details["failed"] == ["known"] and entry.details["provider"] is None


def test_a_retired_tag_fails_the_active_check(door: Door):
    with Registry.open(door.registry_url) as reg:
        reg.retire(door.tag.uid, reason="customer moved", operator="desk")
    result = door.check(code=10)
    assert result["failed"] == ["active"]
    assert result["checks"]["active"]["detail"] == "tag is retired"
    assert door.spot_checks()[-1].details["failed"] == ["active"]


def test_a_tag_on_another_customers_door_fails_the_customer_check(door: Door):
    result = door.check("--customer", "ext:2", code=10)
    assert result["failed"] == ["customer"]
    assert "attached to ext:1" in result["checks"]["customer"]["detail"]
    entry = door.spot_checks()[-1]
    assert (entry.details["customer"], entry.details["failed"]) == ("ext:2", ["customer"])


def test_a_clone_with_a_bad_signature_fails_the_signature_check(door: Door):
    door.swap(clone_of(door.tag, signature=os.urandom(32)))
    result = door.check("--customer", "ext:1", code=10)
    assert result["failed"] == ["signature"]
    assert door.spot_checks()[-1].details["failed"] == ["signature"]


def test_an_unlocked_copy_fails_the_lock_check_naming_what_is_missing(door: Door):
    copy = EmulatedTag("NTAG213", uid=door.tag.uid)
    copy.memory[4 * 4 : 0x28 * 4] = door.tag.memory[4 * 4 : 0x28 * 4]  # user pages only:
    # the same NDEF message, while CC, lock bytes and CFG0/CFG1 stay as from the factory
    door.swap(copy)
    result = door.check(code=10)
    assert result["failed"] == ["lock"]
    assert result["checks"]["lock"]["detail"] == "CC, static lock, dynamic lock, CFGLCK not set"
    assert door.spot_checks()[-1].details["failed"] == ["lock"]


def test_changed_ndef_content_fails_the_ndef_check(door: Door):
    changed = clone_of(door.tag)
    at = bytes(changed.memory).index(b"kvitto") + 20  # a byte of the token in the URI
    changed.memory[at] ^= 0x01
    door.swap(changed)
    result = door.check(code=10)
    assert result["failed"] == ["ndef"]
    assert "differs from what was written" in result["checks"]["ndef"]["detail"]
    assert door.spot_checks()[-1].details["failed"] == ["ndef"]


def test_report_checks_counts_per_provider_with_the_failure_rate(door: Door):
    door.check("--customer", "ext:1")
    door.check("--customer", "ext:2", code=10)
    door.swap(clone_of(door.tag, signature=os.urandom(32)))
    door.check(code=10)
    month = datetime.now(UTC).strftime("%Y-%m")
    rows = json.loads(door.run("report", "checks", "--month", month, "--json").stdout)
    assert rows == [
        {
            "month": month,
            "provider": "P-1",
            "checks": 3,
            "passed": 1,
            "failed": 2,
            "failure_rate": 0.6667,
            "failed_checks": "customer:1 signature:1",
        }
    ]
    listed = json.loads(door.run("report", "checks", "--month", month, "--list", "--json").stdout)
    assert [r["result"] for r in listed] == ["passed", "failed", "failed"]
    assert listed[1]["failed"] == "customer" and listed[0]["operator"] == OP
    other = json.loads(door.run("report", "checks", "--month", "2001-01", "--json").stdout)
    assert other == []


def test_bad_input_is_refused_with_one_line_and_nothing_recorded(door: Door):
    out = door.run("tag", "check", "--reader", door.url, "--customer", "ext:99", code=7)
    assert out.stderr.strip() == "error: no customer ext:99"
    assert door.run("report", "checks", code=2).exit_code == 2  # --month is required
    assert "YYYY-MM" in door.run("report", "checks", "--month", "2026-13", code=7).stderr
    assert door.spot_checks() == []


def _reading(uri: str) -> ChipReading:
    from drivers.lockbits import decode_lock_state
    from drivers.products import NTAG213 as P

    cfg1 = b"\x40\x00\x00\x00"  # CFGLCK
    lock = decode_lock_state(
        P, b"\x00\x48\xff\xff", b"\xe1\x10\x12\x0f", P.lock_all_dynamic, None, cfg1
    )
    return ChipReading(
        "04A1B2C3D4E5F6", "NTAG213", None, Verdict.NXP, lock, uri_message(uri), (uri,)
    )


def test_a_tag_provisioned_before_hashes_were_kept_is_compared_by_its_token():
    record = TagRecord(
        "04A1B2C3D4E5F6", "active", "NTAG213", "b", "P-1", "ext:1", "P-1",
        datetime.now(UTC), None, None, None, token="tok123",
    )  # fmt: skip

    def ndef_check(uri: str):
        checks = judge(
            record, _reading(uri), expected_customer=None, settings=BatchSettings(), on_mock=False
        )
        assert [c.name for c in checks if c.status == "fail"] in ([], ["ndef"])
        return next(c for c in checks if c.name == "ndef")

    same = ndef_check("https://kvitto.example.se/t/tok123")
    assert same.status == "pass" and "token" in same.detail
    assert ndef_check("https://kvitto.example.se/t/other").status == "fail"
