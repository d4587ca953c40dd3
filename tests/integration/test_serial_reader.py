"""The serial: driver over a real pseudo-terminal: pyserial opens the slave, the test plays the
reader by writing lines on the master side."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

import pytest

from drivers.errors import CapabilityMissing, ReaderBusy, ReaderGone, ReaderNotFound
from drivers.serial_reader import SerialReader
from drivers.table import make_reader, open_reader

UID7 = bytes.fromhex("04A1B2C3D4E5F6")
UID4 = bytes.fromhex("DEADBEEF")


class Pty:
    def __init__(self) -> None:
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        os.close(slave)  # pyserial opens the slave by its path, like a /dev/ttyUSB0

    def send(self, line: str, end: str = "\r\n") -> None:
        os.write(self.master, (line + end).encode("latin-1"))

    def unplug(self) -> None:
        if self.master >= 0:
            os.close(self.master)
            self.master = -1


@pytest.fixture
def pty() -> Iterator[Pty]:
    p = Pty()
    yield p
    p.unplug()


def _open(pty: Pty, query: str = "") -> SerialReader:
    reader = open_reader(f"serial:{pty.path}?hold=0.3{'&' + query if query else ''}")
    assert isinstance(reader, SerialReader)
    return reader


def _first_tag(reader: SerialReader, timeout: float = 2.0) -> bytes:
    return reader.wait_for_tag(timeout).uid


@pytest.mark.parametrize(
    ("query", "line", "uid"),
    [
        ("", "04:A1:B2:C3:D4:E5:F6", UID7),
        ("format=hex", "04 A1 B2 C3 D4 E5 F6", UID7),
        ("", "04A1B2C3D4E5F6", UID7),
        ("format=hex-reversed", "F6:E5:D4:C3:B2:A1:04", UID7),
        ("format=decimal", str(int.from_bytes(UID4, "big")).zfill(10), UID4),
        ("", str(int.from_bytes(UID7, "big")), UID7),
        ("format=decimal-reversed", str(int.from_bytes(UID4[::-1], "big")).zfill(10), UID4),
    ],
)
def test_each_line_format_gives_the_right_uid(pty: Pty, query: str, line: str, uid: bytes) -> None:
    with _open(pty, query) as reader:
        pty.send(line)
        assert _first_tag(reader) == uid


def test_noise_lines_are_ignored_with_a_warning(pty: Pty, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="drivers.serial")
    with _open(pty) as reader:
        pty.send("RFID reader v1.2 (c) ACME")
        pty.send("garbage%%%")
        pty.send("04:A1:B2:C3:D4:E5:F6")
        assert _first_tag(reader) == UID7
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("RFID reader v1.2" in w for w in warnings)
    assert any("garbage" in w for w in warnings)


def test_tag_stays_present_while_lines_repeat_and_leaves_after_hold(pty: Pty) -> None:
    with _open(pty) as reader:
        pty.send(UID7.hex())
        assert _first_tag(reader) == UID7
        for _ in range(4):  # the reader repeats the line while the tag is held
            time.sleep(0.1)
            pty.send(UID7.hex())
            assert reader.poll() is not None
        assert reader.wait_for_removal(timeout=2.0)
        assert reader.poll() is None


def test_two_quick_taps_are_two_presentations(pty: Pty) -> None:
    with _open(pty) as reader:
        pty.send(UID7.hex())
        pty.send(UID4.hex())
        time.sleep(0.1)  # both lines are waiting before the first poll
        seen = [reader.poll(), reader.poll()]
        assert [t.uid for t in seen if t] == [UID7, UID4]


def test_the_same_uid_after_hold_is_a_new_presentation(pty: Pty) -> None:
    with _open(pty) as reader:
        pty.send(UID7.hex())
        assert _first_tag(reader) == UID7
        assert reader.wait_for_removal(timeout=2.0)
        pty.send(UID7.hex())
        assert _first_tag(reader) == UID7


def test_device_vanishing_is_readergone(pty: Pty) -> None:
    with _open(pty) as reader:
        pty.send(UID7.hex())
        assert _first_tag(reader) == UID7
        pty.unplug()
        with pytest.raises(ReaderGone):
            for _ in range(50):
                reader.poll()
                time.sleep(0.02)


def test_taps_only_transceive_raises_capabilitymissing(pty: Pty) -> None:
    with _open(pty) as reader, pytest.raises(CapabilityMissing):
        reader.transceive(b"\x30\x04")


def test_missing_port_is_readernotfound(tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(ReaderNotFound):
        open_reader(f"serial:{tmp_path}/ttyUSB9")


def test_port_held_by_another_reader_is_readerbusy(pty: Pty) -> None:
    with _open(pty), pytest.raises(ReaderBusy):
        open_reader(f"serial:{pty.path}")


def test_bad_format_in_url_is_rejected_before_opening(pty: Pty) -> None:
    from drivers.errors import ReaderURLError

    with pytest.raises(ReaderURLError):
        make_reader(f"serial:{pty.path}?format=octal")


def test_detect_lists_usb_and_acm_ports_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import drivers.serial_reader as module

    fake = {"/dev/ttyUSB*": ["/dev/ttyUSB1", "/dev/ttyUSB0"], "/dev/ttyACM*": ["/dev/ttyACM0"]}
    monkeypatch.setattr(module.glob, "glob", lambda pattern: fake.get(pattern, []))
    urls = [d.url for d in SerialReader.detect()]
    assert [u.split("?")[0] for u in urls] == [
        "serial:/dev/ttyUSB0",
        "serial:/dev/ttyUSB1",
        "serial:/dev/ttyACM0",
    ]
