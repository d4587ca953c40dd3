"""TLV parsing, the write plan's tear-safe order, and lock-bit decoding, on bytes alone."""

from __future__ import annotations

import pytest

from drivers.lockbits import LockLevel, decode_lock_state, lock_writes
from drivers.ndef_tlv import (
    ControlTlv,
    NeedMore,
    TlvError,
    encode_ndef_tlv,
    ndef_capacity,
    parse_tlv_area,
    plan_ndef_write,
)
from drivers.products import NTAG213, NTAG215, NTAG216

FACTORY_213 = bytes.fromhex("0103A00C340300FE") + bytes(136)
FACTORY_215 = bytes.fromhex("0300FE00") + bytes(500)


def pages_of(data: bytes, first: int = 4) -> dict[int, bytes]:
    return {first + i // 4: data[i : i + 4] for i in range(0, len(data), 4)}


def test_factory_ntag213_has_empty_ndef_after_lock_control():
    area = parse_tlv_area(FACTORY_213, 144)
    assert (area.offset, area.length, area.message) == (5, 0, b"")
    (lock,) = area.controls
    assert lock.address == 0x28 * 4 and lock.size == 2  # dynamic lock bytes at page 0x28


def test_three_byte_length_form_is_parsed():
    message = bytes(300)
    data = encode_ndef_tlv(message) + b"\xfe"
    assert data[:4] == bytes.fromhex("03FF012C")
    area = parse_tlv_area(data, 504)
    assert area.length == 300 and area.header_len == 4 and area.message == message


def test_parser_asks_for_more_when_the_message_goes_past_what_was_read():
    data = encode_ndef_tlv(bytes(100))
    with pytest.raises(NeedMore) as more:
        parse_tlv_area(data[:40], 504)
    assert more.value.size == 102


def test_null_tlvs_are_skipped_and_a_terminator_ends_the_area():
    area = parse_tlv_area(bytes.fromhex("0000FE"), 48)
    assert area.length is None and area.offset == 0


def test_length_past_the_data_area_is_malformed():
    with pytest.raises(TlvError):
        parse_tlv_area(bytes.fromhex("0330") + bytes(46), 48)  # 48 bytes after 2 header


def test_capacity_uses_the_three_byte_length_only_when_it_helps():
    assert ndef_capacity(144, 5) == 137  # NTAG213 after its Lock Control TLV
    assert ndef_capacity(496, 0) == 492  # NTAG215 (CC 3E): 496 - 4
    assert ndef_capacity(257, 0) == 254  # 255 would need 4 header bytes: 253 < 254


def test_control_tlv_geometry():
    memory = ControlTlv(0x02, bytes.fromhex("F40344"))  # page 0xF * 16 + 4, 3 bytes
    assert (memory.address, memory.size) == (244, 3)


def test_plan_on_an_empty_tlv_writes_the_length_page_last():
    area = parse_tlv_area(FACTORY_213, 144)
    message = bytes(range(1, 20))
    plan = plan_ndef_write(area, 144, pages_of(FACTORY_213), message)
    order = [page for page, _ in plan.writes]
    assert order == [6, 7, 8, 9, 10, 5]  # page 4 (Lock Control TLV) is unchanged
    assert plan.image[5] == bytes([0x34, 0x03, 19, 1])


def test_plan_over_a_non_empty_message_first_empties_it():
    old = encode_ndef_tlv(b"\x11" * 10) + b"\xfe"
    cached = pages_of(old.ljust(64, b"\x00"))
    area = parse_tlv_area(old, 496)
    plan = plan_ndef_write(area, 496, cached, b"\x22" * 10)
    assert plan.writes[0] == (4, bytes([0x03, 0x00, 0xFE, 0x22]))  # L=0, terminator
    assert plan.writes[-1] == (4, bytes([0x03, 10, 0x22, 0x22]))  # commit
    assert [p for p, _ in plan.writes[1:-1]] == [5, 6]


def test_plan_skips_pages_that_do_not_change():
    data = encode_ndef_tlv(b"\x33" * 10) + b"\xfe"
    cached = pages_of(data.ljust(64, b"\x00"))
    area = parse_tlv_area(data, 496)
    assert plan_ndef_write(area, 496, cached, b"\x33" * 10).writes == ()


def test_decode_partial_lock_states():
    page2 = bytes.fromhex("C9480000")
    cfg0, cfg1 = bytes.fromhex("040000FF"), bytes(4)
    blank = decode_lock_state(NTAG213, page2, NTAG213.factory_cc, bytes(4), cfg0, cfg1)
    assert blank.level is LockLevel.UNLOCKED and blank.locked_pages == ()
    cc_only = decode_lock_state(NTAG213, page2, bytes.fromhex("E110120F"), bytes(4), cfg0, cfg1)
    assert cc_only.level is LockLevel.PARTLY and cc_only.cc_read_only
    full = decode_lock_state(
        NTAG213,
        bytes.fromhex("C948FFFF"),
        bytes.fromhex("E110120F"),
        bytes.fromhex("FF0F3F00"),
        cfg0,
        bytes.fromhex("40000000"),
    )
    assert full.level is LockLevel.LOCKED
    assert full.locked_pages == tuple(range(3, 0x28))
    no_cfglck = decode_lock_state(
        NTAG213,
        bytes.fromhex("C948FFFF"),
        bytes.fromhex("E110120F"),
        bytes.fromhex("FF0F3F00"),
        cfg0,
        cfg1,
    )
    assert no_cfglck.level is LockLevel.PARTLY


@pytest.mark.parametrize(
    ("product", "bit", "pages"),
    [
        (NTAG213, 0, range(16, 18)),
        (NTAG213, 11, range(38, 40)),
        (NTAG215, 7, range(128, 130)),  # the last unit is cut at the last user page
        (NTAG216, 13, range(224, 226)),
    ],
)
def test_dynamic_lock_bit_covers_its_pages(product, bit, pages):
    bits = (1 << bit).to_bytes(2, "little") + b"\x00\x00"
    state = decode_lock_state(product, bytes(4), product.factory_cc, bits, None, None)
    assert state.locked_pages == tuple(pages)


def test_lock_writes_follow_the_safe_order_and_skip_what_is_done():
    page2 = bytes.fromhex("C9480000")
    cfg0, cfg1 = bytes.fromhex("040000FF"), bytes.fromhex("10050000")
    state = decode_lock_state(NTAG215, page2, NTAG215.factory_cc, bytes(4), cfg0, cfg1)
    assert lock_writes(NTAG215, state) == [
        (3, bytes.fromhex("E1103E0F")),  # CC read-only
        (0x82, bytes.fromhex("FF000F00")),  # dynamic lock
        (2, bytes.fromhex("0000FFFF")),  # static lock
        (0x84, bytes.fromhex("50050000")),  # CFGLCK, NFC_CNT_EN and RFUI kept
    ]
    half = decode_lock_state(
        NTAG215, page2, bytes.fromhex("E1103E0F"), bytes.fromhex("FF000F00"), cfg0, cfg1
    )
    assert [page for page, _ in lock_writes(NTAG215, half)] == [2, 0x84]
