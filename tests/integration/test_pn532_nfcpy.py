"""nfcpy's unmodified pn532 driver against the PN532 emulator, through our NfcpyReader.

The emulator is a pty; nfcpy opens it as a serial port and runs its whole open sequence
(wake-up, firmware version, SAM configuration, baud rate, 263-byte diagnose echo, RF
configuration). Golden frames at the end pin the host protocol independently of nfcpy.
"""

from __future__ import annotations

import os
import select
import tty
from collections.abc import Iterator

import pytest

from drivers.emulated.chip import EmulatedTag, Fault
from drivers.emulated.field import Field
from drivers.emulated.pn53x_chip import ACK_FRAME, ERROR_FRAME, build_frame
from drivers.emulated.pn532 import Pn532Emulator
from drivers.errors import ReaderGone, ReaderNotFound, TagGone
from drivers.nfcpy_reader import NfcpyReader
from drivers.table import open_reader
from tests.support.pn532_backend import start

UID = bytes.fromhex("04E10CDA993C80")


@pytest.fixture
def field() -> Field:
    return Field("pn532-test")


@pytest.fixture
def emulator(field: Field) -> Iterator[Pn532Emulator]:
    with Pn532Emulator(field) as em:
        yield em


@pytest.fixture
def reader(emulator: Pn532Emulator) -> Iterator[NfcpyReader]:
    r = open_reader(emulator.reader_url)
    assert isinstance(r, NfcpyReader)
    with r:
        yield r


def test_backend_yields_a_url_our_reader_opens(field: Field) -> None:
    field.place(EmulatedTag("NTAG213", uid=UID))
    with start(field) as url, open_reader(url) as r:
        assert url.startswith("nfcpy:tty:")
        assert r.poll().uid == UID


def test_open_runs_nfcpy_open_sequence_without_unknown_commands(
    emulator: Pn532Emulator, reader: NfcpyReader
) -> None:
    assert emulator.chip.unknown == []
    assert emulator.error is None


def test_empty_field_polls_none(reader: NfcpyReader) -> None:
    assert reader.poll() is None


def test_poll_senses_uid_atqa_and_sak(field: Field, reader: NfcpyReader) -> None:
    field.place(EmulatedTag("NTAG215", uid=UID))
    target = reader.poll()
    assert target is not None
    assert (target.uid, target.atqa, target.sak) == (UID, b"\x00\x44", 0x00)


def test_read_returns_four_pages_of_tag_memory(field: Field, reader: NfcpyReader) -> None:
    tag = field.place(EmulatedTag("NTAG213", uid=UID))
    reader.wait_for_tag(timeout=2)
    assert reader.transceive(b"\x30\x00") == bytes(tag.memory[0:16])  # READ page 0


def test_write_is_acknowledged_stored_and_read_back(field: Field, reader: NfcpyReader) -> None:
    tag = field.place(EmulatedTag("NTAG213", uid=UID))
    reader.wait_for_tag(timeout=2)
    assert reader.transceive(b"\xa2\x05\xde\xad\xbe\xef") == b"\x0a"  # WRITE page 5: ACK
    assert tag.page(5) == b"\xde\xad\xbe\xef"
    assert reader.transceive(b"\x30\x05")[:4] == b"\xde\xad\xbe\xef"  # READ page 5


def test_get_version_and_fast_read_pass_through(field: Field, reader: NfcpyReader) -> None:
    tag = field.place(EmulatedTag("NTAG216", uid=UID))
    reader.wait_for_tag(timeout=2)
    assert reader.transceive(b"\x60") == tag.version  # GET_VERSION
    assert reader.transceive(b"\x3a\x00\x07") == bytes(tag.memory[0:32])  # FAST_READ 0-7


def test_nak_is_one_byte_then_tag_is_idle_until_reselected(
    field: Field, reader: NfcpyReader
) -> None:
    tag = field.place(EmulatedTag("NTAG213", uid=UID))
    reader.wait_for_tag(timeout=2)
    assert reader.transceive(b"\xa2\xf0\x00\x00\x00\x00") == b"\x00"  # WRITE page F0: NAK
    with pytest.raises(TagGone):
        reader.transceive(b"\x30\x04")  # idle tag: silence
    assert reader.reselect().uid == UID
    assert reader.transceive(b"\x30\x04") == bytes(tag.memory[16:32])


def test_tag_removed_raises_tag_gone_then_polls_none(field: Field, reader: NfcpyReader) -> None:
    field.place(EmulatedTag("NTAG213", uid=UID))
    reader.wait_for_tag(timeout=2)
    field.remove()
    with pytest.raises(TagGone) as info:
        reader.transceive(b"\x30\x04")
    assert info.value.uid == UID
    assert reader.poll() is None


def test_remove_fault_of_the_chip_model_surfaces_as_tag_gone(
    field: Field, reader: NfcpyReader
) -> None:
    field.place(EmulatedTag("NTAG213", uid=UID, faults=[Fault("remove", 2)]))
    reader.wait_for_tag(timeout=2)
    reader.transceive(b"\x30\x04")
    with pytest.raises(TagGone):
        reader.transceive(b"\x30\x08")
    assert reader.poll() is None


def test_emulator_stopped_mid_session_raises_reader_gone(
    field: Field, emulator: Pn532Emulator, reader: NfcpyReader
) -> None:
    field.place(EmulatedTag("NTAG213", uid=UID))
    reader.wait_for_tag(timeout=2)
    emulator.stop()
    with pytest.raises(ReaderGone):
        reader.transceive(b"\x30\x04")
    with pytest.raises(ReaderGone):
        reader.poll()


def test_replug_on_the_same_link_is_reopened_by_a_new_reader(field: Field, tmp_path) -> None:
    link = str(tmp_path / "ttyNFC0")
    field.place(EmulatedTag("NTAG213", uid=UID))
    first = Pn532Emulator(field, link=link).start()
    url = first.reader_url
    assert url == f"nfcpy:tty:{link}:pn532"
    with open_reader(url) as r:
        assert r.poll().uid == UID
        first.stop()  # unplug
        assert not os.path.lexists(link)
        with pytest.raises(ReaderGone):
            r.poll()
    with pytest.raises(ReaderNotFound):
        open_reader(url)
    with Pn532Emulator(field, link=link) as second, open_reader(url) as r:  # replug
        assert second.reader_url == url
        assert r.poll().uid == UID


@pytest.mark.skipif(not os.access("/dev", os.W_OK), reason="needs a writable /dev for the link")
def test_link_under_dev_opens_with_nfcpys_own_path_and_the_short_url(field: Field) -> None:
    import nfc
    import nfc.clf

    link = f"/dev/ttyNFCt{os.getpid()}"
    field.place(EmulatedTag("NTAG213", uid=UID))
    with Pn532Emulator(field, link=link) as em:
        assert em.reader_url == f"nfcpy:tty:NFCt{os.getpid()}:pn532"
        clf = nfc.ContactlessFrontend(em.nfcpy_path)  # nfcpy's own path handling
        try:
            found = clf.sense(nfc.clf.RemoteTarget("106A"), iterations=1)
            assert bytes(found.sdd_res) == UID
        finally:
            clf.close()
        with open_reader(em.reader_url) as r:
            assert r.poll().uid == UID


# -- golden frames: the host protocol without nfcpy ----------------------------------------
def _exchange(emulator: Pn532Emulator, raw: bytes, expect: int) -> bytes:
    fd = os.open(emulator.device_path, os.O_RDWR | os.O_NOCTTY)
    try:
        tty.setraw(fd)
        os.write(fd, raw)
        got = b""
        while len(got) < expect and select.select([fd], [], [], 2)[0]:
            got += os.read(fd, 4096)
        return got
    finally:
        os.close(fd)


def test_firmware_version_after_libnfc_wakeup_bytes(emulator: Pn532Emulator) -> None:
    wakeup = b"\x55\x55" + bytes(14)
    command = bytes.fromhex("0000ff02fed4022a00")  # GetFirmwareVersion, as nfcpy sends it
    reply = _exchange(emulator, wakeup + command, 6 + 12)
    assert reply == ACK_FRAME + bytes.fromhex("0000ff06fad50332010607e800")


def test_extended_frame_diagnose_echo(emulator: Pn532Emulator) -> None:
    data = b"\x00" + bytes(range(256)) + b"\x01\x02\x03\x04\x05\x06"  # 263 bytes
    command = build_frame(b"\xd4\x00" + data)
    assert command[3:5] == b"\xff\xff"  # extended frame
    reply = _exchange(emulator, command, 6 + len(data) + 12)
    assert reply == ACK_FRAME + build_frame(b"\xd5\x01" + data)


def test_unknown_command_gets_the_syntax_error_frame(emulator: Pn532Emulator) -> None:
    command = build_frame(b"\xd4\x70\x01")
    assert _exchange(emulator, command, 6 + 8) == ACK_FRAME + ERROR_FRAME
    assert emulator.chip.unknown == [b"\xd4\x70\x01"]


def test_in_list_passive_target_answers_from_the_field(
    field: Field, emulator: Pn532Emulator
) -> None:
    field.place(EmulatedTag("NTAG213", uid=UID))
    reply = _exchange(emulator, build_frame(b"\xd4\x4a\x01\x00"), 6 + 21)
    assert reply == ACK_FRAME + build_frame(bytes.fromhex("d54b0101004400 07") + UID)


def test_a_serial_port_where_no_pn532_answers_is_not_found() -> None:
    master, slave = os.openpty()  # a port nobody answers on
    try:
        with pytest.raises(ReaderNotFound) as info:
            open_reader(f"nfcpy:tty:{os.ttyname(slave)}:pn532")
        assert "PN532" in str(info.value)
    finally:
        os.close(master)
        os.close(slave)


def test_cli_emulator_prints_a_url_our_reader_opens_and_cleans_up_on_sigterm(tmp_path) -> None:
    import signal
    import subprocess
    import sys

    link = tmp_path / "ttyNFC9"
    command = [sys.executable, "-m", "nfcbridge.cli.main", "emulate", "pn532"]
    command += ["--link", str(link), "--tag", "ntag215", "--uid", UID.hex()]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("reader URL"):
                url = line.split()[-1]
                break
        assert url == f"nfcpy:tty:{link}:pn532"
        with open_reader(url) as r:
            assert r.poll().uid == UID
            assert r.transceive(b"\x60")[6] == 0x11  # GET_VERSION: NTAG215 storage size
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert proc.returncode == 0
    assert not os.path.lexists(link)


def test_a_tag_swapped_in_without_reselect_sees_no_commands(
    field: Field, reader: NfcpyReader
) -> None:
    field.place(EmulatedTag("NTAG213", uid=UID))
    reader.wait_for_tag(timeout=2)
    field.remove()
    newcomer = field.place(EmulatedTag("NTAG213"))
    with pytest.raises(TagGone):
        reader.transceive(b"\x30\x04")
    assert newcomer.log == []  # its fault counter starts at the first command after selection
    assert reader.reselect().uid == newcomer.uid


def test_a_chip_error_frame_during_poll_is_reader_gone(
    emulator: Pn532Emulator, reader: NfcpyReader
) -> None:
    del emulator.chip._handlers[0x4A]  # InListPassiveTarget now gets the syntax error frame
    with pytest.raises(ReaderGone) as info:
        reader.poll()
    assert "reopen" in str(info.value)
