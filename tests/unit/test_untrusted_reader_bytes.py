"""Bytes from tags and readers are untrusted: each case here crashed or misled on an earlier
main (issue 10) and now gets its module's documented outcome."""

from __future__ import annotations

import json
import uuid

import ndef
import pytest
from click.testing import CliRunner

from drivers.emulated.chip import ACK, EmulatedTag, Fault
from drivers.emulated.field import Field
from drivers.emulated.pn53x_chip import FrameParser, HostFrame, build_frame
from drivers.emulated.vpcd import StorageCardApdus
from drivers.mock import bench
from drivers.ndef_tlv import decode_message
from drivers.ntag import Ntag21x
from drivers.pcsc_apdu import NoValidAnswer, command_apdu, parse_tlv, tag_answer
from drivers.table import open_reader
from drivers.uidline import UidLineError, parse_uid_line
from nfcbridge.cli.main import cli

UID = bytes.fromhex("04E10CDA993C80")
BAD_UTF8_MESSAGE = bytes.fromhex("1102000080")  # a record whose type is not ASCII


# -- NDEF from a tag ----------------------------------------------------------------------
def test_an_ndef_record_type_that_is_not_ascii_is_a_decode_error() -> None:
    with pytest.raises(ndef.DecodeError):
        decode_message(BAD_UTF8_MESSAGE)


@pytest.fixture
def bad_tag(tmp_path, monkeypatch):
    """A mock reader with an NTAG213 whose NDEF message does not decode."""
    monkeypatch.setenv("NFCBRIDGE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("NFCBRIDGE_CONFIG", raising=False)
    name = f"bad-{uuid.uuid4().hex[:8]}"
    bench(name).place(EmulatedTag("NTAG213", uid=UID))
    url = f"mock:{name}"
    with open_reader(url) as reader:
        Ntag21x(reader, reader.wait_for_tag(1)).write_ndef(BAD_UTF8_MESSAGE)
    return url


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_tag_info_reports_an_undecodable_message_instead_of_crashing(bad_tag: str) -> None:
    result = _run("tag", "info", "--reader", bad_tag, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ndef"]["error"].startswith("undecodable NDEF message")


def test_tag_lock_refuses_a_tag_whose_message_does_not_decode(bad_tag: str) -> None:
    result = _run("tag", "lock", "--reader", bad_tag, "--yes")
    assert result.exit_code == 6, result.output  # a refused tag
    assert "no valid NDEF message" in result.stderr


def test_tag_write_replaces_an_undecodable_message(bad_tag: str) -> None:
    result = _run("tag", "write", "--reader", bad_tag, "--uri", "https://kvitto.example.se/t/x")
    assert result.exit_code == 0, result.output
    assert "https://kvitto" in _run("tag", "info", "--reader", bad_tag).stdout


# -- PC/SC answers and commands -----------------------------------------------------------
FAST_READ_60 = bytes([0x3A, 0x04, 0x3F])  # FAST_READ pages 04-3F: 240 bytes


def test_a_long_form_ber_length_in_a_transparent_answer_is_read_whole() -> None:
    data = bytes(range(240))
    response = bytes.fromhex("C003009000 9781F0") + data + b"\x90\x00"
    assert tag_answer(FAST_READ_60, "transparent", response) == data
    big = bytes(range(256)) * 3 + bytes(156)  # 924 bytes: a whole NTAG216 user area
    response = bytes.fromhex("C003009000 9782039C") + big + b"\x90\x00"
    assert tag_answer(FAST_READ_60, "transparent", response) == big


def test_a_truncated_transparent_answer_is_no_valid_answer() -> None:
    with pytest.raises(NoValidAnswer):
        tag_answer(FAST_READ_60, "transparent", bytes.fromhex("C0030090009781F0AA9000"))
    with pytest.raises(ValueError):
        parse_tlv(bytes.fromhex("9783000001AA"))  # 3-byte lengths are not PC/SC's


def test_a_long_raw_command_gets_a_ber_length_in_the_transparent_exchange() -> None:
    command = bytes(200)
    apdu = command_apdu(command, "transparent")
    assert apdu[:8] == bytes.fromhex("FFC20001CB 9581C8")  # Lc 203: 95 81 C8 + 200
    with pytest.raises(ValueError):
        command_apdu(bytes(300), "transparent")


@pytest.mark.parametrize("raw", ["acr122", "transparent"])
def test_an_empty_command_is_carried_and_answered_without_index_error(raw: str) -> None:
    assert command_apdu(b"", raw)
    response = b"\xd5\x43\x00" + b"\x90\x00" if raw == "acr122" else b"\xc0\x03\x00\x90\x00"
    response = response if raw == "acr122" else response + b"\x97\x00\x90\x00"
    assert tag_answer(b"", raw, response) == b""


def test_a_two_byte_a2_pass_through_keeps_the_tags_nak() -> None:
    command = b"\xa2\x05"  # not a WRITE (that has 6 bytes): carried raw
    apdu = command_apdu(command, "acr122")
    assert apdu == bytes.fromhex("FF00000004D442A205")  # pass-through, not UPDATE BINARY
    assert tag_answer(command, "acr122", bytes.fromhex("D54300009000")) == b"\x00"  # NAK 0


# -- the vpcd emulator --------------------------------------------------------------------
def _transparent(command: bytes) -> bytes:
    return command_apdu(command, "transparent")


def test_vpcd_answers_a_fast_read_of_256_bytes_or_more_with_ber_lengths() -> None:
    field = Field("vpcd-ber")
    tag = field.place(EmulatedTag("NTAG216", uid=UID))
    tag.power_on()
    tag.activate()
    apdus = StorageCardApdus(field)
    answer = apdus.answer(_transparent(bytes([0x3A, 0x00, 0x3F])))  # 64 pages: 256 bytes
    assert answer[:9] == bytes.fromhex("C003009000 97820100")
    assert answer[9:-2] == bytes(tag.memory[:256]) and answer[-2:] == b"\x90\x00"
    answer = apdus.answer(_transparent(bytes([0x3A, 0x04, 0x3F])))  # 240 bytes
    assert answer[5:8] == bytes.fromhex("9781F0")


# -- serial UID lines ---------------------------------------------------------------------
def test_a_line_of_thousands_of_digits_is_a_uid_line_error() -> None:
    with pytest.raises(UidLineError):
        parse_uid_line("9" * 5000)
    with pytest.raises(UidLineError):
        parse_uid_line("9" * 5000, "decimal-reversed")


# -- the chip model -----------------------------------------------------------------------
def test_a_torn_write_behind_auth0_without_authentication_changes_nothing() -> None:
    tag = EmulatedTag("NTAG213", uid=UID, faults=[Fault("tear", 2)])
    tag.power_on()
    tag.activate()
    cfg0 = tag.product.cfg0_page
    assert tag.transceive(bytes([0xA2, cfg0]) + b"\x04\x00\x00\x04") == ACK  # AUTH0 = 4
    before = bytes(tag.memory)
    assert tag.transceive(bytes([0xA2, 0x05]) + b"\xde\xad\xbe\xef") is None  # torn, gone
    assert bytes(tag.memory) == before


def test_a_torn_write_to_a_locked_page_or_no_page_changes_nothing() -> None:
    tag = EmulatedTag("NTAG213", uid=UID, faults=[Fault("tear", 3)])
    tag.power_on()
    tag.activate()
    assert tag.transceive(bytes([0xA2, 0x02]) + b"\x00\x00\xf0\x00") == ACK  # lock 4-7
    tag.activate()
    assert tag.transceive(bytes([0x30, 0x00])) is not None
    before = bytes(tag.memory)
    assert tag.transceive(bytes([0xA2, 0x04]) + b"\xde\xad\xbe\xef") is None
    assert bytes(tag.memory) == before


# -- the PN532 emulator -------------------------------------------------------------------
def test_a_frame_after_a_stray_start_code_is_still_parsed() -> None:
    frame = b"\x00" + build_frame(b"\xd4\x02")  # preamble, GetFirmwareVersion
    frames = FrameParser().feed(b"\x00\xff" + frame)
    assert HostFrame("info", b"\xd4\x02") in frames


def test_a_frame_after_a_corrupt_frame_is_still_parsed() -> None:
    corrupt = bytearray(build_frame(b"\xd4\x02"))
    corrupt[-2] ^= 0x01  # data checksum
    frames = FrameParser().feed(bytes(corrupt[:-1]) + build_frame(b"\xd4\x04"))
    assert frames[-1] == HostFrame("info", b"\xd4\x04")
