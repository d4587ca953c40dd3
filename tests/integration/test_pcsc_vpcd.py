"""pyscard's real stack, through a real pcscd and its vpcd driver, to the virtual card over
the chip model: what ``PcscReader`` sees is what a program sees on a real PC/SC reader."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from drivers.base import Capability
from drivers.emulated.chip import EmulatedTag, Fault
from drivers.emulated.field import Field
from drivers.emulated.vpcd import VirtualCard
from drivers.errors import ReaderBusy, ReaderNotFound, ReaderURLError, TagGone
from drivers.pcsc import PcscReader
from drivers.pcsc_apdu import command_apdu
from drivers.table import open_reader
from tests.support.vpcd_backend import PcscdUnavailable, start_card

pytestmark = pytest.mark.pcscd

UID = bytes.fromhex("04E10CDA993C80")


@pytest.fixture
def field() -> Field:
    return Field("pcsc-test")


@pytest.fixture
def card(field: Field) -> Iterator[VirtualCard]:
    try:
        with start_card(field) as card:
            yield card
    except PcscdUnavailable as exc:
        pytest.skip(str(exc))


def test_uid_of_the_placed_tag_comes_back_through_pcscd(field: Field, card: VirtualCard) -> None:
    field.place(EmulatedTag("NTAG213", uid=UID))
    with open_reader(card.reader_url) as reader:
        target = reader.wait_for_tag(timeout=5)
    assert target.uid == UID
    assert b"\xff\xca\x00\x00\x00" in card.apdus.apdus  # GET DATA (UID), as on any reader


def test_read_returns_four_pages_of_chip_memory(field: Field, card: VirtualCard) -> None:
    tag = field.place(EmulatedTag("NTAG215", uid=UID))
    with open_reader(card.reader_url) as reader:
        reader.wait_for_tag(timeout=5)
        assert reader.transceive(b"\x30\x03") == bytes(tag.memory[12:28])
    assert card.apdus.apdus[-1] == bytes.fromhex("FFB0000310")  # READ BINARY page 3, 16 B


def test_write_stores_the_page_in_the_chip(field: Field, card: VirtualCard) -> None:
    tag = field.place(EmulatedTag("NTAG213", uid=UID))
    with open_reader(card.reader_url) as reader:
        reader.wait_for_tag(timeout=5)
        assert reader.transceive(b"\xa2\x06\xde\xad\xbe\xef") == b"\x0a"  # ACK
    assert tag.page(6) == b"\xde\xad\xbe\xef"
    assert card.apdus.apdus[-1] == bytes.fromhex("FFD6000604DEADBEEF")  # UPDATE BINARY


@pytest.mark.parametrize("raw", ["acr122", "transparent"])
def test_raw_commands_reach_the_chip_on_both_pass_through_paths(
    field: Field, card: VirtualCard, raw: str
) -> None:
    tag = field.place(EmulatedTag("NTAG216", uid=UID))
    with open_reader(f"{card.reader_url}?raw={raw}") as reader:
        reader.wait_for_tag(timeout=5)
        commands = {
            b"\x60": tag.product.version,  # GET_VERSION
            b"\x3c\x00": tag.signature,  # READ_SIG
            b"\x3a\x03\x05": bytes(tag.memory[12:24]),  # FAST_READ pages 3-5
            b"\x39\x02": b"\x00\x00\x00",  # READ_CNT (counter off: still zero)
        }
        for command, expected in commands.items():
            assert reader.transceive(command) == expected, command.hex()
            assert card.apdus.apdus[-1] == command_apdu(command, raw)
    assert [c for c in tag.log if c[0] in (0x60, 0x3C, 0x3A, 0x39)] == list(commands)


def test_a_write_refused_by_the_tag_is_nak_0_and_the_tag_reselects(
    field: Field, card: VirtualCard
) -> None:
    tag = field.place(EmulatedTag("NTAG213", uid=UID))
    with open_reader(card.reader_url) as reader:
        reader.wait_for_tag(timeout=5)
        assert reader.transceive(b"\xa2\x02\x00\x00\x00\x00") == b"\x0a"  # no lock bits
        assert reader.transceive(b"\xa2\x30\x00\x00\x00\x00") == b"\x00"  # no page 0x30
        assert card.apdus.apdus[-1] == bytes.fromhex("FFD600300400000000")  # -> 63 00
        with pytest.raises(TagGone):
            reader.transceive(b"\x60")  # idle after the NAK
        assert reader.reselect().uid == UID  # still there: it was a NAK, not a removal
        assert reader.transceive(b"\x30\x04") == bytes(tag.memory[16:32])


def test_a_write_when_the_tag_left_is_nak_then_reselect_says_tag_gone(
    field: Field, card: VirtualCard
) -> None:
    field.place(EmulatedTag("NTAG213", uid=UID, faults=[Fault("remove", 1)]))
    with open_reader(card.reader_url) as reader:
        reader.wait_for_tag(timeout=5)
        try:
            answer = reader.transceive(b"\xa2\x04\x01\x02\x03\x04")
        except TagGone:
            answer = None  # vpcd lost the card before answering: also what readers do
        assert answer in (None, b"\x00")
        with pytest.raises(TagGone):
            reader.reselect()


@pytest.mark.parametrize("raw", ["acr122", "transparent"])
def test_raw_nak_is_returned_and_the_idle_tags_silence_is_tag_gone(
    field: Field, card: VirtualCard, raw: str
) -> None:
    tag = field.place(EmulatedTag("NTAG213", uid=UID))
    with open_reader(f"{card.reader_url}?raw={raw}") as reader:
        reader.wait_for_tag(timeout=5)
        assert reader.transceive(b"\x3a\x30\x31") == b"\x00"  # FAST_READ past the end: NAK
        with pytest.raises(TagGone):
            reader.transceive(b"\x60")  # idle after the NAK: no answer
        assert reader.reselect().uid == UID
        assert reader.transceive(b"\x60") == tag.product.version


def test_eeprom_write_error_comes_back_as_nak_5(field: Field, card: VirtualCard) -> None:
    field.place(EmulatedTag("NTAG213", uid=UID, faults=[Fault("eeprom", 1)]))
    with open_reader(card.reader_url) as reader:
        reader.wait_for_tag(timeout=5)
        assert reader.transceive(b"\xa2\x04\x01\x02\x03\x04") == b"\x05"


@pytest.mark.parametrize("raw", ["acr122", "transparent"])
def test_tag_removed_mid_sequence_raises_tag_gone_then_reads_as_absent(
    field: Field, card: VirtualCard, raw: str
) -> None:
    field.place(EmulatedTag("NTAG213", uid=UID, faults=[Fault("remove", 2)]))
    with open_reader(f"{card.reader_url}?raw={raw}") as reader:
        reader.wait_for_tag(timeout=5)
        assert reader.transceive(b"\x60")[:2] == b"\x00\x04"
        with pytest.raises(TagGone):
            reader.transceive(b"\x30\x04")
        assert reader.wait_for_removal(timeout=5)


def test_insert_and_removal_are_seen_by_the_reader(field: Field, card: VirtualCard) -> None:
    with open_reader(card.reader_url) as reader:
        assert reader.poll() is None
        field.place(EmulatedTag("NTAG213", uid=UID))
        assert reader.wait_for_tag(timeout=5).uid == UID
        field.remove()
        assert reader.wait_for_removal(timeout=5)
        second = field.place(EmulatedTag("NTAG215"))
        assert reader.wait_for_tag(timeout=5).uid == second.uid


def test_a_second_program_gets_reader_busy_while_the_card_is_held(
    field: Field, card: VirtualCard
) -> None:
    field.place(EmulatedTag("NTAG213", uid=UID))
    with open_reader(card.reader_url) as first, open_reader(card.reader_url) as second:
        first.wait_for_tag(timeout=5)
        with pytest.raises(ReaderBusy, match="in use by another program"):
            second.poll()


def test_shared_mode_lets_two_programs_read_the_uid(field: Field, card: VirtualCard) -> None:
    field.place(EmulatedTag("NTAG213", uid=UID))
    url = f"{card.reader_url}?share=shared"
    with open_reader(url) as first, open_reader(url) as second:
        assert first.wait_for_tag(timeout=5).uid == second.wait_for_tag(timeout=5).uid == UID


def test_unknown_reader_name_lists_the_readers_present(card: VirtualCard) -> None:
    with pytest.raises(ReaderNotFound, match="Virtual PCD 00 00"):
        open_reader("pcsc:No Such Reader")


def test_ambiguous_name_asks_for_a_longer_substring(card: VirtualCard) -> None:
    with pytest.raises(ReaderURLError, match="several PC/SC readers"):
        open_reader("pcsc:virtual pcd")


def test_detect_lists_the_virtual_readers(card: VirtualCard) -> None:
    urls = [r.url for r in PcscReader.detect()]
    assert card.reader_url in urls


def test_vpcd_reader_declares_transceive_but_no_signal(field: Field, card: VirtualCard) -> None:
    with open_reader(card.reader_url) as reader:
        assert Capability.TRANSCEIVE in reader.capabilities
        assert Capability.SIGNAL not in reader.capabilities  # not an ACR122U


PROBE = """
import sys
from drivers.errors import ReaderError
from drivers.pcsc import PcscReader
from drivers.table import open_reader
print("detect", PcscReader.detect())
try:
    open_reader("pcsc:Virtual PCD 00 00")
except ReaderError as exc:
    print("error", type(exc).__name__, exc)
    sys.exit(0)
sys.exit(3)
"""


def test_without_pcscd_open_is_a_clear_reader_error_and_detect_is_empty(tmp_path) -> None:
    # libpcsclite finds pcscd through PCSCLITE_CSOCK_NAME: point it at a socket that does
    # not exist, which is what a client sees when pcscd is not running.
    env = dict(os.environ, PCSCLITE_CSOCK_NAME=str(tmp_path / "no-pcscd.comm"))
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert "detect []" in result.stdout
    assert "error ReaderNotFound" in result.stdout
    assert "pcscd is not running" in result.stdout
