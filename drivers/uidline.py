"""Parse the text lines that cheap UID-line readers print, one per tap, into UID bytes.

Formats (``format=`` in the ``serial:`` URL):

``hex``
    Bytes in reading order, with or without separators: ``04:A1:B2:C3:D4:E5:F6``,
    ``04 A1 B2 C3 D4 E5 F6``, ``04-a1-...``, ``04A1B2C3D4E5F6``, ``0x04A1B2C3D4E5F6``. With
    separators a group may be one digit (``4 A1 B2``: Arduino sketches that print bytes with
    ``Serial.print(b, HEX)`` drop the leading zero).
``hex-reversed``
    The same, but the reader prints the bytes least significant first (little-endian).
``decimal``
    The UID read as one big-endian unsigned number, e.g. ``0086140203`` for a 4-byte UID.
``decimal-reversed``
    The UID read as a little-endian number (what many "10-digit" Wiegand-style readers do).
``auto`` (default)
    Separators or the letters A-F mean hex; a line of digits only is hex when it has exactly
    8, 14 or 20 digits (a 4-, 7- or 10-byte UID written as hex) and decimal otherwise. Byte
    order is never guessed: a reversed reader must be configured as such.

How a decimal line gets its byte length (ISO 14443-3 UIDs are 4, 7 or 10 bytes): the
smallest of 4, 7, 10 that holds both the value and the printed width, where a width up to
10 digits fits 4 bytes (``2**32 - 1`` has 10 digits), up to 17 fits 7 bytes and up to 25
fits 10 bytes. So ``0086140203`` is 4 bytes; the 7-byte UID ``04A1B2C3D4E5F6`` prints as
``1303689068602870`` (16 digits, above ``2**32``) and comes back as 7 bytes. Readers that
zero-pad to a fixed width are therefore unambiguous. The one ambiguity left is a reader
that does not zero-pad a 7-byte UID whose value happens to be below ``2**32``; that cannot
happen in big-endian order, because the first byte of a 7-byte UID is the manufacturer code
(never 0), and with ``decimal-reversed`` only when the last three UID bytes are all zero.

An optional label before the UID (``UID:``, ``Card UID =``, ``uid``) and framing control
characters (STX/ETX) are ignored. Anything else raises ``UidLineError`` (a ValueError): the
caller decides whether that is noise to log or an error.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from drivers.errors import ReaderError

UidFormat = Literal["auto", "hex", "hex-reversed", "decimal", "decimal-reversed"]
FORMATS: tuple[str, ...] = get_args(UidFormat)
UID_LENGTHS = (4, 7, 10)

_LABEL = re.compile(r"^\s*(?:card\s*)?(?:uid|id)\s*[:=#]?\s*", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SEPARATED = re.compile(r"^[0-9A-Fa-f]{1,2}(?:[\s:.\-]+[0-9A-Fa-f]{1,2})+$")
_SEPARATOR = re.compile(r"[\s:.\-]+")
_HEX_RUN = re.compile(r"^(?:0[xX])?([0-9A-Fa-f]+)$")
_DIGITS = re.compile(r"^[0-9]+$")
_HEX_WIDTHS = {2 * n for n in UID_LENGTHS}  # 8, 14, 20 digits
_DECIMAL_WIDTH_LIMITS = ((10, 4), (17, 7), (25, 10))  # max digits -> bytes


class UidLineError(ReaderError, ValueError):
    """The line is not a UID in the expected format (a banner, garbage, a cut-off line)."""

    def __init__(self, message: str, line: str) -> None:
        super().__init__(f"{message}: {line!r}")
        self.line = line


def parse_uid_line(line: str | bytes, fmt: str = "auto") -> bytes:
    """The UID on *line* in format *fmt* (see the module docstring)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown UID line format {fmt!r} (known: {', '.join(FORMATS)})")
    text = line.decode("ascii", "replace") if isinstance(line, bytes) else line
    body = _LABEL.sub("", _CONTROL.sub(" ", text).strip(), count=1).strip()
    if not body:
        raise UidLineError("empty line", text)
    kind = _classify(body, text) if fmt == "auto" else fmt.removesuffix("-reversed")
    uid = _parse_hex(body, text) if kind == "hex" else _parse_decimal(body, text)
    return uid[::-1] if fmt.endswith("-reversed") else uid


def _classify(body: str, text: str) -> str:
    if _SEPARATED.match(body):
        return "hex"
    match = _HEX_RUN.match(body)
    if match is None:
        raise UidLineError("not a UID", text)
    digits = match.group(1)
    if body[:2] in ("0x", "0X") or not _DIGITS.match(digits) or len(digits) in _HEX_WIDTHS:
        return "hex"
    return "decimal"


def _parse_hex(body: str, text: str) -> bytes:
    if _SEPARATED.match(body):
        groups = _SEPARATOR.split(body)
        uid = bytes(int(g, 16) for g in groups)
    else:
        match = _HEX_RUN.match(body)
        if match is None:
            raise UidLineError("not a hex UID", text)
        digits = match.group(1)
        if len(digits) % 2:
            raise UidLineError("odd number of hex digits", text[:64])
        uid = bytes.fromhex(digits)
    if len(uid) not in UID_LENGTHS:
        raise UidLineError(f"a {len(uid)}-byte UID (expected 4, 7 or 10 bytes)", text)
    return uid


def _parse_decimal(body: str, text: str) -> bytes:
    if not _DIGITS.match(body):
        raise UidLineError("not a decimal UID", text)
    if len(body) > _DECIMAL_WIDTH_LIMITS[-1][0]:  # before int(): a line may be any length
        raise UidLineError("decimal number too long for a UID", text[:64])
    value = int(body)
    for max_digits, length in _DECIMAL_WIDTH_LIMITS:
        if len(body) <= max_digits and value < 1 << (8 * length):
            return value.to_bytes(length, "big")
    raise UidLineError("decimal number too large for a UID", text)
