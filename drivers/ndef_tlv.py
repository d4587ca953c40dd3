"""The NFC Forum Type 2 TLV area around an NDEF message (ndeflib encodes the records).

The data area starts at page 4. It holds a sequence of TLVs: NULL (00, a single byte),
Lock Control (01) and Memory Control (02) saying where lock and reserved bytes live, NDEF
Message (03), proprietary (FD) and Terminator (FE, a single byte). A length is one byte, or
FF followed by two big-endian bytes for 255 and more.

The parser works on a prefix of the data area and raises ``NeedMore`` when it has to look
further, so the tag layer can read only as far as the TLVs actually go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ndef

from drivers.errors import TagError

TLV_NULL = 0x00
TLV_LOCK_CONTROL = 0x01
TLV_MEMORY_CONTROL = 0x02
TLV_NDEF = 0x03
TLV_TERMINATOR = 0xFE


class TlvError(TagError, ValueError):
    """The TLV area is malformed (a length runs past the data area)."""


class NeedMore(Exception):  # a signal to the caller, not an error
    """The parser needs the data area up to ``size`` bytes."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


@dataclass(frozen=True)
class ControlTlv:
    """A Lock Control or Memory Control TLV: an area of tag memory outside the NDEF data."""

    kind: int
    value: bytes

    @property
    def address(self) -> int:
        """Byte address from page 0: PageAddr * 2^BytesPerPage + ByteOffset."""
        page_addr, byte_offset = self.value[0] >> 4, self.value[0] & 0x0F
        return page_addr * (1 << (self.value[2] & 0x0F)) + byte_offset

    @property
    def size(self) -> int:
        """Bytes covered: lock bits rounded up to bytes, or reserved bytes (0 = 256)."""
        if self.kind == TLV_LOCK_CONTROL:
            return ((self.value[1] or 256) + 7) // 8
        return self.value[1] or 256


@dataclass(frozen=True)
class TlvArea:
    """Where the NDEF TLV is (``offset`` from page 4, byte 0) and what it holds.

    With no NDEF TLV, ``length`` is None and ``offset`` is where a new one would go (after
    the last non-NULL TLV)."""

    offset: int
    length: int | None
    message: bytes | None
    controls: tuple[ControlTlv, ...]

    @property
    def header_len(self) -> int:
        return tlv_header_len(self.length or 0)


@dataclass(frozen=True)
class NdefContent:
    formatted: bool  # CC magic E1, mapping version 1.x
    area: TlvArea | None
    capacity: int  # largest message that fits
    records: list[ndef.Record] = field(default_factory=list)
    error: str | None = None  # the message could not be decoded

    @property
    def message(self) -> bytes | None:
        return None if self.area is None else self.area.message


def tlv_header_len(length: int) -> int:
    return 2 if length < 0xFF else 4


def _read_length(data: bytes, i: int, size: int) -> tuple[int, int]:
    """(length, index of the value) of the TLV whose type byte is at *i*."""
    if i + 1 >= size:
        raise TlvError(f"TLV at offset {i} has no room for its length")
    if i + 1 >= len(data):
        raise NeedMore(i + 2)
    if data[i + 1] != 0xFF:
        return data[i + 1], i + 2
    if i + 3 >= len(data):
        if i + 4 > size:
            raise TlvError(f"TLV at offset {i} has a 3-byte length past the data area")
        raise NeedMore(i + 4)
    return int.from_bytes(data[i + 2 : i + 4], "big"), i + 4


def parse_tlv_area(data: bytes, size: int) -> TlvArea:
    """Find the first NDEF TLV in *data*, a prefix of a data area of *size* bytes."""
    i = 0
    free_at = 0
    controls: list[ControlTlv] = []
    while i < size:
        if i >= len(data):
            raise NeedMore(min(size, i + 1))
        kind = data[i]
        if kind == TLV_NULL:
            i += 1
            continue
        if kind == TLV_TERMINATOR:
            return TlvArea(free_at, None, None, tuple(controls))
        length, value_at = _read_length(data, i, size)
        end = value_at + length
        if end > size:
            raise TlvError(f"TLV 0x{kind:02X} at offset {i} (length {length}) runs past the end")
        if end > len(data):
            raise NeedMore(end)
        if kind == TLV_NDEF:
            return TlvArea(i, length, bytes(data[value_at:end]), tuple(controls))
        if kind in (TLV_LOCK_CONTROL, TLV_MEMORY_CONTROL) and length == 3:
            controls.append(ControlTlv(kind, bytes(data[value_at:end])))
        i = free_at = end
    return TlvArea(free_at, None, None, tuple(controls))


def encode_ndef_tlv(message: bytes) -> bytes:
    """The NDEF Message TLV for *message* (no terminator)."""
    if len(message) < 0xFF:
        return bytes([TLV_NDEF, len(message)]) + message
    if len(message) > 0xFFFE:
        raise ValueError("NDEF message longer than 65534 bytes")
    return bytes([TLV_NDEF, 0xFF]) + len(message).to_bytes(2, "big") + message


def ndef_capacity(size: int, offset: int) -> int:
    """Largest message an NDEF TLV at *offset* can hold in a data area of *size* bytes."""
    room = size - offset
    short = min(room - 2, 0xFE)
    long = room - 4 if room - 4 >= 0xFF else -1
    return max(short, long, 0)


def encode_message(records: ndef.Record | list[ndef.Record] | bytes) -> bytes:
    if isinstance(records, bytes | bytearray):
        return bytes(records)
    if isinstance(records, ndef.Record):
        records = [records]
    return b"".join(ndef.message_encoder(records))


def decode_message(message: bytes) -> list[ndef.Record]:
    """Records of *message*; an empty message has none. Raises ``ndef.DecodeError``, also
    for what ndeflib lets through as another error (a record type that is not ASCII
    raises ``UnicodeDecodeError`` there): the bytes come from a tag, so nothing else."""
    if not message:
        return []
    try:
        records = list(ndef.message_decoder(message))
        for record in records:
            record_to_dict(record)  # the fields a caller reads must decode too
    except ndef.DecodeError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ndef.DecodeError(f"{type(exc).__name__}: {exc}") from None
    return records


def record_to_dict(record: ndef.Record) -> dict[str, Any]:
    """A JSON-friendly view of one record, with the decoded fields of URI and Text."""
    out: dict[str, Any] = {"type": record.type}
    if record.name:
        out["name"] = record.name
    if isinstance(record, ndef.UriRecord):
        out["uri"] = record.iri
    elif isinstance(record, ndef.TextRecord):
        out["text"] = record.text
        out["language"] = record.language
    else:
        out["data"] = bytes(record.data).hex()
    return out


@dataclass(frozen=True)
class WritePlan:
    """The page writes of one NDEF update, in tear-safe order (see ``drivers.ntag``)."""

    writes: tuple[tuple[int, bytes], ...]
    image: dict[int, bytes]  # final content of pages first_page..last_page
    first_page: int
    last_page: int


def plan_ndef_write(
    area: TlvArea, size: int, cached: dict[int, bytes], message: bytes, user_first: int = 4
) -> WritePlan:
    """Pages to write so that the NDEF TLV at ``area.offset`` holds *message*.

    Bytes before the TLV (Lock Control TLV on NTAG213) are kept from *cached*; a terminator
    follows when there is room; pages whose content does not change are not written."""
    tlv = encode_ndef_tlv(message)
    if area.offset + len(tlv) < size:
        tlv += bytes([TLV_TERMINATOR])
    start = area.offset
    first_page = user_first + start // 4
    last_page = user_first + (start + len(tlv) - 1) // 4
    commit = user_first + (start + 1) // 4  # holds the first length byte
    image: dict[int, bytes] = {}
    for page in range(first_page, last_page + 1):
        buf = bytearray(cached.get(page, bytes(4)))
        for i in range(4):
            pos = (page - user_first) * 4 + i - start
            if 0 <= pos < len(tlv):
                buf[i] = tlv[pos]
        image[page] = bytes(buf)
    changed = [pg for pg in range(first_page, last_page + 1) if cached.get(pg) != image[pg]]
    others = [pg for pg in changed if pg != commit]
    writes: list[tuple[int, bytes]] = []
    if others and area.length != 0:
        # Not an empty NDEF TLV at this offset: first make it one (length byte 0, then a
        # terminator so that no stale byte is parsed as a TLV while the rest is written).
        staged = bytearray(image[commit])
        at = (start + 1) % 4
        staged[at] = 0x00
        if at < 3:
            staged[at + 1] = TLV_TERMINATOR
        writes.append((commit, bytes(staged)))
    writes += [(pg, image[pg]) for pg in others]
    if commit in changed or (others and area.length != 0):
        writes.append((commit, image[commit]))
    return WritePlan(tuple(writes), image, first_page, last_page)
