"""The emulated NTAG21x follows the datasheet: memory map, commands, OTP and lock semantics,
NAK-then-idle, authentication, the NFC counter and injected faults."""

from __future__ import annotations

import pytest

from drivers.emulated.chip import ACK, NAK_ARGUMENT, NAK_EEPROM, EmulatedTag, Fault, parse_faults
from drivers.products import NTAG213, NTAG215, NTAG216, PRODUCTS

UID = bytes.fromhex("04E10CDA993C80")


def selected(product: str = "NTAG213", **kw: object) -> EmulatedTag:
    tag = EmulatedTag(product, uid=UID, **kw)  # type: ignore[arg-type]
    tag.power_on()
    assert tag.activate()
    return tag


def write(tag: EmulatedTag, page: int, data: bytes) -> bytes | None:
    return tag.transceive(bytes([0xA2, page]) + data)


def reselect(tag: EmulatedTag) -> None:
    assert tag.activate()


@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_get_version_identifies_each_product(name: str) -> None:
    tag = selected(name)
    assert tag.transceive(b"\x60") == PRODUCTS[name].version


def test_uid_pages_carry_the_uid_and_both_check_bytes() -> None:
    tag = selected()
    data = tag.transceive(b"\x30\x00")
    assert data is not None
    assert data[0:3] == UID[0:3] and data[4:8] == UID[3:7]
    assert data[3] == 0x88 ^ UID[0] ^ UID[1] ^ UID[2]  # BCC0
    assert data[8] == UID[3] ^ UID[4] ^ UID[5] ^ UID[6]  # BCC1


@pytest.mark.parametrize(
    ("product", "cc", "user"),
    [
        (NTAG213, "E1101200", "0103A00C340300FE"),
        (NTAG215, "E1103E00", "0300FE00"),
        (NTAG216, "E1106D00", "0300FE00"),
    ],
)
def test_factory_cc_and_user_memory(product: object, cc: str, user: str) -> None:
    tag = selected(product.name)  # type: ignore[attr-defined]
    data = tag.transceive(b"\x30\x03")
    assert data is not None
    assert data[:4] == bytes.fromhex(cc)
    assert data[4 : 4 + len(user) // 2] == bytes.fromhex(user)


def test_read_wraps_past_the_last_page_and_hides_the_password() -> None:
    tag = selected()
    data = tag.transceive(bytes([0x30, NTAG213.pwd_page]))
    assert data is not None
    assert data[:8] == bytes(8)  # PWD and PACK read as zero
    assert data[8:16] == tag.page(0) + tag.page(1)  # rolled over to page 0


def test_fast_read_returns_the_range_and_rejects_bad_ranges() -> None:
    tag = selected()
    assert tag.transceive(b"\x3a\x04\x05") == tag.page(4) + tag.page(5)
    assert tag.transceive(b"\x3a\x05\x04") == NAK_ARGUMENT
    reselect(tag)
    assert tag.transceive(bytes([0x3A, 0x00, NTAG213.last_page + 1])) == NAK_ARGUMENT


def test_nak_sends_the_tag_to_idle_until_reselected() -> None:
    tag = selected()
    assert write(tag, 0x00, b"\x00\x00\x00\x00") == NAK_ARGUMENT  # UID page is read-only
    assert tag.transceive(b"\x60") is None  # idle: silence
    reselect(tag)
    assert tag.transceive(b"\x60") == NTAG213.version


def test_unsupported_command_is_a_nak() -> None:
    tag = selected()
    assert tag.transceive(b"\x1a\x00") == NAK_ARGUMENT  # Ultralight C auth probe
    assert tag.transceive(b"\x60") is None


def test_compatibility_write_stores_the_first_four_bytes() -> None:
    tag = selected()
    assert tag.transceive(b"\xa0\x05") == ACK
    assert tag.transceive(bytes(range(16))) == ACK
    assert tag.page(5) == bytes(range(4))


def test_cc_is_one_time_programmable() -> None:
    tag = selected()
    assert write(tag, 3, b"\x00\x00\x00\x0f") == ACK
    assert tag.page(3) == bytes.fromhex("E110120F")  # ORed in, not replaced
    assert write(tag, 3, b"\x00\x00\x00\x00") == ACK
    assert tag.page(3) == bytes.fromhex("E110120F")  # bits can never be cleared


def test_static_lock_bytes_are_ored_and_bytes_0_1_ignored() -> None:
    tag = selected()
    before = tag.page(2)
    assert write(tag, 2, b"\xaa\xbb\x10\x01") == ACK
    assert write(tag, 2, b"\x00\x00\x00\x00") == ACK
    assert tag.page(2) == before[:2] + b"\x10\x01"


def test_static_block_lock_bit_freezes_page_lock_bits() -> None:
    tag = selected()
    assert write(tag, 2, b"\x00\x00\x02\x00") == ACK  # BL 9-4
    assert write(tag, 2, b"\x00\x00\xf0\x03") == ACK  # L4..L9: frozen, ignored
    assert tag.page(2)[2:] == b"\x02\x00"


def test_lock_bits_take_effect_after_reselect() -> None:
    tag = selected()
    assert write(tag, 2, b"\x00\x00\x10\x00") == ACK  # L4
    assert write(tag, 4, b"\x01\x02\x03\x04") == ACK  # same activation: still writable
    reselect(tag)
    assert write(tag, 4, b"\x05\x06\x07\x08") == NAK_ARGUMENT
    assert tag.page(4) == b"\x01\x02\x03\x04"


def _lock_everything(tag: EmulatedTag) -> None:
    p = tag.product
    assert write(tag, 3, b"\x00\x00\x00\x0f") == ACK
    assert p.dynamic_lock_page is not None and p.lock_all_dynamic is not None
    assert write(tag, p.dynamic_lock_page, p.lock_all_dynamic) == ACK
    assert write(tag, 2, b"\x00\x00\xff\xff") == ACK
    cfg1 = bytearray(tag.page(p.cfg1_page))
    cfg1[0] |= 0x40
    assert write(tag, p.cfg1_page, bytes(cfg1)) == ACK
    reselect(tag)


@pytest.mark.parametrize("product", [NTAG213, NTAG215, NTAG216])
def test_full_lock_refuses_every_write_but_reads_still_work(product: object) -> None:
    tag = selected(product.name)  # type: ignore[attr-defined]
    p = tag.product
    assert write(tag, 4, b"\x03\x03\xd0\x00") == ACK
    _lock_everything(tag)
    refused = [3, *range(p.user_first, p.user_last + 1), p.cfg0_page, p.cfg1_page]
    for page in refused:
        assert write(tag, page, b"\xff\xff\xff\xff") == NAK_ARGUMENT, f"page {page:#x}"
        reselect(tag)
    assert tag.transceive(b"\x30\x04") is not None
    assert tag.page(4) == b"\x03\x03\xd0\x00"
    # lock pages still accept writes, but OTP bits can never be cleared
    before = (tag.page(2), tag.page(p.dynamic_lock_page or 0))
    assert write(tag, 2, bytes(4)) == ACK
    assert write(tag, p.dynamic_lock_page or 0, bytes(4)) == ACK
    assert (tag.page(2), tag.page(p.dynamic_lock_page or 0)) == before


def test_dynamic_lock_bit_locks_its_page_pair_only() -> None:
    tag = selected()
    assert write(tag, 0x28, b"\x01\x00\x00\x00") == ACK  # pages 16-17
    reselect(tag)
    assert write(tag, 16, b"\x01\x01\x01\x01") == NAK_ARGUMENT
    reselect(tag)
    assert write(tag, 17, b"\x01\x01\x01\x01") == NAK_ARGUMENT
    reselect(tag)
    assert write(tag, 18, b"\x01\x01\x01\x01") == ACK


def test_cfglck_locks_configuration_pages() -> None:
    tag = selected()
    p = tag.product
    assert write(tag, p.cfg1_page, b"\x40\x00\x00\x00") == ACK
    reselect(tag)
    assert write(tag, p.cfg0_page, b"\x04\x00\x00\x10") == NAK_ARGUMENT
    reselect(tag)
    assert write(tag, p.cfg1_page, b"\x80\x00\x00\x00") == NAK_ARGUMENT


def test_password_protection_with_prot_hides_and_guards_pages() -> None:
    tag = selected()
    p = tag.product
    assert write(tag, p.pwd_page, b"\x11\x22\x33\x44") == ACK
    assert write(tag, p.pack_page, b"\xab\xcd\x00\x00") == ACK
    assert write(tag, p.cfg1_page, b"\x80\x00\x00\x00") == ACK  # PROT: read+write
    assert write(tag, p.cfg0_page, b"\x04\x00\x00\x10") == ACK  # AUTH0 = page 16
    reselect(tag)
    assert tag.transceive(b"\x30\x10") == NAK_ARGUMENT
    reselect(tag)
    assert tag.transceive(b"\x1b\x11\x22\x33\x44") == b"\xab\xcd"
    assert tag.transceive(b"\x30\x10") is not None
    assert write(tag, 0x10, b"\x01\x02\x03\x04") == ACK


def test_authlim_blocks_after_too_many_wrong_passwords() -> None:
    tag = selected()
    p = tag.product
    assert write(tag, p.cfg1_page, b"\x01\x00\x00\x00") == ACK  # AUTHLIM = 1: 2 tries
    for _ in range(2):
        assert tag.transceive(b"\x1b\x00\x00\x00\x00") == NAK_ARGUMENT
        reselect(tag)
    assert tag.transceive(b"\x1b\xff\xff\xff\xff") == b"\x04"  # even the right one


def test_nfc_counter_counts_once_per_activation_when_enabled() -> None:
    tag = selected()
    p = tag.product
    assert write(tag, p.cfg1_page, b"\x10\x00\x00\x00") == ACK  # NFC_CNT_EN
    for _ in range(3):
        reselect(tag)
        tag.transceive(b"\x30\x04")
        tag.transceive(b"\x30\x08")
    assert tag.transceive(b"\x39\x02") == (3).to_bytes(3, "little")


def test_read_sig_returns_the_stored_signature() -> None:
    tag = selected(signature=bytes(range(32)))
    assert tag.transceive(b"\x3c\x00") == bytes(range(32))


def test_remove_fault_silences_the_tag_from_command_k() -> None:
    tag = selected(faults=(Fault("remove", 2),))
    assert tag.transceive(b"\x60") is not None
    assert tag.transceive(b"\x60") is None
    assert not tag.activate()


def test_tear_fault_half_writes_the_page_and_removes_the_tag() -> None:
    tag = selected(faults=(Fault("tear", 1),))
    old = tag.page(6)
    assert write(tag, 6, b"\x11\x22\x33\x44") is None
    assert tag.page(6) == b"\x11\x22" + old[2:]
    assert not tag.present


def test_eeprom_fault_naks_the_write_and_stores_nothing() -> None:
    tag = selected(faults=(Fault("eeprom", 1),))
    old = tag.page(6)
    assert write(tag, 6, b"\x11\x22\x33\x44") == NAK_EEPROM
    assert tag.page(6) == old


@pytest.mark.parametrize("text", ["remove", "remove@0", "melt@3", "remove@x"])
def test_malformed_fault_spec_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="bad fault"):
        parse_faults(text)
