"""The chip model under random command sequences with injected faults: a one-time
programmable bit (lock bytes, CC, dynamic lock, CFGLCK) is never cleared, and a command the
tag refuses changes nothing, torn or not (issue 10: a torn WRITE behind AUTH0 did)."""

from __future__ import annotations

import copy

from hypothesis import example, given
from hypothesis import strategies as st

from drivers.emulated.chip import ACK, CFGLCK, EmulatedTag, Fault

UID = bytes.fromhex("04E10CDA993C80")
PAGES = st.integers(0, 0xEA)
DATA = st.binary(min_size=4, max_size=4) | st.sampled_from(
    [b"\xff\xff\xff\xff", b"\x00\x00\xf0\xff", b"\x04\x00\x00\x04", b"\x40\x00\x00\x00"]
)
COMMAND = st.one_of(
    st.tuples(PAGES, DATA).map(lambda t: bytes([0xA2, t[0]]) + t[1]),  # WRITE
    st.tuples(PAGES, st.binary(min_size=16, max_size=16)).map(
        lambda t: [bytes([0xA0, t[0]]), t[1]]  # COMPATIBILITY_WRITE, two frames
    ),
    PAGES.map(lambda p: bytes([0x30, p])),  # READ
    st.tuples(PAGES, PAGES).map(lambda t: bytes([0x3A, *t])),  # FAST_READ
    st.binary(min_size=4, max_size=4).map(lambda p: b"\x1b" + p),  # PWD_AUTH
    st.sampled_from([b"\x60", b"\x39\x02", b"\x3c\x00", b"\x50\x00"]),
    st.binary(max_size=20),
    st.just("activate"),
)
FAULTS = st.lists(st.builds(Fault, st.sampled_from(Fault.KINDS), st.integers(1, 30)), max_size=3)


def otp_bits(tag: EmulatedTag) -> bytes:
    p = tag.product
    bits = tag.page(2)[2:4] + tag.page(3)
    if p.dynamic_lock_page is not None:
        bits += tag.page(p.dynamic_lock_page)[:3]
    if p.has_cfglck:
        bits += bytes([tag.access & CFGLCK])
    return bits


def _steps(commands: list[object]) -> list[bytes | str]:
    out: list[bytes | str] = []
    for c in commands:
        out += c if isinstance(c, list) else [c]  # type: ignore[list-item]
    return out


@given(
    st.sampled_from(["NTAG213", "NTAG215", "NTAG216", "MF0UL11", "MF0UL21"]),
    st.lists(COMMAND, max_size=25),
    FAULTS,
)
@example(  # a torn WRITE behind AUTH0 without authentication (issue 10)
    "NTAG213", [bytes.fromhex("A229 04000004"), bytes.fromhex("A205 DEADBEEF")], [Fault("tear", 2)]
)
def test_otp_bits_never_clear_and_refused_commands_change_nothing(
    product: str, commands: list[object], faults: list[Fault]
) -> None:
    tag = EmulatedTag(product, uid=UID, faults=faults)
    tag.power_on()
    tag.activate()
    for step in _steps(commands):
        if step == "activate":
            tag.activate()
            continue
        assert isinstance(step, bytes)
        clean = copy.deepcopy(tag)
        clean.faults = ()
        would = clean.transceive(step)  # what the tag answers without a fault
        before, otp = bytes(tag.memory), otp_bits(tag)
        answer = tag.transceive(step)
        after = otp_bits(tag)
        assert all(b & ~a == 0 for b, a in zip(otp, after, strict=True)), "an OTP bit cleared"
        if would != ACK:  # refused (NAK), silent, or not a write: memory as it was
            assert bytes(tag.memory) == before
        elif bytes(tag.memory) != before:
            now = bytes(tag.memory)
            changed = {i // 4 for i in range(len(now)) if now[i] != before[i]}
            assert len(changed) == 1  # a write (torn or whole) touches its own page only
        if answer is not None and len(answer) == 1 and answer != ACK:
            assert bytes(tag.memory) == before
