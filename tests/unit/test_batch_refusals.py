"""Tags the batch runner refuses, why, and that a refusal writes nothing to the tag or the
registry: known UIDs (with their history), spoiled, retired, not blank, unsupported, clones,
bad or missing signatures, and the emulator's test-key signature on a reader that is not a
mock. Also what it accepts: a genuine NXP signature on a real reader, a retried attempt.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import uuid

import pytest

from drivers import open_reader
from drivers.base import Capability, Reader, Target
from drivers.emulated.chip import EmulatedTag, Fault
from drivers.emulated.field import Field
from drivers.errors import TagGone
from drivers.mock import bench
from drivers.ntag import Ntag21x
from drivers.url import ReaderURL
from provisioning.batch import BatchSettings, run_batch
from provisioning.batch_results import TagResult
from provisioning.registry import Registry

OP = "desk-test"
SETTINGS = BatchSettings(tag_timeout=0.05)
GENUINE_UID = "04E10CDA993C80"  # NXP's public NTAG21x sample pair (AN11350)
GENUINE_SIG = "8B76052EE42F5567BEB53238B3E3F9950707C0DCC956B5C5EFCFDB709B2D82B3"


class DeskReader(Reader):
    """A reader that is not a mock (a PC/SC URL) over an emulated field: what a real desk
    reader with an emulated tag on it would look like to the runner."""

    capabilities = frozenset({Capability.TRANSCEIVE})
    poll_interval = 0.005

    def __init__(self, field: Field) -> None:
        super().__init__(ReaderURL("pcsc", "Test Desk 00 00"))
        self.field = field

    def _open(self) -> None:
        pass

    def _close(self) -> None:
        pass

    def _poll_once(self) -> Target | None:
        tag = self.field.tag
        return Target(tag.uid) if tag is not None and tag.activate() else None

    def _transceive(self, command: bytes, timeout: float) -> bytes:
        tag = self.field.tag
        answer = tag.transceive(command) if tag is not None else None
        if answer is None:
            raise TagGone("no answer")
        return answer


@pytest.fixture(autouse=True)
def old_batch(registry: Registry) -> None:
    """Every test's registry (tests/conftest.py) has an earlier batch."""
    registry.open_batch("old", operator=OP)


def first_result(reader: Reader, reg: Registry, **kw) -> TagResult:
    results = run_batch(reader, reg, kw.pop("batch", "b1"), operator=OP, **kw)
    try:
        return next(results)
    finally:
        results.close()


def on_mock(reg: Registry, tag: EmulatedTag, **kw) -> TagResult:
    name = f"r-{uuid.uuid4().hex[:8]}"
    bench(name).place(tag)
    with open_reader(f"mock:{name}") as reader:
        return first_result(reader, reg, settings=kw.pop("settings", SETTINGS), **kw)


def on_desk(reg: Registry, tag: EmulatedTag, settings: BatchSettings = SETTINGS) -> TagResult:
    field = Field("desk")
    field.place(tag)
    with DeskReader(field) as reader:
        return first_result(reader, reg, settings=settings)


def wrote_nothing(tag: EmulatedTag) -> bool:
    return not any(c[0] in (0xA2, 0xA0) for c in tag.log)


def assert_refused(reg: Registry, tag: EmulatedTag, result: TagResult, *words: str) -> None:
    assert result.outcome == "refused", result
    for word in words:
        assert word in result.reason, result.reason
    assert wrote_nothing(tag)
    assert reg.batch("b1") is None  # a run of refusals leaves no empty batch


def today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")


def test_a_tag_already_in_stock_is_refused_with_its_batch_and_date(registry):
    tag = EmulatedTag("NTAG213")
    assert on_mock(registry, tag, batch="old").outcome == "provisioned"
    tag.log.clear()
    result = on_mock(registry, tag)
    assert_refused(registry, tag, result, "already provisioned in batch old on " + today())
    assert tag.log == []  # known from the registry alone: not one tag command
    assert registry.tag(tag.uid).state == "in_stock"


def test_an_issued_tag_is_refused_naming_its_provider(registry):
    tag = EmulatedTag("NTAG213")
    on_mock(registry, tag, batch="old")
    registry.add_provider("P-7", "Omsorg Sju AB", operator=OP)
    registry.set_policy("P-7", per_customer=0, spare=5, operator=OP)
    registry.pickup_tags("P-7", [tag.uid], operator=OP)
    tag.log.clear()
    assert_refused(registry, tag, on_mock(registry, tag), "already provisioned", "issued to P-7")


def test_a_spoiled_uid_is_refused_even_on_a_blank_chip(registry):
    tag = EmulatedTag("NTAG213")
    registry.record_spoiled(tag.uid, "old", OP, "removed during lock")
    assert_refused(registry, tag, on_mock(registry, tag), "spoiled in batch old")
    assert registry.tag(tag.uid).state == "spoiled"


def test_a_retired_uid_is_refused_with_the_date(registry):
    tag = EmulatedTag("NTAG213")
    registry.record_provisioned(tag.uid, "NTAG213", os.urandom(12).hex(), "old", OP)
    registry.retire(tag.uid, reason="damaged at the desk", operator=OP)
    assert_refused(registry, tag, on_mock(registry, tag), f"retired on {today()}")


def test_a_tag_with_content_is_refused_as_not_blank(registry):
    tag = EmulatedTag("NTAG213")
    tag.memory[16:24] = bytes.fromhex("0103A00C34 03 05 D1".replace(" ", ""))  # a message
    assert_refused(registry, tag, on_mock(registry, tag), "not blank")
    assert registry.tag_status(tag.uid) is None


def test_a_password_protected_tag_is_refused_as_not_blank(registry):
    tag = EmulatedTag("NTAG213")
    p = tag.product
    tag.memory[p.cfg0_page * 4 + 3] = 0x04  # AUTH0: writes from page 4 need the password
    tag.memory[p.cfg1_page * 4] = 0x80  # PROT: reads too
    assert_refused(registry, tag, on_mock(registry, tag), "not blank")


def test_a_clone_with_a_foreign_vendor_byte_is_refused(registry):
    tag = EmulatedTag("NTAG213")
    tag.version = bytes.fromhex("0053040201000F03")  # vendor 0x53: not NXP
    assert_refused(registry, tag, on_mock(registry, tag), "clone", "0x53")


@pytest.mark.parametrize(
    ("signature", "verdict"),
    [(os.urandom(32), "invalid"), (bytes(32), "missing")],
    ids=["random", "zeros"],
)
def test_a_tag_without_a_valid_signature_is_refused_as_not_genuine(registry, signature, verdict):
    tag = EmulatedTag("NTAG213", signature=signature)
    result = on_mock(registry, tag)
    assert_refused(registry, tag, result, "not genuine", verdict)
    assert result.verdict == verdict


def test_require_genuine_off_accepts_an_unsigned_tag(registry):
    tag = EmulatedTag("NTAG213", signature=bytes(32))
    relaxed = dataclasses.replace(SETTINGS, require_genuine=False)
    assert on_mock(registry, tag, settings=relaxed).outcome == "provisioned"


def test_ultralight_ev1_is_refused_as_unsupported(registry):
    tag = EmulatedTag("MF0UL21")
    assert_refused(registry, tag, on_mock(registry, tag), "unsupported product")


def test_the_emulator_test_key_on_a_real_reader_is_a_clone(registry):
    tag = EmulatedTag("NTAG213")  # signed with the emulator's public test key
    result = on_desk(registry, tag)
    assert_refused(registry, tag, result, "test key", "clone")
    assert result.verdict == "test-key"


def test_the_test_key_on_a_real_reader_is_accepted_when_configured(registry):
    tag = EmulatedTag("NTAG213")
    relaxed = dataclasses.replace(SETTINGS, accept_test_signatures=True)
    assert on_desk(registry, tag, relaxed).outcome == "provisioned"


def test_a_genuine_nxp_signature_on_a_real_reader_is_provisioned(registry):
    tag = EmulatedTag(
        "NTAG213", uid=bytes.fromhex(GENUINE_UID), signature=bytes.fromhex(GENUINE_SIG)
    )
    result = on_desk(registry, tag)
    assert (result.outcome, result.verdict) == ("provisioned", "nxp")
    assert registry.tag(GENUINE_UID).state == "in_stock"
    (entry,) = [e for e in registry.history(GENUINE_UID) if e.action == "tag.provisioned"]
    assert entry.details["verdict"] == "nxp"


def test_a_half_written_tag_with_an_earlier_attempt_is_finished(registry):
    tag = EmulatedTag("NTAG213", faults=[Fault("remove", 8)])  # mid-NDEF (5th page write)
    first = on_mock(registry, tag)
    assert first.outcome == "retry"
    tag.faults = ()
    tag.log.clear()
    assert not _is_blank(tag)  # the attempt left pages behind
    second = on_mock(registry, tag)
    assert (second.outcome, second.reason) == ("provisioned", "retried an earlier attempt")
    actions = [e.action for e in registry.history(tag.uid)]
    assert actions == ["tag.attempt_failed", "tag.provisioned"]


def test_a_half_written_tag_with_an_irreversible_attempt_on_record_is_refused(registry):
    tag = EmulatedTag("NTAG213")
    tag.memory[24:28] = b"\x01\x02\x03\x04"
    registry.open_batch("b0", operator=OP)
    registry.record_attempt(tag.uid, "b0", OP, {"irreversible": True})
    assert_refused(registry, tag, on_mock(registry, tag), "not blank")


def test_a_dry_run_checks_without_writing_or_opening_the_batch(registry):
    tag = EmulatedTag("NTAG213")
    result = on_mock(registry, tag, batch="trial", dry_run=True)
    assert (result.outcome, result.verdict) == ("checked", "test-key")
    assert wrote_nothing(tag)
    assert registry.batch("trial") is None
    assert registry.tag_status(tag.uid) is None


def _is_blank(tag: EmulatedTag) -> bool:
    name = f"p-{uuid.uuid4().hex[:8]}"
    bench(name).place(tag)
    with open_reader(f"mock:{name}") as reader:
        return Ntag21x(reader, reader.wait_for_tag(1)).is_blank()
