"""Type 2 tag commands carried in PC/SC APDUs, and the tag's answer read back out of them.

Pure data in, data out: no pyscard, no I/O, so every byte is golden-tested
(tests/unit/test_pcsc_apdu.py) and the reader (``drivers.pcsc.PcscReader``) only moves them.
The mapping (docs/hardware.md, "Readers: PC/SC"; opcodes from ``drivers.type2``):

    READ 30 pp           -> FF B0 00 pp 10               READ BINARY, 4 pages
    WRITE A2 pp d0..d3   -> FF D6 00 pp 04 d0..d3        UPDATE BINARY, 1 page
    anything else, raw:
      raw=acr122         -> FF 00 00 00 Lc D4 42 cmd     ACR122U pass-through (PN532
                                                         InCommunicateThru)
      raw=transparent    -> FF C2 00 01 Lc 95 L cmd 00   PC/SC 2.02 Transparent Exchange

Storage commands hide the tag's own answer: a reader says ``63 00`` both for a NAK and for
silence. It is returned as NAK 0x0 (invalid argument: a locked or protected page, the usual
cause), and the tag layer's re-select after every NAK tells a tag still there from one that
left (``TagGone``). ``65 81`` (memory failure) is NAK 0x5.
"""

from __future__ import annotations

from drivers import type2
from drivers.errors import NfcError

RAW_MODES = ("acr122", "transparent")

GET_UID = bytes.fromhex("FFCA000000")
START_TRANSPARENT_SESSION = bytes.fromhex("FFC2000002810000")  # Manage Session: 81 00 start
END_TRANSPARENT_SESSION = bytes.fromhex("FFC2000002820000")  # Manage Session: 82 00 end
# ACR122U LED and buzzer (FF 00 40 P2 04 T1 T2 N B), [unconfirmed on hardware]:
SIGNAL_OK = bytes.fromhex("FF0040AE0401010101")  # green blinks once, short beep
SIGNAL_FAIL = bytes.fromhex("FF00405D0402020303")  # red blinks three times, beeps

_NAK_INVALID = bytes([type2.NAK_INVALID])
_NAK_EEPROM = bytes([type2.NAK_EEPROM])


class NoValidAnswer(NfcError):
    """The reader reports no valid answer from the tag (the driver raises TagGone)."""


class ApduRejected(NfcError):
    """The reader does not understand the APDU (the driver raises CapabilityMissing)."""


def command_apdu(command: bytes, raw: str) -> bytes:
    """The APDU that carries the Type 2 *command* on a reader with raw path *raw*.

    ``ValueError`` for an unknown raw mode or a command too long for a short APDU."""
    if type2.is_read(command):
        return bytes([0xFF, 0xB0, 0x00, command[1], 0x10])
    if type2.is_write(command):
        return bytes([0xFF, 0xD6, 0x00, command[1], 0x04]) + command[2:]
    if raw == "acr122":
        body = b"\xd4\x42" + command
    elif raw == "transparent":
        body = b"\x95" + ber_length(len(command)) + command
    else:
        raise ValueError(f"unknown raw mode {raw!r}")
    if len(body) > 0xFF:
        raise ValueError(f"a {len(command)}-byte command does not fit in a short APDU")
    if raw == "acr122":
        return bytes([0xFF, 0x00, 0x00, 0x00, len(body)]) + body
    return bytes([0xFF, 0xC2, 0x00, 0x01, len(body)]) + body + b"\x00"


def tag_answer(command: bytes, raw: str, response: bytes) -> bytes:
    """The tag's raw answer inside the reader's *response* to ``command_apdu(command, raw)``.

    Raises ``NoValidAnswer`` when the reader reports that the tag did not answer validly and
    ``ApduRejected`` when the reader rejects the APDU itself.
    """
    if len(response) < 2:
        raise NoValidAnswer("the reader returned no status word (card lost)")
    data, sw = response[:-2], response[-2:]
    if sw in (b"\x6d\x00", b"\x6e\x00", b"\x6a\x81"):
        raise ApduRejected(f"the reader rejects the APDU (SW {sw.hex().upper()})")
    storage = type2.is_read(command) or type2.is_write(command)
    if storage:
        if sw == b"\x90\x00":
            return data if type2.is_read(command) else bytes([type2.ACK])
        if sw == b"\x65\x81":
            return _NAK_EEPROM  # memory failure: the tag's EEPROM write error
        if sw in (b"\x63\x00", b"\x6a\x82", b"\x6b\x00", b"\x69\x82"):
            # refused or silent (63 00), no such page, not allowed: the tag's own NAK 0x0;
            # the tag layer re-selects after it, which raises TagGone if the tag left.
            return _NAK_INVALID
        raise NoValidAnswer(f"no valid answer from the tag (SW {sw.hex().upper()})")
    if sw != b"\x90\x00":
        raise NoValidAnswer(f"no valid answer from the tag (SW {sw.hex().upper()})")
    if raw == "acr122":
        if data[:2] != b"\xd5\x43" or len(data) < 3:
            raise NoValidAnswer(f"unexpected pass-through answer {data.hex()}")
        if data[2] != 0x00:  # PN532 status: 01 timeout, 02 CRC error, ...
            raise NoValidAnswer(f"no answer from the tag (PN532 status {data[2]:02X})")
        return data[3:]
    try:
        objects = parse_tlv(data)
    except ValueError as exc:
        raise NoValidAnswer(f"malformed transparent exchange answer: {exc}") from None
    status = objects.get(0xC0, b"")
    if len(status) != 3 or status[0] != 0x00:
        raise NoValidAnswer(f"no answer from the tag (transparent status {status.hex() or '-'})")
    if 0x97 not in objects:
        raise NoValidAnswer("transparent exchange returned no card response")
    return objects[0x97]


def ber_length(length: int) -> bytes:
    """A BER-TLV length (PC/SC 2.02 part 3): one byte below 128, else 81 xx or 82 xx xx."""
    if length < 0x80:
        return bytes([length])
    if length <= 0xFF:
        return bytes([0x81, length])
    if length <= 0xFFFF:
        return bytes([0x82]) + length.to_bytes(2, "big")
    raise ValueError(f"length {length} does not fit a BER-TLV length of at most 3 bytes")


def parse_tlv(data: bytes) -> dict[int, bytes]:
    """The data objects of a Transparent Exchange answer: BER-TLV with 1- or 2-byte tags
    (``5F 46``) and short or long-form lengths (``81 xx``, ``82 xx xx``), PC/SC 2.02 part 3.

    ``ValueError`` when a tag or length is cut off, a value runs past the end, or a length
    uses a form other than those (``80`` indefinite, ``83`` and longer)."""
    out: dict[int, bytes] = {}
    i = 0
    while i < len(data):
        tag = data[i]
        i += 1
        if tag & 0x1F == 0x1F:
            if i >= len(data):
                raise ValueError(f"two-byte tag {tag:02X} cut off at offset {i}")
            tag = (tag << 8) | data[i]
            i += 1
        if i >= len(data):
            raise ValueError(f"tag {tag:02X} at offset {i} has no length")
        length = data[i]
        i += 1
        if length & 0x80:
            size = length & 0x7F
            if size not in (1, 2) or i + size > len(data):
                raise ValueError(f"bad BER length {length:02X} for tag {tag:02X}")
            length = int.from_bytes(data[i : i + size], "big")
            i += size
        if i + length > len(data):
            raise ValueError(f"tag {tag:02X} runs {i + length - len(data)} bytes past the end")
        out[tag] = data[i : i + length]
        i += length
    return out
