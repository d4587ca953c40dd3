"""The Reader base class: it owns the policy, drivers fill small hooks.

A driver implements ``_open``, ``_close``, ``_poll_once`` and, when it declares the
``TRANSCEIVE`` capability, ``_transceive`` and ``_reselect``. Everything else (waiting for a
tag, waiting for its removal, frame tracing, idempotent close, the context manager) lives
here so that behaviour cannot drift between drivers.

Transceive contract (every driver): the command is a raw ISO 14443-3A frame without CRC_A;
the answer is the tag's raw answer without CRC_A. A 4-bit ACK/NAK comes back as a single
byte (0x0A ACK, anything else NAK). No answer within the timeout raises ``TagGone``; the tag
layer decides whether that means "removed" or "idle after a NAK" by re-selecting.
"""

from __future__ import annotations

import enum
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Self

from drivers.errors import CapabilityMissing, NoTag, ReaderError, ReaderURLError, TagGone
from drivers.url import ReaderURL

log = logging.getLogger("drivers")
FRAMES = 5  # log level below DEBUG: raw frames can carry passwords
logging.addLevelName(FRAMES, "FRAMES")
# Frames are always logged at FRAMES, seen only when asked for: a ``spy+`` reader's frames
# go to a logger enabled at FRAMES whatever the log level (--debug stops at DEBUG).
_frames = logging.getLogger("drivers.frames")
_spy_frames = logging.getLogger("drivers.frames.spy")
_spy_frames.setLevel(FRAMES)


class Capability(enum.Enum):
    TRANSCEIVE = "transceive"  # raw Type 2 commands: read, write, lock
    SIGNAL = "signal"  # beep or LED after a committed tap
    ISO_DEP = "iso-dep"  # ISO 14443-4 APDUs to an activated Type 4 tag (NTAG 424 DNA)


@dataclass(frozen=True)
class Target:
    """A tag found by anticollision."""

    uid: bytes
    atqa: bytes = b"\x00\x44"
    sak: int = 0x00
    ats: bytes | None = None  # ISO 14443-4 targets: the answer to RATS

    @property
    def iso_dep(self) -> bool:
        return self.ats is not None

    @property
    def uid_hex(self) -> str:
        return self.uid.hex().upper()


@dataclass(frozen=True)
class DetectedReader:
    url: str
    description: str


class Reader(ABC):
    """One open NFC reader. Use as a context manager or call ``close()``."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    poll_interval: ClassVar[float] = 0.05
    #: The URL query options this driver reads (``?key=value``); any other is refused, so a
    #: typo (``bauds=``, ``tga=``) is an error naming these instead of a silent default.
    url_options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, url: ReaderURL) -> None:
        unknown = sorted({key for key, _ in url.params} - set(self.url_options))
        if unknown:
            known = ", ".join(self.url_options) or "none"
            raise ReaderURLError(
                f"unknown option {', '.join(unknown)} for a {url.scheme}: reader (known: {known})",
                url=str(url),
            )
        self.url = url
        self._opened = False
        self._closed = False
        self.target: Target | None = None
        self.spy = False  # set by the spy+ URL wrapper: frames shown (level FRAMES)

    # -- lifecycle ----------------------------------------------------------------------
    def open(self) -> Self:
        if self._closed:
            raise ReaderError("reader was closed; open a new one", url=str(self.url))
        if not self._opened:
            self._open()
            self._opened = True
        return self

    def close(self) -> None:
        """Idempotent, and safe on a reader whose ``open`` failed half-way."""
        if self._closed:
            return
        self._closed = True
        self.target = None
        try:
            self._close()
        except Exception:
            log.warning("error while closing reader %s", self.url, exc_info=True)

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def name(self) -> str:
        return str(self.url)

    # -- presence -----------------------------------------------------------------------
    def poll(self) -> Target | None:
        """One activation attempt: the selected tag, or None when the field is empty."""
        self._require_open()
        self.target = self._poll_once()
        return self.target

    def wait_for_tag(self, timeout: float | None = None) -> Target:
        """Block until a tag is selected; ``NoTag`` after *timeout* seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            target = self.poll()
            if target is not None:
                return target
            if deadline is not None and time.monotonic() >= deadline:
                raise NoTag(f"no tag presented within {timeout:g} s on {self.url}")
            self._sleep(self.poll_interval)

    def wait_for_removal(self, timeout: float | None = None, *, uid: bytes | None = None) -> bool:
        """Block until the field is empty; False if a tag is still there after *timeout*.

        With *uid*, the wait also ends when another tag is found in its place: a tag
        swapped for the next faster than one poll has ended its presentation all the same.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while (target := self.poll()) is not None and (uid is None or target.uid == uid):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self._sleep(self.poll_interval)
        return True

    # -- commands -----------------------------------------------------------------------
    def transceive(self, command: bytes, timeout: float = 0.1) -> bytes:
        self._require(Capability.TRANSCEIVE)
        self._require_open()
        frames, level = (_spy_frames if self.spy else _frames), FRAMES
        frames.log(level, "%s >> %s", self.url, command.hex())
        try:
            answer = self._transceive(command, timeout)
        except TagGone as exc:
            frames.log(level, "%s << (no answer)", self.url)
            if exc.uid is None and self.target is not None:
                exc.uid = self.target.uid
            raise
        frames.log(level, "%s << %s", self.url, answer.hex())
        return answer

    def transceive_apdu(self, apdu: bytes, timeout: float = 0.5) -> bytes:
        """One ISO 7816-4 command APDU to an ISO-DEP target; the response APDU with SW."""
        self._require(Capability.ISO_DEP)
        self._require_open()
        level = logging.INFO if self.spy else FRAMES
        log.log(level, "%s >> apdu %s", self.url, apdu.hex())
        answer = self._transceive_apdu(apdu, timeout)
        log.log(level, "%s << apdu %s", self.url, answer.hex())
        return answer

    def reselect(self) -> Target:
        """Re-activate the tag in the field (after a NAK, or to make lock bits take effect)."""
        self._require(Capability.TRANSCEIVE)
        self._require_open()
        target = self._reselect()
        if target is None:
            uid = self.target.uid if self.target else None
            self.target = None
            raise TagGone("tag left the field", uid=uid)
        self.target = target
        return target

    def signal(self, ok: bool) -> None:
        """Beep or light the LED, where the reader can; otherwise do nothing."""
        if Capability.SIGNAL in self.capabilities and self._opened and not self._closed:
            self._signal(ok)

    # -- hooks --------------------------------------------------------------------------
    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...

    @abstractmethod
    def _poll_once(self) -> Target | None: ...

    def _transceive(self, command: bytes, timeout: float) -> bytes:
        raise NotImplementedError

    def _transceive_apdu(self, apdu: bytes, timeout: float) -> bytes:
        raise NotImplementedError

    def _reselect(self) -> Target | None:
        return self._poll_once()

    def _signal(self, ok: bool) -> None:  # noqa: B027 - optional hook, no-op by default
        pass

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    @classmethod
    def detect(cls) -> list[DetectedReader]:
        """The URLs of readers of this kind that could be opened now."""
        return []

    # -- helpers ------------------------------------------------------------------------
    def _require(self, capability: Capability) -> None:
        if capability not in self.capabilities:
            raise CapabilityMissing(
                f"reader {self.url} cannot {capability.value} (a {self.url.scheme}: reader)",
                url=str(self.url),
            )

    def _require_open(self) -> None:
        if not self._opened or self._closed:
            raise ReaderError(f"reader {self.url} is not open", url=str(self.url))
