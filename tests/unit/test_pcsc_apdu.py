"""Golden APDUs: the exact bytes ``PcscReader`` sends for each tag command, and how it reads
the answers. The integration test (tests/integration/test_pcsc_vpcd.py) checks that these
same bytes reach the card through pcscd."""

from __future__ import annotations

import pytest
from smartcard import scard

from drivers import pcsc_apdu
from drivers.base import Capability
from drivers.errors import ReaderError, ReaderGone, TagGone
from drivers.pcsc import capabilities_for, scard_error
from drivers.pcsc_apdu import ApduRejected, NoValidAnswer, command_apdu, tag_answer

H = bytes.fromhex


def test_storage_commands_use_part3_apdus_on_every_raw_path() -> None:
    for raw in ("acr122", "transparent"):
        assert command_apdu(H("3004"), raw) == H("FF B0 00 04 10")  # READ p4 -> READ BINARY, 16 B
        assert command_apdu(H("30FF"), raw) == H("FF B0 00 FF 10")  # READ p255: P2 is the page
        assert command_apdu(H("A20401020304"), raw) == H("FF D6 00 04 04 01 02 03 04")
        # WRITE p4 -> UPDATE BINARY: CLA INS P1, P2 = page, Lc = 4, the page's 4 bytes


def test_raw_commands_on_the_acr122u_pass_through() -> None:
    golden = {
        "60": "FF 00 00 00 03 D4 42 60",  # GET_VERSION: Lc=3, InCommunicateThru, 60
        "3C00": "FF 00 00 00 04 D4 42 3C 00",  # READ_SIG address 0
        "3A040F": "FF 00 00 00 05 D4 42 3A 04 0F",  # FAST_READ pages 4-15
        "3902": "FF 00 00 00 04 D4 42 39 02",  # READ_CNT counter 2 (the NFC counter)
        "1BFFFFFFFF": "FF 00 00 00 07 D4 42 1B FF FF FF FF",  # PWD_AUTH default password
        "A004": "FF 00 00 00 04 D4 42 A0 04",  # COMPATIBILITY_WRITE, first frame
        "5000": "FF 00 00 00 04 D4 42 50 00",  # HALT
        "A204": "FF 00 00 00 04 D4 42 A2 04",  # a malformed WRITE is no storage APDU: raw
    }
    for command, apdu in golden.items():
        assert command_apdu(H(command), "acr122") == H(apdu), command


def test_raw_commands_in_a_transparent_exchange() -> None:
    golden = {
        "60": "FF C2 00 01 03 95 01 60 00",  # GET_VERSION: Transceive DO 95 len 1, Le
        "3C00": "FF C2 00 01 04 95 02 3C 00 00",  # READ_SIG
        "3A040F": "FF C2 00 01 05 95 03 3A 04 0F 00",  # FAST_READ pages 4-15
        "3902": "FF C2 00 01 04 95 02 39 02 00",  # READ_CNT
    }
    for command, apdu in golden.items():
        assert command_apdu(H(command), "transparent") == H(apdu), command


def test_reader_control_apdus() -> None:
    assert H("FFCA000000") == pcsc_apdu.GET_UID  # GET DATA: UID, Le=0 (all of it)
    assert H("FFC2000002810000") == pcsc_apdu.START_TRANSPARENT_SESSION  # DO 81: start
    assert H("FFC2000002820000") == pcsc_apdu.END_TRANSPARENT_SESSION  # DO 82: end
    assert pcsc_apdu.SIGNAL_OK[:3] == H("FF0040")  # ACR122U LED/buzzer control
    assert pcsc_apdu.SIGNAL_OK[4:5] == H("04")  # Lc 4: T1 T2 repetitions buzzer
    assert pcsc_apdu.SIGNAL_FAIL[:3] == H("FF0040")


def test_storage_answers() -> None:
    page = bytes(range(16))
    assert tag_answer(H("3004"), "acr122", page + H("9000")) == page  # READ: 16 bytes
    assert tag_answer(H("A20401020304"), "acr122", H("9000")) == H("0A")  # WRITE ok: ACK
    assert tag_answer(H("A20401020304"), "acr122", H("6581")) == H("05")  # EEPROM failure
    assert tag_answer(H("A20401020304"), "acr122", H("6B00")) == H("00")  # no such page
    # 63 00 is a NAK or silence (the reader cannot tell): NAK 0x0, the tag layer re-selects
    assert tag_answer(H("A20401020304"), "acr122", H("6300")) == H("00")
    assert tag_answer(H("3004"), "transparent", H("6300")) == H("00")
    with pytest.raises(NoValidAnswer, match="6F00"):  # anything else: no valid answer
        tag_answer(H("3004"), "acr122", H("6F00"))
    with pytest.raises(NoValidAnswer, match="no status word"):  # vpcd lost the card
        tag_answer(H("3004"), "transparent", b"")


def test_pass_through_answers() -> None:
    version = H("00 04 04 02 01 00 0F 03")
    # D5 43, status 00 (ok), the tag's answer, SW 90 00
    assert tag_answer(H("60"), "acr122", H("D5 43 00") + version + H("90 00")) == version
    assert tag_answer(H("3A3031"), "acr122", H("D5 43 00 00 90 00")) == H("00")  # a NAK
    with pytest.raises(NoValidAnswer, match="PN532 status 01"):  # timeout
        tag_answer(H("60"), "acr122", H("D5 43 01 90 00"))
    with pytest.raises(ApduRejected):  # the reader has no such pseudo-APDU
        tag_answer(H("60"), "acr122", H("6A81"))


def test_transparent_answers() -> None:
    version = H("00 04 04 02 01 00 0F 03")
    ok = H("C0 03 00 90 00  97 08") + version + H("90 00")  # status ok, ICC response DO 97
    assert tag_answer(H("60"), "transparent", ok) == version
    ack = H("C0 03 00 90 00  92 01 04  97 01 0A  90 00")  # 4 valid bits: a 4-bit ACK
    assert tag_answer(H("A0"), "transparent", ack) == H("0A")
    with pytest.raises(NoValidAnswer, match="016401"):  # 64 01: no response from the card
        tag_answer(H("60"), "transparent", H("C0 03 01 64 01  90 00"))


def test_signal_only_on_an_acr122u() -> None:
    assert Capability.SIGNAL in capabilities_for("ACS ACR122U PICC Interface 00 00")
    assert Capability.SIGNAL not in capabilities_for("Virtual PCD 00 00")
    assert Capability.TRANSCEIVE in capabilities_for("Virtual PCD 00 00")


@pytest.mark.parametrize(
    ("rc", "kind"),
    [
        (scard.SCARD_W_REMOVED_CARD, TagGone),  # card left the field
        (scard.SCARD_E_NO_SMARTCARD, TagGone),
        (scard.SCARD_E_NOT_TRANSACTED, TagGone),
        (scard.SCARD_E_NO_SERVICE, ReaderGone),  # pcscd stopped
        (scard.SCARD_E_READER_UNAVAILABLE, ReaderGone),  # reader unplugged
        (scard.SCARD_E_INVALID_HANDLE, ReaderGone),  # pcscd restarted under us
        (scard.SCARD_E_INVALID_PARAMETER, ReaderError),
    ],
)
def test_scard_codes_map_to_the_exception_tree(rc: int, kind: type[Exception]) -> None:
    error = scard_error(rc, "PC/SC reader 'x': exchanging an APDU", url="pcsc:x", uid=b"\x04")
    assert type(error) is kind
    assert f"0x{rc & 0xFFFFFFFF:08X}" in str(error)
