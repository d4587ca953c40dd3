"""The tag layer's refusals and failure handling, on the chip model behind the mock reader."""

from __future__ import annotations

import contextlib

import ndef
import pytest

from drivers.emulated.chip import EmulatedTag, Fault
from drivers.errors import (
    LockRefused,
    NdefTooLarge,
    TagGone,
    TagLocked,
    TagNak,
    TagUnsupported,
    WriteFailed,
)
from drivers.lockbits import LockLevel
from drivers.ntag import Ntag21x
from drivers.signature import Verdict

URI = "https://kvitto.example.se/t/abcdefghijkl"
WRITE = 0xA2


def writes(tag: EmulatedTag) -> list[bytes]:
    return [c for c in tag.log if c[0] == WRITE]


def again(ntag: Ntag21x) -> Ntag21x:
    return Ntag21x(ntag.reader, ntag.reader.reselect())


class SilentOn(EmulatedTag):
    """A chip that does not answer the given command codes (like a reader path that cannot
    pass them, or an older chip)."""

    def __init__(self, *codes: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.silent = codes

    def transceive(self, command: bytes) -> bytes | None:
        if command and command[0] in self.silent:
            self.log.append(bytes(command))
            self._selected = False
            return None
        return super().transceive(command)


# -- identify ------------------------------------------------------------------------------
def test_clone_with_non_nxp_vendor_is_unsupported_naming_the_bytes(on_reader):
    tag = EmulatedTag("NTAG213")
    tag.version = bytes.fromhex("0053040201000F03")
    with pytest.raises(TagUnsupported, match=r"0x53.*0053040201000F03"):
        on_reader(tag).identify()


def test_unknown_nxp_version_is_unsupported_not_guessed(on_reader):
    tag = EmulatedTag("NTAG213")
    tag.version = bytes.fromhex("0004040201001003")
    with pytest.raises(TagUnsupported, match="0004040201001003"):
        on_reader(tag).identify()


def test_tag_without_get_version_is_unsupported_and_still_selected(on_reader):
    tag = SilentOn(0x60)
    ntag = on_reader(tag)
    with pytest.raises(TagUnsupported, match="Ultralight"):
        ntag.identify()
    ntag.product = tag.product  # the chip is still selected and answers reads
    assert ntag.read_pages(3, 3) == tag.product.factory_cc


def test_tag_removed_before_get_version_is_gone(on_reader):
    tag = EmulatedTag("NTAG213", faults=[Fault("remove", 1)])
    with pytest.raises(TagGone):
        on_reader(tag).identify()


# -- reading -------------------------------------------------------------------------------
def test_fast_read_not_answered_falls_back_to_read_after_reselect(on_reader):
    tag = SilentOn(0x3A)
    ntag = on_reader(tag)
    ntag.write_ndef([ndef.UriRecord(URI)], verify=False)
    tag.log.clear()
    fresh = again(ntag)
    content = fresh.read_ndef()
    assert [r.iri for r in content.records] == [URI]
    assert not fresh.fast_read
    assert tag.log[:3] == [bytes.fromhex("60"), bytes.fromhex("3A022A"), bytes.fromhex("3002")]
    assert all(c[0] == 0x30 for c in tag.log[3:])


def test_undecodable_message_is_reported_not_raised(on_reader):
    tag = EmulatedTag("NTAG215")
    tag.memory[16:24] = bytes.fromhex("0304D10105FE0000")  # record longer than the message
    content = on_reader(tag).read_ndef()
    assert content.formatted and content.error and content.records == []


def test_wrong_signature_is_not_genuine(on_reader):
    tag = EmulatedTag("NTAG213", signature=bytes(range(1, 33)))
    info = on_reader(tag).info()
    assert info.verdict is Verdict.INVALID and not info.genuine
    assert info.to_dict()["genuine"] is False


def test_all_zero_signature_is_missing(on_reader):
    tag = EmulatedTag("NTAG213", signature=bytes(32))
    assert on_reader(tag).originality() is Verdict.MISSING


def test_nxp_sample_pair_on_the_emulated_chip_is_genuine(on_reader):
    uid = bytes.fromhex("04E10CDA993C80")  # NXP AN11350 sample
    sig = bytes.fromhex("8B76052EE42F5567BEB53238B3E3F9950707C0DCC956B5C5EFCFDB709B2D82B3")
    info = on_reader(EmulatedTag("NTAG213", uid=uid, signature=sig)).info()
    assert info.genuine and info.to_dict()["signature"]["verdict"] == "nxp"


def test_counter_read_only_when_enabled(on_reader):
    off = on_reader(EmulatedTag("NTAG213"))
    assert off.read_counter() is None
    tag = EmulatedTag("NTAG213")
    tag.memory[0x2A * 4] = 0x10  # NFC_CNT_EN
    ntag = on_reader(tag)
    assert ntag.read_counter() == 1  # the chip counts the first read of the session
    assert tag.log[-1] == bytes.fromhex("3902")


def test_counter_behind_password_is_not_read(on_reader):
    tag = EmulatedTag("NTAG213")
    tag.memory[0x2A * 4] = 0x18  # NFC_CNT_EN | NFC_CNT_PWD_PROT
    ntag = on_reader(tag)
    assert ntag.read_counter() is None
    assert bytes.fromhex("3902") not in tag.log


def test_is_blank(on_reader):
    assert on_reader(EmulatedTag("NTAG213")).is_blank()
    assert on_reader(EmulatedTag("NTAG216")).is_blank()
    stale = EmulatedTag("NTAG216")
    stale.memory[0xE0 * 4] = 0x55  # a byte deep in the user memory
    assert not on_reader(stale).is_blank()
    written = on_reader(EmulatedTag("NTAG213"))
    written.write_ndef([ndef.UriRecord(URI)])
    assert not again(written).is_blank()


def test_is_blank_stops_reading_at_the_first_difference(on_reader):
    tag = EmulatedTag("NTAG216")
    tag.memory[3 * 4 + 3] = 0x0F  # CC read-only: not blank, no need to read the user area
    assert not on_reader(tag).is_blank()
    assert [c[0] for c in tag.log] == [0x60, 0x3A, 0x3A]  # GET_VERSION, 2 state FAST_READs


# -- writing -------------------------------------------------------------------------------
def test_message_larger_than_the_tag_is_refused_before_writing(on_reader):
    tag = EmulatedTag("NTAG213")
    ntag = on_reader(tag)
    capacity = ntag.read_ndef().capacity
    overhead = len(b"".join(ndef.message_encoder([ndef.Record("urn:nfc:ext:x:y")])))
    too_big = ndef.Record("urn:nfc:ext:x:y", data=b"x" * (capacity - overhead + 1))
    message = b"".join(ndef.message_encoder([too_big]))
    assert len(message) == capacity + 1
    with pytest.raises(NdefTooLarge) as err:
        ntag.write_ndef(message)
    assert (err.value.size, err.value.capacity) == (capacity + 1, capacity)
    assert writes(tag) == []


def test_message_of_exactly_the_capacity_fits(on_reader):
    tag = EmulatedTag("NTAG213")
    ntag = on_reader(tag)
    capacity = ntag.read_ndef().capacity
    overhead = len(b"".join(ndef.message_encoder([ndef.Record("urn:nfc:ext:x:y")])))
    record = ndef.Record("urn:nfc:ext:x:y", data=b"x" * (capacity - overhead))
    ntag.write_ndef([record])
    assert again(ntag).read_ndef().message == b"".join(ndef.message_encoder([record]))


def test_long_message_uses_the_three_byte_length(on_reader):
    tag = EmulatedTag("NTAG215")
    ntag = on_reader(tag)
    record = ndef.Record("urn:nfc:ext:x:y", data=bytes(range(256)) + b"tail")
    ntag.write_ndef([record])
    assert tag.memory[16:20] == bytes.fromhex("03FF010D")  # NDEF TLV, length 0x010D
    assert again(ntag).read_ndef().records[0].data == bytes(range(256)) + b"tail"


def test_read_only_cc_refuses_before_writing(on_reader):
    tag = EmulatedTag("NTAG213")
    tag.memory[15] = 0x0F
    ntag = on_reader(tag)
    with pytest.raises(TagLocked, match="read-only"):
        ntag.write_ndef([ndef.UriRecord(URI)])
    assert writes(tag) == []


def test_lock_bits_over_the_pages_refuse_before_writing(on_reader):
    tag = EmulatedTag("NTAG215")
    tag.memory[11] = 0x04  # LOCK1 bit 2: page 10 locked
    ntag = on_reader(tag)
    with pytest.raises(TagLocked, match="locked"):
        ntag.write_ndef([ndef.UriRecord(URI)])  # pages 4-14
    assert writes(tag) == []
    ntag.write_ndef([ndef.TextRecord("kort")])  # pages 4-6: allowed
    assert again(ntag).read_ndef().records[0].text == "kort"


def test_eeprom_error_is_write_failed_and_the_tag_is_reselected(on_reader):
    tag = EmulatedTag("NTAG213", faults=[Fault("eeprom", 3)])  # the first WRITE
    ntag = on_reader(tag)
    with pytest.raises(WriteFailed, match="EEPROM"):
        ntag.write_ndef([ndef.UriRecord(URI)])
    assert ntag.read_pages(0, 0, fresh=True)[:3] == ntag.uid[:3]  # selected again


def test_nak_to_a_write_is_tag_locked_and_the_tag_is_reselected(on_reader):
    tag = EmulatedTag("NTAG213")
    ntag = on_reader(tag)
    ntag.write_ndef([ndef.UriRecord(URI)])
    ntag.lock_permanently()
    with pytest.raises(TagLocked):
        ntag.write_page(0x20, b"\x01\x02\x03\x04")
    assert ntag.read_pages(0x20, 0x20, fresh=True) == bytes(4)


def test_ultralight_ev1_reads_but_is_not_written_or_locked(on_reader):
    tag = EmulatedTag("MF0UL21")
    ntag = on_reader(tag)
    info = ntag.info()
    assert info.product.name == "MF0UL21" and not info.ndef.formatted
    with pytest.raises(TagUnsupported):
        ntag.write_ndef([ndef.UriRecord(URI)])
    with pytest.raises(TagUnsupported):
        ntag.lock_permanently()
    assert writes(tag) == []


def test_replaced_tag_on_reselect_is_gone(on_reader):
    tag = EmulatedTag("NTAG213", faults=[Fault("eeprom", 3)])
    ntag = on_reader(tag)
    other = EmulatedTag("NTAG213")
    field = ntag.reader.bench  # type: ignore[attr-defined]
    ntag.identify()
    field.remove()
    field.place(other)
    with pytest.raises(TagGone, match="replaced"):
        ntag._reselect()


# -- locking -------------------------------------------------------------------------------
def test_lock_refuses_a_tag_without_a_message(on_reader):
    tag = EmulatedTag("NTAG213")
    ntag = on_reader(tag)
    with pytest.raises(LockRefused, match="no valid NDEF"):
        ntag.lock_permanently()
    assert writes(tag) == [] and not ntag.irreversible_attempted


def test_lock_refuses_a_password_protected_tag(on_reader):
    tag = EmulatedTag("NTAG213")
    ntag = on_reader(tag)
    ntag.write_ndef([ndef.UriRecord(URI)])
    tag.memory[0x29 * 4 + 3] = 0x10  # AUTH0: password from page 0x10
    fresh = again(ntag)
    tag.log.clear()
    with pytest.raises(LockRefused, match="password"):
        fresh.lock_permanently()
    assert writes(tag) == [] and not fresh.irreversible_attempted


def test_lock_refuses_an_unexpected_message(on_reader):
    tag = EmulatedTag("NTAG213")
    ntag = on_reader(tag)
    ntag.write_ndef([ndef.UriRecord(URI)])
    tag.log.clear()
    with pytest.raises(LockRefused, match="expected") as caught:
        ntag.lock_permanently(expected_message=b"\xd1\x01\x01U\x00")
    assert writes(tag) == [] and not isinstance(caught.value, WriteFailed)


def test_lock_sets_irreversible_attempted_before_the_first_otp_write(on_reader):
    tag = EmulatedTag("NTAG213", faults=[Fault("remove", 15)])  # the CC write
    ntag = on_reader(tag)
    ntag.write_ndef([ndef.UriRecord(URI)])  # commands 1-14
    assert not ntag.irreversible_attempted
    with pytest.raises(TagGone):
        ntag.lock_permanently()
    assert ntag.irreversible_attempted


def test_locked_tag_reads_and_refuses_every_kind_of_page(on_reader):
    tag = EmulatedTag("NTAG213")
    ntag = on_reader(tag)
    ntag.write_ndef([ndef.UriRecord(URI)])
    state = ntag.lock_permanently()
    assert state.level is LockLevel.LOCKED
    for page in (3, 4, 0x10, 0x27, 0x29, 0x2A):  # CC, user memory, CFG0, CFG1
        before = tag.page(page)
        with pytest.raises(TagLocked):
            ntag.write_page(page, b"\x00\x00\x00\x00" if page == 3 else b"\xff" * 4)
        assert tag.page(page) == before
    for page in (2, 0x28):  # lock bytes are OTP: an attempt to clear them changes nothing
        before = tag.page(page)
        with contextlib.suppress(TagLocked):
            ntag.write_page(page, bytes(4))
        assert tag.page(page) == before
    assert [r.iri for r in again(ntag).read_ndef().records] == [URI]


def test_lock_twice_writes_nothing_the_second_time(on_reader):
    tag = EmulatedTag("NTAG213")
    ntag = on_reader(tag)
    ntag.write_ndef([ndef.UriRecord(URI)])
    ntag.lock_permanently()
    fresh = again(ntag)
    tag.log.clear()
    assert fresh.lock_permanently().level is LockLevel.LOCKED
    assert writes(tag) == [] and not fresh.irreversible_attempted


class WritesButDoesNotAnswer(EmulatedTag):
    """A chip that programs a WRITE and then goes silent (the answer lost on the air)."""

    def transceive(self, command: bytes) -> bytes | None:
        answer = super().transceive(command)
        if command and command[0] == WRITE:
            self._selected = False
            return None
        return answer


def test_a_write_without_an_answer_is_forgotten_by_the_page_cache(on_reader):
    tag = WritesButDoesNotAnswer("NTAG213")
    ntag = on_reader(tag)
    before = ntag.read_pages(6, 6)
    with pytest.raises(TagGone):
        ntag.write_page(6, b"\x11\x22\x33\x44")
    ntag._reselect()
    assert before != b"\x11\x22\x33\x44"
    assert ntag.read_pages(6, 6) == b"\x11\x22\x33\x44"  # asked the tag, not the cache


def test_nak_to_a_write_past_the_last_page_names_the_page_not_a_lock(on_reader):
    tag = EmulatedTag("NTAG213")
    ntag = on_reader(tag)
    ntag.identify()
    with pytest.raises(TagNak, match="has no page 45") as caught:
        ntag.write_page(45, b"\x01\x02\x03\x04")
    assert not isinstance(caught.value, TagLocked) and caught.value.code == 0x0
