"""``nfcpy:`` readers: PN53x and RC-S380 devices over USB, PN532 boards over UART.

URLs (the target is nfcpy's own path syntax, plus pty paths)::

    nfcpy:usb                  the first supported USB reader
    nfcpy:usb:072f:2200        by USB vendor:product (hex)
    nfcpy:usb:001:023          by USB bus:device (decimal, changes on replug)
    nfcpy:tty:USB0:pn532       /dev/ttyUSB0 (or /dev/USB0), nfcpy's pn532 driver
    nfcpy:tty:/dev/pts/5:pn532 any serial port by path, e.g. the PN532 emulator's pty

Only nfcpy's device drivers are used (sense 106A, exchange raw frames): the tag layer
(``drivers.ntag``) does identification, NDEF and locking over ``transceive``, never nfcpy's
tag code (see docs/hardware.md, "Readers: PN532 through nfcpy"). For serial ports the
transport and driver are built here rather than through ``ContactlessFrontend.open``,
because nfcpy only accepts names under /dev matching [A-Za-z0-9-] and would not find a pty
or a /dev/ttyNFC0 link by the short name.

Errors: an unplugged reader surfaces from nfcpy as ``OSError`` or ``termios.error`` (not an
OSError) and becomes ``ReaderGone``; a USB reader claimed by the kernel's NFC stack or
another process becomes ``ReaderBusy`` with the fix in the message.
"""

from __future__ import annotations

import errno
import fcntl
import importlib
import logging
import os
import re
import termios
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any, ClassVar

from drivers.base import Capability, DetectedReader, Reader, Target
from drivers.errors import (
    DriverMissing,
    ReaderBusy,
    ReaderGone,
    ReaderNotFound,
    ReaderURLError,
    TagGone,
)
from drivers.isodep import IsoDep
from drivers.url import ReaderURL

log = logging.getLogger("drivers.nfcpy")

# USB readers nfcpy drives, as data: (vendor, product) -> name.
USB_READERS: dict[tuple[int, int], str] = {
    (0x072F, 0x2200): "ACS ACR122U",
    (0x04E6, 0x5591): "SCM SCL3711",
    (0x04CC, 0x2533): "NXP PN533",
    (0x054C, 0x06C1): "Sony RC-S380",
    (0x054C, 0x06C3): "Sony RC-S380",
}
KERNEL_MODULES = ("pn533_usb", "pn533", "nfc", "port100")
BLACKLIST_FILE = "systemd/nfcbridge-blacklist.conf"
TTY_PATTERNS = ("ttyUSB*", "ttyACM*", "ttyNFC*")

# Where the system is looked at; tests point these at temporary directories.
SYS_USB_DEVICES = Path("/sys/bus/usb/devices")
SYS_MODULE = Path("/sys/module")
PROC_MODULES = Path("/proc/modules")
DEV = Path("/dev")

_USB_TARGET = re.compile(r"^usb(?::[0-9a-fA-F]{4}(?::[0-9a-fA-F]{4})?|:\d{1,3}(?::\d{1,3})?)?$")
_TTY_DRIVERS = ("pn532", "arygon")


def loaded_kernel_modules() -> list[str]:
    """Which of the kernel NFC modules that grab nfcpy's USB readers are loaded."""
    loaded = [name for name in KERNEL_MODULES if (SYS_MODULE / name).is_dir()]
    if loaded:
        return loaded
    try:
        lines = PROC_MODULES.read_text().splitlines()
    except OSError:
        return []
    names = {line.split(" ", 1)[0] for line in lines}
    return [name for name in KERNEL_MODULES if name in names]


def kernel_module_hint(modules: list[str]) -> str:
    return (
        f"the kernel NFC modules ({', '.join(modules)}) have claimed the reader: run "
        f"`sudo modprobe -r {' '.join(KERNEL_MODULES)}` and install {BLACKLIST_FILE} "
        "into /etc/modprobe.d/ so they stay unloaded"
    )


def _usb_devices() -> list[tuple[int, int, int, int]]:
    """(vid, pid, bus, dev) of every USB device sysfs shows."""
    found: list[tuple[int, int, int, int]] = []
    if not SYS_USB_DEVICES.is_dir():
        return found
    for entry in sorted(SYS_USB_DEVICES.iterdir()):
        try:
            vid = int((entry / "idVendor").read_text().strip(), 16)
            pid = int((entry / "idProduct").read_text().strip(), 16)
            bus = int((entry / "busnum").read_text().strip() or 0)
            dev = int((entry / "devnum").read_text().strip() or 0)
        except (OSError, ValueError):
            continue
        found.append((vid, pid, bus, dev))
    return found


class NfcpyReader(Reader):
    """A reader driven by nfcpy's device drivers (raw Type 2 commands over ``exchange``)."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.TRANSCEIVE, Capability.ISO_DEP}
    )

    def __init__(self, url: ReaderURL) -> None:
        super().__init__(url)
        self._isodep: IsoDep | None = None
        self._clf: Any = None
        self._transport: Any = None
        self._port_lock: int | None = None  # our own descriptor holding the tty's flock
        target = url.target.strip()
        if _USB_TARGET.match(target):
            self.kind, self.path, self.driver = "usb", target.lower(), ""
            return
        parts = target.split(":")
        if parts[0] == "tty" and len(parts) in (2, 3) and parts[1]:
            driver = parts[2] if len(parts) == 3 and parts[2] else "pn532"
            if driver not in _TTY_DRIVERS:
                raise ReaderURLError(
                    f"nfcpy serial driver {driver!r} in {url} is not one of "
                    f"{', '.join(_TTY_DRIVERS)}",
                    url=str(url),
                )
            self.kind, self.path, self.driver = "tty", parts[1], driver
            return
        raise ReaderURLError(
            f"nfcpy reader URL {url} should be nfcpy:usb[:VID:PID|:BUS:DEV] or "
            "nfcpy:tty:NAME:pn532",
            url=str(url),
        )

    # -- hooks ---------------------------------------------------------------------------
    def _open(self) -> None:
        try:
            import nfc
            import nfc.clf  # the transports (and usb1, which loads libusb) come with it
        except OSError as exc:  # libusb-1.0 missing: usb1 fails while loading it
            raise DriverMissing(
                f"nfcpy could not load libusb-1.0 ({exc}): apt install libusb-1.0-0",
                url=str(self.url),
                extra="nfcpy",
            ) from exc
        clf = nfc.ContactlessFrontend()
        try:
            if self.kind == "tty":
                self._open_tty(clf)
            elif not clf.open(self.path):
                raise self._usb_not_found()
        except (OSError, termios.error) as exc:
            self._drop_transport()
            raise self._open_error(exc) from exc
        self._clf = clf
        device = clf.device
        self._transport = getattr(getattr(device, "chipset", None), "transport", None)
        log.info("opened %s: %s", self.url, device)

    def _open_tty(self, clf: Any) -> None:
        from nfc.clf import transport

        port = self._resolve_port()
        module = importlib.import_module(f"nfc.clf.{self.driver}")
        self._claim(port)
        self._transport = transport.TTY(port)
        device = module.init(self._transport)  # IOError(ENODEV) when nothing answers
        device._path = port
        clf.device = device

    def _claim(self, port: str) -> None:
        """Hold the serial port exclusively for as long as the reader is open: a second
        process talking to the same PN532 would interleave frames with ours, and a serial
        port, unlike a USB device, does not refuse it. The lock is taken on a descriptor of
        our own, because nfcpy reopens its port while it initialises the chip."""
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ReaderBusy(
                f"reader {self.url} is busy",
                url=str(self.url),
                hint="another process holds its serial port (another nfcbridge, or a "
                "libnfc/nfcpy tool); stop it first",
            ) from None
        self._port_lock = fd

    def _resolve_port(self) -> str:
        name = self.path
        candidates = [Path(name)] if name.startswith("/") else [DEV / f"tty{name}", DEV / name]
        for candidate in candidates:
            if candidate.exists():
                return str(candidate)
        raise ReaderNotFound(
            f"no serial port {' or '.join(map(str, candidates))} for {self.url} "
            "(run `nfcbridge readers`)",
            url=str(self.url),
        )

    def _open_error(self, exc: BaseException) -> Exception:
        code = getattr(exc, "errno", None)
        url = str(self.url)
        if isinstance(exc, ReaderNotFound | ReaderBusy):
            return exc
        if code == errno.EBUSY:
            modules = loaded_kernel_modules()
            hint = (
                kernel_module_hint(modules)
                if modules
                else "another process holds it (an nfcbridge daemon, or pcscd for an ACR122U)"
            )
            return ReaderBusy(f"reader {url} is busy", url=url, hint=hint)
        if code == errno.EACCES:
            return ReaderBusy(
                f"no permission to open reader {url}",
                url=url,
                hint="add the service user to the group owning the device (dialout for "
                "serial ports; a udev rule giving plugdev access for USB readers)",
            )
        if code in (errno.ENODEV, errno.ENOENT, errno.ENXIO, errno.ETIMEDOUT):
            if self.kind == "usb":
                return self._usb_not_found()
            return ReaderNotFound(
                f"no {self.driver.upper()} answered on {self.path} ({url})", url=url
            )
        return ReaderGone(f"reader {url} failed while opening: {exc}", url=url)

    def _usb_not_found(self) -> Exception:
        url = str(self.url)
        modules = loaded_kernel_modules()
        present = [d for d in _usb_devices() if (d[0], d[1]) in USB_READERS]
        if modules and present:
            return ReaderBusy(f"reader {url} is busy", url=url, hint=kernel_module_hint(modules))
        return ReaderNotFound(f"no nfcpy reader at {url} (run `nfcbridge readers`)", url=url)

    def _close(self) -> None:
        if self._clf is not None:
            try:
                self._clf.close()  # PN532: abort, baud rate back to 115200, power down
            except (OSError, termios.error) as exc:
                log.debug("closing %s: %s", self.url, exc)
            self._clf = None
        self._drop_transport()

    def _drop_transport(self) -> None:
        """Close the serial port even when nfcpy's close gave up half-way (unplugged)."""
        transport, self._transport = self._transport, None
        port = getattr(transport, "tty", None)
        if port is not None:
            with suppress(Exception):
                port.close()
            transport.tty = None
        lock, self._port_lock = self._port_lock, None
        if lock is not None:
            os.close(lock)  # releases the claim

    def _poll_once(self) -> Target | None:
        import nfc.clf

        with self._reader_errors():
            found = self._clf.sense(nfc.clf.RemoteTarget("106A"), iterations=1, interval=0)
        if found is None or not getattr(found, "sdd_res", None):
            return None  # empty field, or a Type 1 tag (no UID by anticollision)
        sak = found.sel_res[0]
        ats = None
        self._isodep = None
        if sak & 0x20:  # ISO 14443-4 compliant (NTAG 424 DNA): RATS, then APDUs
            link = IsoDep(lambda frame: self._transceive(frame, 0.1))
            try:
                ats = link.activate()
            except TagGone:
                return None  # left between anticollision and RATS
            self._isodep = link
        return Target(
            uid=bytes(found.sdd_res),
            atqa=bytes(reversed(found.sens_res)),  # nfcpy keeps SENS_RES in air order
            sak=sak,
            ats=ats,
        )

    def _transceive_apdu(self, apdu: bytes, timeout: float) -> bytes:
        if self._isodep is None:
            raise TagGone("no ISO-DEP tag activated")
        return self._isodep.apdu(apdu)

    def _transceive(self, command: bytes, timeout: float) -> bytes:
        import nfc.clf

        try:
            with self._reader_errors():
                answer = self._clf.exchange(bytearray(command), timeout)
        except nfc.clf.TimeoutError as exc:
            raise TagGone(f"no answer to {command[:1].hex()} within {timeout:g} s") from exc
        except nfc.clf.CommunicationError as exc:
            raise TagGone(f"broken answer to {command[:1].hex()}: {exc}") from exc
        if answer is None:
            raise TagGone("no tag selected")
        return bytes(answer)

    def _reader_errors(self) -> AbstractContextManager[None]:
        return _reader_errors(str(self.url))

    # -- discovery -----------------------------------------------------------------------
    @classmethod
    def detect(cls) -> list[DetectedReader]:
        found: list[DetectedReader] = []
        usb = [d for d in _usb_devices() if (d[0], d[1]) in USB_READERS]
        modules = loaded_kernel_modules()
        note = (
            f" (kernel modules {', '.join(modules)} loaded: see `modprobe -r`)" if modules else ""
        )
        for vid, pid, bus, dev in usb:
            twins = sum(1 for d in usb if d[:2] == (vid, pid))
            url = (
                f"nfcpy:usb:{bus:03d}:{dev:03d}" if twins > 1 else f"nfcpy:usb:{vid:04x}:{pid:04x}"
            )
            name = USB_READERS[(vid, pid)]
            found.append(DetectedReader(url, f"{name} on USB bus {bus} device {dev}{note}"))
        for pattern in TTY_PATTERNS:
            for port in sorted(DEV.glob(pattern)):
                found.append(
                    DetectedReader(
                        f"nfcpy:tty:{port.name[3:]}:pn532",
                        f"serial port {port}: a PN532 if one is attached (not probed)",
                    )
                )
        return found


@contextmanager
def _reader_errors(url: str) -> Iterator[None]:
    """Map nfcpy's I/O failures (the reader, not the tag) to ``ReaderGone``."""
    from nfc.clf import pn53x

    try:
        yield
    except (OSError, termios.error) as exc:
        raise ReaderGone(f"reader {url} is gone: {exc}", url=url) from exc
    except pn53x.Chipset.Error as exc:
        raise ReaderGone(
            f"reader {url} answered with an error ({exc}); reopen it", url=url
        ) from exc
