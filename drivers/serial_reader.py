"""The ``serial:`` driver: readers that print one UID line per tap, through pyserial.

    serial:/dev/ttyUSB0?baud=9600&format=auto&hold=0.5

``format`` is one of ``auto``, ``hex``, ``hex-reversed``, ``decimal``, ``decimal-reversed``
(see ``drivers.uidline``); ``baud`` defaults to 9600; ``hold`` (seconds, default 0.5) is how
long a tag counts as present after its last line.

These readers only report taps: no raw commands, no writes, no beep we can drive
(``capabilities`` is empty, so ``transceive`` raises ``CapabilityMissing``).

Presence model: a line means "a tag was presented". Readers repeat the line while the tag
stays in the field (typically every 0.1-1 s), so the tag is present until ``hold`` seconds
after its last line. A line with another UID ends the current presentation and starts a new
one; lines that arrive together between two polls are reported one poll each, in order, so
two quick taps are never merged into one. Noise (banners, garbage, cut-off lines) is logged
as a warning and ignored, never raised.

Errors: a port that does not exist is ``ReaderNotFound``; one locked by another process or
not accessible to this user is ``ReaderBusy`` (with a hint); a port that fails while open
(USB unplugged, pty closed) is ``ReaderGone``.
"""

from __future__ import annotations

import errno
import glob
import logging
import time
from collections import deque
from dataclasses import dataclass

import serial

from drivers.base import DetectedReader, Reader, Target
from drivers.errors import ReaderBusy, ReaderError, ReaderGone, ReaderNotFound, ReaderURLError
from drivers.uidline import FORMATS, UidLineError, parse_uid_line
from drivers.url import ReaderURL

log = logging.getLogger("drivers.serial")

MAX_LINE = 256  # bytes without a line end before the buffer is dropped as noise
CANDIDATE_GLOBS = ("/dev/ttyUSB*", "/dev/ttyACM*")
_NOT_FOUND = {errno.ENOENT, errno.ENODEV, errno.ENXIO}
_BUSY = {errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK}


@dataclass
class _Presentation:
    uid: bytes
    last_seen: float
    reported: bool = False


class SerialReader(Reader):
    """A UID-line reader on a serial port (USB CDC, FTDI, a pseudo-terminal)."""

    url_options = ("baud", "format", "hold")

    poll_interval = 0.02

    def __init__(self, url: ReaderURL) -> None:
        super().__init__(url)
        if not url.target:
            raise ReaderURLError("a serial reader needs a port: serial:/dev/ttyUSB0", url=str(url))
        self.port = url.target
        self.baud = _number(url, "baud", "9600", int)
        self.hold = _number(url, "hold", "0.5", float)
        self.format = url.get("format", "auto") or "auto"
        if self.format not in FORMATS:
            raise ReaderURLError(
                f"serial reader format {self.format!r} is unknown (known: {', '.join(FORMATS)})",
                url=str(url),
            )
        if self.baud <= 0 or self.hold <= 0:
            raise ReaderURLError("serial reader baud and hold must be positive", url=str(url))
        self._serial: serial.Serial | None = None
        self._buffer = b""
        self._current: _Presentation | None = None
        self._queue: deque[_Presentation] = deque()

    # -- hooks --------------------------------------------------------------------------
    def _open(self) -> None:
        try:
            self._serial = serial.Serial(self.port, self.baud, timeout=0, exclusive=True)
        except (serial.SerialException, OSError) as exc:
            raise _open_error(exc, self.port, str(self.url)) from exc

    def _close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def _poll_once(self) -> Target | None:
        now = time.monotonic()
        for uid in self._read_uids():
            self._saw(uid, now)
        return self._present(now)

    # -- presence -----------------------------------------------------------------------
    def _saw(self, uid: bytes, now: float) -> None:
        latest = self._queue[-1] if self._queue else self._current
        if (
            latest is not None
            and latest.uid == uid
            and (not latest.reported or now - latest.last_seen <= self.hold)
        ):
            latest.last_seen = now  # the reader repeating the line of a tag still held
        else:
            self._queue.append(_Presentation(uid, now))

    def _present(self, now: float) -> Target | None:
        current = self._current
        if (
            current is not None
            and current.reported
            and (self._queue or now - current.last_seen > self.hold)
        ):
            current = self._current = None
        if current is None and self._queue:
            current = self._current = self._queue.popleft()
        if current is None:
            return None
        current.reported = True
        return Target(uid=current.uid)

    # -- reading ------------------------------------------------------------------------
    def _read_uids(self) -> list[bytes]:
        assert self._serial is not None
        try:
            data = self._serial.read(4096)
        except (serial.SerialException, OSError) as exc:
            message = f"serial reader {self.port} is gone: {exc}"
            raise ReaderGone(message, url=str(self.url)) from exc
        if not data:
            return []
        self._buffer += data
        *lines, self._buffer = self._buffer.replace(b"\r", b"\n").split(b"\n")
        if len(self._buffer) > MAX_LINE:
            log.warning(
                "serial reader %s: dropping %d bytes without a line end",
                self.port,
                len(self._buffer),
            )
            self._buffer = b""
        uids = []
        for raw in lines:
            if not raw.strip():
                continue
            try:
                uids.append(parse_uid_line(raw, self.format))
            except UidLineError as exc:
                log.warning("serial reader %s: ignoring line (%s)", self.port, exc)
        return uids

    @classmethod
    def detect(cls) -> list[DetectedReader]:
        found = []
        for pattern in CANDIDATE_GLOBS:
            for path in sorted(glob.glob(pattern)):
                found.append(
                    DetectedReader(
                        url=f"serial:{path}?baud=9600&format=auto",
                        description="serial port: a UID-line reader if one prints UIDs here "
                        "(taps only; set baud and format to match the reader)",
                    )
                )
        return found


def _number(url: ReaderURL, key: str, default: str, kind: type[int] | type[float]) -> int | float:
    text = url.get(key, default) or default
    try:
        return kind(text)
    except ValueError:
        message = f"serial reader {key}={text!r} is not a number"
        raise ReaderURLError(message, url=str(url)) from None


def _open_error(exc: BaseException, port: str, url: str) -> ReaderError:
    code = getattr(exc, "errno", None)
    if code is None and isinstance(exc.__context__, OSError):
        code = exc.__context__.errno
    if code in _NOT_FOUND:
        return ReaderNotFound(f"no serial port {port}", url=url)
    if code in _BUSY or "lock" in str(exc).lower():
        return ReaderBusy(
            f"serial port {port} is in use",
            url=url,
            hint="another process has it open (find it with: fuser -v " + port + ")",
        )
    if code in (errno.EACCES, errno.EPERM):
        return ReaderBusy(
            f"no permission to open {port}",
            url=url,
            hint="add the user to the dialout group, or install the udev rules from systemd/",
        )
    return ReaderNotFound(f"cannot open serial port {port}: {exc}", url=url)
