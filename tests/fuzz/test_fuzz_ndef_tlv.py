"""NDEF and the Type 2 TLV area, as read from an untrusted tag: the parsers raise only their
documented errors, and the tag layer turns any user memory into an answer, never a crash."""

from __future__ import annotations

import uuid

import ndef
from hypothesis import example, given, settings
from hypothesis import strategies as st

from drivers.emulated.chip import EmulatedTag
from drivers.errors import TagError
from drivers.mock import bench
from drivers.ndef_tlv import (
    TLV_TERMINATOR,
    NeedMore,
    TlvError,
    decode_message,
    encode_ndef_tlv,
    parse_tlv_area,
    record_to_dict,
)
from drivers.ntag import Ntag21x
from drivers.table import open_reader
from tests.support.fuzz_profile import budget

UID = bytes.fromhex("04E10CDA993C80")


@st.composite
def ndef_records(draw: st.DrawFn) -> bytes:
    """1-3 NDEF records with random flags, TNF, type, id and payload, lengths consistent
    (or, sometimes, not): what a tag written by anyone may hold."""
    out = b""
    for _ in range(draw(st.integers(1, 3))):
        header = draw(st.integers(0, 255))
        rtype = draw(st.binary(max_size=12) | st.sampled_from([b"U", b"T", b"Sp", b"\x80"]))
        rid = draw(st.binary(max_size=4)) if header & 0x08 else b""
        payload = draw(st.binary(max_size=40))
        plen = len(payload) + draw(st.sampled_from([0, 0, 0, 1, -1]))
        plen = max(plen, 0)
        lengths = bytes([len(rtype)])
        lengths += bytes([plen & 0xFF]) if header & 0x10 else plen.to_bytes(4, "big")
        lengths += bytes([len(rid)]) if header & 0x08 else b""
        out += bytes([header]) + lengths + rtype + rid + payload
    return out


@given(st.binary(max_size=600), st.integers(min_value=0, max_value=900))
@example(bytes.fromhex("03FF0100"), 504)
@example(bytes.fromhex("0103A00C34"), 48)
def test_tlv_area_raises_only_tlv_error_or_asks_for_more(data: bytes, size: int) -> None:
    try:
        area = parse_tlv_area(data, size)
    except NeedMore as more:
        assert len(data) < more.size <= size  # asks for bytes it has not seen, inside the area
    except TlvError:
        pass
    else:
        if area.message is not None:
            assert area.offset + area.header_len + len(area.message) <= size


@given(st.binary(max_size=600) | ndef_records())
@example(bytes.fromhex("1102000080"))  # a record type that is not ASCII (issue 10)
def test_ndef_decoding_raises_only_decode_error(message: bytes) -> None:
    try:
        records = decode_message(message)
    except ndef.DecodeError:
        return
    for record in records:
        record_to_dict(record)


@given(st.binary(max_size=900), st.integers(min_value=0, max_value=40))
def test_an_ndef_tlv_reads_back_at_any_offset(message: bytes, nulls: int) -> None:
    area = bytes(nulls) + encode_ndef_tlv(message) + bytes([TLV_TERMINATOR])
    parsed = parse_tlv_area(area, len(area))
    assert parsed.message == message and parsed.offset == nulls


@settings(max_examples=budget(0.5))
@given(
    st.sampled_from(["NTAG213", "NTAG215", "NTAG216"]),
    st.binary(min_size=4, max_size=4) | st.sampled_from([bytes.fromhex("E1101200")]),
    st.binary(max_size=300) | ndef_records().map(lambda m: encode_ndef_tlv(m) + b"\xfe"),
)
@example("NTAG213", bytes.fromhex("E1101200"), bytes.fromhex("03051102000080FE"))
def test_the_tag_layer_reads_any_user_memory_without_crashing(
    product: str, cc: bytes, user: bytes
) -> None:
    tag = EmulatedTag(product, uid=UID)
    tag.memory[12:16] = cc
    tag.memory[16 : 16 + len(user)] = user[: tag.product.user_bytes]
    name = f"fuzz-{uuid.uuid4().hex[:8]}"
    bench(name).place(tag)
    with open_reader(f"mock:{name}") as reader:
        ntag = Ntag21x(reader, reader.wait_for_tag(1))
        try:
            info = ntag.info()
        except TagError:
            return  # a documented refusal (exit 6 at the CLI)
        info.to_dict()
        if info.ndef.error is None and info.ndef.area is not None and info.ndef.records:
            assert info.ndef.message is not None
