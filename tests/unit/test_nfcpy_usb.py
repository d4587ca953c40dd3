"""nfcpy's USB path (device.connect -> pn533 driver) over a fake USB transport.

There is no USB here, so nfcpy's ``transport.USB`` is replaced by a fake that answers the
frames nfcpy writes with frames constructed by the PN53x model in its PN533 personality
(the same host protocol a SCL3711 speaks over its bulk endpoints). Everything above the
transport is nfcpy's real code. The fake can also fail the way libusb does when the kernel's
pn533_usb module or another process has claimed the device.
"""

from __future__ import annotations

import errno
import os
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

nfc_device = pytest.importorskip("nfc.clf.device")

from drivers import nfcpy_reader  # noqa: E402 - after the importorskip
from drivers.emulated.chip import EmulatedTag  # noqa: E402
from drivers.emulated.field import Field  # noqa: E402
from drivers.emulated.pn53x_chip import ACK_FRAME, Pn53xChip  # noqa: E402
from drivers.errors import ReaderBusy, ReaderNotFound  # noqa: E402
from drivers.table import open_reader  # noqa: E402

UID = bytes.fromhex("04E10CDA993C80")
SCL3711 = (0x04E6, 0x5591, 1, 7)


def split_frames(data: bytes) -> list[bytes]:
    """One bulk read per chip frame, as the USB transport delivers them."""
    frames = []
    while data:
        if data.startswith(ACK_FRAME):
            size = 6
        elif data[3:5] == b"\xff\xff":
            size = 8 + (data[5] << 8 | data[6]) + 2
        else:
            size = 5 + data[3] + 2
        frames.append(data[:size])
        data = data[size:]
    return frames


class FakeUsb:
    """Stands in for ``nfc.clf.transport.USB``: same class interface, no libusb."""

    TYPE = "USB"
    devices: ClassVar[list[tuple[int, int, int, int]]] = []
    open_errno: ClassVar[int | None] = None
    field: ClassVar[Field]
    written: ClassVar[list[bytes]] = []

    @classmethod
    def find(cls, path: str) -> list[tuple[int, int, int, int]] | None:
        if not path.startswith("usb"):
            return None
        parts = path.split(":")[1:]
        found = cls.devices
        if len(parts) >= 1 and len(parts[0]) == 4:
            found = [d for d in found if d[0] == int(parts[0], 16)]
        if len(parts) == 2 and len(parts[1]) == 4:
            found = [d for d in found if d[1] == int(parts[1], 16)]
        return found

    def __init__(self, bus: int, dev: int) -> None:
        if self.open_errno is not None:  # what nfcpy raises for libusb's Busy/Access errors
            raise OSError(self.open_errno, os.strerror(self.open_errno))
        self.chip = Pn53xChip(self.field, "pn533")
        self.pending: deque[bytes] = deque()

    manufacturer_name = "SCM Micro"
    product_name = "SCL3711"

    def write(self, frame: bytes, timeout: int = 0) -> None:
        FakeUsb.written.append(bytes(frame))
        self.pending.extend(split_frames(self.chip.process(bytes(frame))))

    def read(self, timeout: int = 0) -> bytearray:
        if not self.pending:
            raise OSError(errno.ETIMEDOUT, os.strerror(errno.ETIMEDOUT))
        return bytearray(self.pending.popleft())

    def close(self) -> None:
        pass


class _OsWithUsbNodes:
    """``os`` for nfc.clf.device, whose access() check looks at /dev/bus/usb nodes."""

    def __init__(self, allowed: bool) -> None:
        self.allowed = allowed

    def __getattr__(self, name: str):
        return getattr(os, name)

    def access(self, path: str, mode: int) -> bool:
        return self.allowed if path.startswith("/dev/bus/usb/") else os.access(path, mode)


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty fake /sys and /dev for the reader's detection code."""
    for name, sub in (
        ("SYS_USB_DEVICES", "sys/bus/usb/devices"),
        ("SYS_MODULE", "sys/module"),
        ("DEV", "dev"),
    ):
        (tmp_path / sub).mkdir(parents=True)
        monkeypatch.setattr(nfcpy_reader, name, tmp_path / sub)
    monkeypatch.setattr(nfcpy_reader, "PROC_MODULES", tmp_path / "proc-modules")
    return tmp_path


@pytest.fixture
def fake_usb(monkeypatch: pytest.MonkeyPatch, system: Path) -> Iterator[type[FakeUsb]]:
    from nfc.clf import transport

    FakeUsb.devices = [SCL3711]
    FakeUsb.open_errno = None
    FakeUsb.field = Field("usb")
    FakeUsb.written = []
    monkeypatch.setattr(transport, "USB", FakeUsb)
    monkeypatch.setattr(nfc_device, "os", _OsWithUsbNodes(allowed=True))
    yield FakeUsb


def _plug_into_sysfs(system: Path, vid: int, pid: int, bus: int, dev: int) -> None:
    node = system / "sys/bus/usb/devices" / f"{bus}-1"
    node.mkdir()
    for name, value in (
        ("idVendor", f"{vid:04x}"),
        ("idProduct", f"{pid:04x}"),
        ("busnum", str(bus)),
        ("devnum", str(dev)),
    ):
        (node / name).write_text(value + "\n")


def test_opening_over_the_usb_transport_senses_and_reads_a_tag(fake_usb) -> None:
    tag = fake_usb.field.place(EmulatedTag("NTAG213", uid=UID))
    with open_reader("nfcpy:usb:04e6:5591") as reader:
        assert fake_usb.written[0] == ACK_FRAME  # pn533 init: soft reset by ACK
        target = reader.poll()
        assert target is not None and target.uid == UID
        assert reader.transceive(b"\x30\x04") == bytes(tag.memory[16:32])  # READ page 4


def test_kernel_module_claiming_the_device_is_busy_with_the_modprobe_hint(
    fake_usb, system: Path
) -> None:
    (system / "sys/module/pn533_usb").mkdir()
    (system / "sys/module/nfc").mkdir()
    fake_usb.open_errno = errno.EBUSY
    with pytest.raises(ReaderBusy) as info:
        open_reader("nfcpy:usb:04e6:5591")
    assert "modprobe -r pn533_usb pn533 nfc port100" in str(info.value)
    assert "nfcbridge-blacklist.conf" in info.value.hint
    assert "pn533_usb, nfc" in info.value.hint


def test_busy_without_kernel_modules_names_another_process(fake_usb) -> None:
    fake_usb.open_errno = errno.EBUSY
    with pytest.raises(ReaderBusy) as info:
        open_reader("nfcpy:usb:04e6:5591")
    assert "another process" in info.value.hint
    assert "modprobe" not in info.value.hint


def test_search_path_skipping_a_claimed_reader_is_still_reported_busy(
    fake_usb, system: Path
) -> None:
    # With a partial path nfcpy skips devices it cannot open and reports nothing found.
    _plug_into_sysfs(system, *SCL3711)
    (system / "proc-modules").write_text("port100 16384 0 - Live 0x0\n")
    fake_usb.open_errno = errno.EBUSY
    with pytest.raises(ReaderBusy) as info:
        open_reader("nfcpy:usb")
    assert "modprobe -r" in info.value.hint


def test_no_permission_on_the_usb_node_is_busy_with_a_udev_hint(
    fake_usb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nfc_device, "os", _OsWithUsbNodes(allowed=False))
    with pytest.raises(ReaderBusy) as info:
        open_reader("nfcpy:usb:04e6:5591")
    assert "udev" in info.value.hint


def test_absent_usb_reader_is_not_found(fake_usb) -> None:
    fake_usb.devices = []
    with pytest.raises(ReaderNotFound):
        open_reader("nfcpy:usb:072f:2200")


def test_missing_serial_port_is_not_found(system: Path) -> None:
    with pytest.raises(ReaderNotFound) as info:
        open_reader("nfcpy:tty:USB7:pn532")
    assert "ttyUSB7" in str(info.value)


def test_detect_lists_known_usb_ids_and_serial_ports(system: Path) -> None:
    _plug_into_sysfs(system, 0x072F, 0x2200, 1, 4)  # ACR122U
    _plug_into_sysfs(system, 0x1D6B, 0x0002, 2, 1)  # a root hub: not a reader
    (system / "dev/ttyUSB0").touch()
    (system / "dev/ttyNFC0").touch()
    urls = {d.url: d.description for d in nfcpy_reader.NfcpyReader.detect()}
    assert set(urls) == {
        "nfcpy:usb:072f:2200",
        "nfcpy:tty:USB0:pn532",
        "nfcpy:tty:NFC0:pn532",
    }
    assert "ACR122U" in urls["nfcpy:usb:072f:2200"]


def test_identical_usb_readers_are_told_apart_by_bus_and_device(system: Path) -> None:
    _plug_into_sysfs(system, 0x04E6, 0x5591, 1, 4)
    _plug_into_sysfs(system, 0x04E6, 0x5591, 3, 9)
    urls = [d.url for d in nfcpy_reader.NfcpyReader.detect()]
    assert urls == ["nfcpy:usb:001:004", "nfcpy:usb:003:009"]


@pytest.mark.parametrize(
    "url", ["nfcpy:usb:12345", "nfcpy:usb:04e6:55", "nfcpy:tty:USB0:acr122", "nfcpy:bluetooth"]
)
def test_malformed_nfcpy_urls_are_rejected(url: str) -> None:
    from drivers.errors import ReaderURLError
    from drivers.table import make_reader

    with pytest.raises(ReaderURLError):
        make_reader(url)
