"""The PN532 emulator's host side: any byte stream, cut anywhere, is parsed and answered
without an exception, and a valid frame after line noise (stray ``00 FF`` start codes
included, issue 10) is still found."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from drivers.emulated.field import Field
from drivers.emulated.pn53x_chip import ERROR_FRAME, FrameParser, HostFrame, Pn53xChip, build_frame

COMMANDS = [0x00, 0x02, 0x04, 0x06, 0x08, 0x0C, 0x12, 0x14, 0x32, 0x40, 0x42, 0x44, 0x4A, 0x52]
PAYLOADS = st.one_of(
    st.binary(max_size=300),
    st.tuples(st.sampled_from(COMMANDS), st.binary(max_size=20)).map(
        lambda t: bytes([0xD4, t[0]]) + t[1]
    ),
)
# noise that cannot complete a frame header on its own: 00 FF pairs and bytes 02-7F
NOISE = st.lists(
    st.sampled_from([b"\x00\xff"])
    | st.binary(min_size=1, max_size=4).map(lambda b: bytes(2 + x % 0x7E for x in b)),
    max_size=6,
).map(b"".join)


@given(st.lists(st.binary(max_size=40) | PAYLOADS.map(build_frame), max_size=8), st.integers(1, 9))
def test_any_byte_stream_cut_anywhere_is_parsed_and_answered(
    pieces: list[bytes], chunk: int
) -> None:
    chip = Pn53xChip(Field("fuzz-pn53x"), "pn532")
    stream = b"".join(pieces)
    for i in range(0, len(stream), chunk):
        reply = chip.process(stream[i : i + chunk])
        assert isinstance(reply, bytes)


@given(NOISE, PAYLOADS.filter(lambda p: len(p) > 0), st.integers(1, 9))
@example(b"\x00\xff", b"\xd4\x02", 64)  # a frame after a stray start code (issue 10)
@example(b"\x00\xff\x00\xff", b"\xd4\x02", 1)
def test_a_frame_after_noise_is_found(noise: bytes, payload: bytes, chunk: int) -> None:
    parser = FrameParser()
    stream = noise + b"\x00" + build_frame(payload)
    frames: list[HostFrame] = []
    for i in range(0, len(stream), chunk):
        frames += parser.feed(stream[i : i + chunk])
    assert frames and frames[-1] == HostFrame("info", payload)


@given(PAYLOADS.filter(len))  # LEN counts the TFI: an information frame is never empty
def test_every_information_frame_gets_an_ack_and_one_reply(payload: bytes) -> None:
    chip = Pn53xChip(Field("fuzz-pn53x"), "pn532")
    reply = chip.process(build_frame(payload))
    assert reply.startswith(bytes.fromhex("0000ff00ff00"))
    rest = reply[6:]
    if rest != ERROR_FRAME:
        (frame,) = FrameParser().feed(rest)  # the parser reads the chip's frames too
        assert frame.kind == "info" and frame.payload[:2] == bytes([0xD5, payload[1] + 1])
