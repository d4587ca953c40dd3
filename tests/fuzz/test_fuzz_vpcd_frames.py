"""The vpcd virtual card: any C-APDU gets an R-APDU ending in a status word, and any stream
of vpcd messages (2-byte length, payload) is answered message by message over a real
socket without the card's thread dying (a 256-byte answer killed it before issue 10)."""

from __future__ import annotations

import socket
import struct
import threading

from hypothesis import example, given, settings
from hypothesis import strategies as st

from drivers.emulated.chip import EmulatedTag
from drivers.emulated.field import Field
from drivers.emulated.vpcd import CTRL_ATR, StorageCardApdus, VirtualCard
from tests.support.fuzz_profile import budget

UID = bytes.fromhex("04E10CDA993C80")
APDUS = st.one_of(
    st.binary(max_size=40),
    st.tuples(
        st.sampled_from([0xFF, 0x00]),
        st.sampled_from([0xCA, 0xB0, 0xD6, 0x00, 0xC2, 0x42]),
        st.integers(0, 255),
        st.integers(0, 255),
        st.binary(max_size=30),
    ).map(lambda t: bytes(t[:4]) + t[4]),
    st.tuples(st.integers(0, 0xE6), st.integers(0, 0xE6)).map(
        lambda t: bytes.fromhex("FFC2000105950300") + bytes(t) + b"\x00"
    ),
)


def _field(product: str = "NTAG216") -> tuple[Field, EmulatedTag]:
    field = Field("fuzz-vpcd")
    tag = field.place(EmulatedTag(product, uid=UID))
    tag.activate()
    return field, tag


@given(st.lists(APDUS, min_size=1, max_size=8))
@example([bytes.fromhex("FFC20001059503 3A003F 00")])  # a 256-byte answer (issue 10)
def test_any_apdu_gets_an_answer_ending_in_a_status_word(apdus: list[bytes]) -> None:
    field, tag = _field()
    card = StorageCardApdus(field)
    for apdu in apdus:
        if field.tag is None or not tag._selected:
            tag.activate()
        answer = card.answer(apdu)
        assert len(answer) >= 2


def _message(payload: bytes) -> bytes:
    return struct.pack(">H", len(payload)) + payload


@settings(max_examples=budget(0.3))
@given(
    st.lists(APDUS.filter(lambda a: len(a) != 1) | st.sampled_from([b"\x04", b"\x01", b"\x09"])),
    st.integers(1, 7),
)
@example([bytes.fromhex("FFC20001059503 3A00E6 00"), b"\x04"], 3)
def test_a_stream_of_vpcd_messages_is_answered_one_by_one(
    messages: list[bytes], chunk: int
) -> None:
    field, tag = _field()
    card = VirtualCard(field)
    ours, theirs = socket.socketpair()
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            card._serve(theirs, tag)
        except BaseException as exc:  # the card thread must never die
            failure.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ours.settimeout(10)
    stream = b"".join(_message(m) for m in messages)
    for i in range(0, len(stream), chunk):  # split anywhere, as TCP may
        ours.sendall(stream[i : i + chunk])
    reader = ours.makefile("rb")
    for m in messages:
        if len(m) == 1 and m[0] != CTRL_ATR:
            continue  # power on/off, reset, unknown: no answer
        (size,) = struct.unpack(">H", reader.read(2))
        reply = reader.read(size)
        assert len(reply) == size >= 2
    field.remove()
    thread.join(5)
    ours.close()
    theirs.close()
    assert not thread.is_alive() and not failure
    assert all("unknown vpcd control code" in e for e in card.errors)
