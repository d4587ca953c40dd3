"""A PN532 on a pseudo-terminal: the front door of the chip model for UART drivers.

nfcpy's unmodified ``pn532`` driver and libnfc's ``pn532_uart`` driver open the pty slave as
if it were the serial port of a PN532 breakout board. A daemon thread reads the pty master,
feeds the bytes to ``Pn53xChip`` (the host protocol and command set) and writes its answer
back. The emulator keeps its own descriptor on the slave open so that a driver closing and
re-opening the port (nfcpy does this to change the baud rate) never makes the master read
fail.

``stop()`` is an unplug: the master is closed, so a driver still holding the slave gets an
I/O error; a new emulator started with the same ``link`` is the replug.

    field = Field()
    with Pn532Emulator(field, link="/dev/ttyNFC0") as pn532:
        print(pn532.reader_url)          # nfcpy:tty:NFC0:pn532
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import threading
import tty
from pathlib import Path
from typing import Self

from drivers.emulated.field import Field
from drivers.emulated.pn53x_chip import Pn53xChip

log = logging.getLogger("drivers.emulated.pn532")
_DEV_NAME = re.compile(r"^/dev/tty([A-Za-z0-9-]+)$")


class Pn532Emulator:
    """A PN532 speaking the UART host protocol on a pty, answering from *field*."""

    def __init__(self, field: Field, link: str | None = None) -> None:
        self.field = field
        self.link = link
        self.chip = Pn53xChip(field, "pn532")
        self.device_path: str = ""
        self._master = self._slave = -1
        self._wake_r = self._wake_w = -1
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.error: BaseException | None = None  # set if the pump thread died

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("emulator already started")
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line discipline, before any driver opens it
        self.device_path = os.ttyname(self._slave)
        self._wake_r, self._wake_w = os.pipe()
        if self.link:
            _replace_symlink(self.device_path, self.link)
        self._thread = threading.Thread(
            target=self._pump, name=f"pn532-emulator {self.device_path}", daemon=True
        )
        self._thread.start()
        log.info("PN532 emulator on %s (%s)", self.device_path, self.link or "no link")
        return self

    def stop(self) -> None:
        """Unplug: stop answering and close the pty; idempotent."""
        if self._thread is None or self._stopping.is_set():
            return
        self._stopping.set()
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.link:
            with contextlib.suppress(OSError):
                if os.readlink(self.link) == self.device_path:
                    os.unlink(self.link)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def reader_url(self) -> str:
        """The URL ``NfcpyReader`` opens this emulator with."""
        port = self.link or self.device_path
        match = _DEV_NAME.match(port)
        if match:
            return f"nfcpy:tty:{match.group(1)}:pn532"
        return f"nfcpy:tty:{port}:pn532"

    @property
    def nfcpy_path(self) -> str | None:
        """The path nfcpy's own ``ContactlessFrontend.open`` accepts, if there is one (nfcpy
        looks for ``/dev/<name>`` with ``name`` in [A-Za-z0-9-]: only a link under /dev)."""
        if self.link and re.fullmatch(r"/dev/[A-Za-z0-9-]+", self.link):
            return f"tty:{self.link[5:]}:pn532"
        return None

    # -- the pump ------------------------------------------------------------------------
    def _pump(self) -> None:
        try:
            while not self._stopping.is_set():
                readable, _, _ = select.select([self._master, self._wake_r], [], [])
                if self._wake_r in readable:
                    return
                try:
                    data = os.read(self._master, 4096)
                except OSError:
                    return
                self._answer(data)
        except BaseException as exc:  # a dead pump must be visible, never silent
            self.error = exc
            log.exception("PN532 emulator on %s stopped", self.device_path)

    def _answer(self, data: bytes) -> None:
        try:
            reply = self.chip.process(data)
        except Exception:
            log.exception("PN532 emulator: chip model failed on %s", data.hex())
            from drivers.emulated.pn53x_chip import ERROR_FRAME

            reply = ERROR_FRAME
        view = memoryview(reply)
        while view:
            written = os.write(self._master, view)
            view = view[written:]


def _replace_symlink(target: str, link: str) -> None:
    """Point *link* at *target* atomically (a replug must never see a missing link)."""
    path = Path(link)
    if path.exists() and not path.is_symlink():
        raise FileExistsError(f"{link} exists and is not a symlink; refusing to replace it")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, path)
