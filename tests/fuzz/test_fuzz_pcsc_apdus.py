"""PC/SC: any answer from a reader maps to the tag's answer or to the documented errors,
BER-TLV lengths read back, and a raw command carried through the emulated reader
(``StorageCardApdus``, what vpcd serves) gives the chip's own answer on both raw paths."""

from __future__ import annotations

import contextlib
import copy

from hypothesis import example, given
from hypothesis import strategies as st

from drivers.emulated.chip import EmulatedTag
from drivers.emulated.field import Field
from drivers.emulated.vpcd import StorageCardApdus
from drivers.pcsc_apdu import (
    RAW_MODES,
    ApduRejected,
    NoValidAnswer,
    ber_length,
    command_apdu,
    parse_tlv,
    tag_answer,
)

UID = bytes.fromhex("04E10CDA993C80")
COMMANDS = st.one_of(
    st.binary(max_size=40),
    st.tuples(
        st.sampled_from([0x30, 0xA2, 0x3A, 0x60, 0x3C, 0x39, 0x1B]), st.binary(max_size=8)
    ).map(lambda t: bytes([t[0]]) + t[1]),
    st.tuples(st.integers(0, 0xE6), st.integers(0, 0xE6)).map(lambda t: bytes([0x3A, *t])),
)
SW = st.sampled_from([b"\x90\x00", b"\x63\x00", b"\x65\x81", b"\x6a\x81", b"\x6d\x00", b"\x6f\x00"])


@given(COMMANDS, st.sampled_from(RAW_MODES), st.binary(max_size=300), SW | st.binary(max_size=2))
@example(b"", "acr122", b"\xd5\x43\x00", b"\x90\x00")  # empty command (issue 10)
@example(b"\xa2\x05", "acr122", b"\xd5\x43\x00\x00", b"\x90\x00")  # 2-byte A2 (issue 10)
@example(b"\x3a\x04\x3f", "transparent", bytes.fromhex("C0030090009781F0"), b"\x90\x00")
def test_any_reader_answer_is_a_tag_answer_or_a_documented_error(
    command: bytes, raw: str, data: bytes, sw: bytes
) -> None:
    try:
        command_apdu(command, raw)
    except ValueError:
        return  # too long for a short APDU: the driver says CapabilityMissing
    try:
        answer = tag_answer(command, raw, data + sw)
    except (NoValidAnswer, ApduRejected):
        return
    assert isinstance(answer, bytes)


@given(st.lists(st.tuples(st.sampled_from([0x97, 0x92, 0xC0, 0x5F46]), st.binary(max_size=700))))
def test_ber_tlv_objects_read_back(objects: list[tuple[int, bytes]]) -> None:
    data = b"".join(
        tag.to_bytes(2 if tag > 0xFF else 1, "big") + ber_length(len(value)) + value
        for tag, value in objects
    )
    assert parse_tlv(data) == dict(objects)


@given(st.binary(max_size=300))
def test_parse_tlv_raises_only_value_error(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        parse_tlv(data)


def _pair(product: str) -> tuple[EmulatedTag, Field]:
    tag = EmulatedTag(product, uid=UID)
    tag.power_on()
    tag.activate()
    field = Field("fuzz-pcsc")
    field.place(copy.deepcopy(tag)).activate()  # placing powers the tag up: select it
    return tag, field


@given(
    st.sampled_from(["NTAG213", "NTAG215", "NTAG216", "MF0UL21"]),
    st.lists(COMMANDS.filter(lambda c: len(c) > 0), min_size=1, max_size=6),
    st.sampled_from(RAW_MODES),
)
@example("NTAG216", [b"\x3a\x00\x3f"], "transparent")  # 256 bytes (issue 10)
@example("NTAG216", [b"\x3a\x00\xe6"], "transparent")  # the whole NTAG216: 924 bytes
def test_a_raw_command_through_the_emulated_reader_is_the_chips_own_answer(
    product: str, commands: list[bytes], raw: str
) -> None:
    direct, field = _pair(product)
    apdus = StorageCardApdus(field)
    for command in commands:
        if command_apdu(command, raw)[1] not in (0x00, 0xC2):
            continue  # a storage command: the reader's own semantics (golden-tested)
        want = direct.transceive(command)
        if not direct._selected:
            direct.activate()  # a NAK idles the tag: re-select both (the driver does)
        got_apdu = apdus.answer(command_apdu(command, raw))
        assert field.tag is not None
        if not field.tag._selected:
            field.tag.activate()
        try:
            got = tag_answer(command, raw, got_apdu)
        except NoValidAnswer:
            got = None
        assert got == want
