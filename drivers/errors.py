"""The exception tree of the reader and tag layer.

Everything a driver or the tag layer raises is one of these; foreign errors (OSError,
termios.error, nfcpy and pyscard exceptions, SCARD status codes) are mapped at the driver
boundary with ``raise ... from``.

::

    NfcError                     base of everything raised by ``drivers``
    ├── ReaderError              the reader (``url``)
    │   ├── ReaderURLError       malformed URL or unknown scheme (also a ValueError)
    │   ├── DriverMissing        optional dependency not installed (``extra`` names the pip extra)
    │   ├── ReaderNotFound       no such reader attached
    │   ├── ReaderBusy           claimed by another process or a kernel module (``hint``)
    │   ├── ReaderGone           disappeared while open (unplugged, daemon restarted)
    │   ├── CapabilityMissing    the reader cannot do this (e.g. writes on a UID-line reader)
    │   └── UidLineError         a UID-line reader sent a line that is not a UID (drivers.uidline)
    └── TagError                 the tag (``uid`` when known)
        ├── NoTag                no tag presented within the timeout
        ├── TagGone              removed, or no answer, in the middle of an operation
        ├── TagNak               the tag answered with a NAK (``code``); it is now idle
        ├── TagUnsupported       not a chip we know, or a clone (non-NXP vendor)
        ├── TagLocked            a write to a page that is locked
        ├── WriteFailed          EEPROM write error or read-back mismatch
        ├── LockRefused          a lock refused before anything was written (content, password)
        ├── TlvError             the TLV area is malformed (drivers.ndef_tlv)
        ├── SunError             a SUN message that cannot be read (drivers.sun)
        ├── Ntag424CryptoError   an NTAG 424 DNA cryptographic check failed
        ├── NdefTooLarge         message larger than the tag's NDEF area
        └── UidMismatch          the tag is not the one the caller expected
"""

from __future__ import annotations


class NfcError(Exception):
    """Base class of every error raised by the drivers package."""


class ReaderError(NfcError):
    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class ReaderURLError(ReaderError, ValueError):
    """The reader URL cannot be parsed, or names a scheme no driver handles."""


class DriverMissing(ReaderError):
    def __init__(self, message: str, *, url: str | None = None, extra: str) -> None:
        super().__init__(message, url=url)
        self.extra = extra


class ReaderNotFound(ReaderError):
    pass


class ReaderBusy(ReaderError):
    def __init__(self, message: str, *, url: str | None = None, hint: str = "") -> None:
        super().__init__(f"{message}; {hint}" if hint else message, url=url)
        self.hint = hint


class ReaderGone(ReaderError):
    pass


class CapabilityMissing(ReaderError):
    pass


class TagError(NfcError):
    def __init__(self, message: str, *, uid: bytes | None = None) -> None:
        super().__init__(message)
        self.uid = uid


class NoTag(TagError):
    pass


class TagGone(TagError):
    pass


class TagNak(TagError):
    def __init__(self, message: str, *, uid: bytes | None = None, code: int) -> None:
        super().__init__(message, uid=uid)
        self.code = code


class TagUnsupported(TagError):
    pass


class TagLocked(TagError):
    pass


class WriteFailed(TagError):
    pass


class LockRefused(TagError):
    """The tag is not locked, and nothing was written: its content or protection is wrong."""


class NdefTooLarge(TagError):
    def __init__(self, message: str, *, uid: bytes | None = None, size: int, capacity: int):
        super().__init__(message, uid=uid)
        self.size = size
        self.capacity = capacity


class UidMismatch(TagError):
    def __init__(self, *, expected: bytes, actual: bytes) -> None:
        super().__init__(
            f"tag {actual.hex().upper()} is not the expected {expected.hex().upper()}",
            uid=actual,
        )
        self.expected = expected
        self.actual = actual
