"""The host side of an NXP PN532/PN533 as a byte-stream machine: frames in, frames out.

This is the part of the PN532 emulator that knows the chip's host protocol (PN532 user
manual UM0701-02, section 6.2) and its command set, independent of how the bytes travel:
``drivers.emulated.pn532`` pumps it over a pseudo-terminal (nfcpy's and libnfc's UART
drivers), and the unit tests of nfcpy's USB path wrap it in a fake USB transport with the
PN533 personality.

Framing, as seen from the chip::

    host:  [preamble/wake-up bytes] 00 00 FF LEN LCS D4 CMD data DCS 00
           extended:  00 00 FF FF FF LENH LENL LCS D4 CMD data DCS 00
           ACK (abort the running command):  00 00 FF 00 FF 00
    chip:  ACK, then 00 00 FF LEN LCS D5 CMD+1 data DCS 00
           unknown or malformed command:  00 00 FF 01 FF 7F 81 00 (syntax error frame)

Everything the emulator does not implement is answered with the syntax error frame and
logged, so a driver that needs more shows up in the log instead of hanging.

The RF side is the chip model behind a ``Field``: InListPassiveTarget (106 kbps type A)
activates ``field.tag``; InCommunicateThru and InDataExchange pass frames to
``tag.transceive()``. ``None`` from the tag is the chip's status 0x01 (timeout). With the
CIU's receive CRC switched off (nfcpy does this for Type 2 tags so that it can see the 4-bit
ACK/NAK) answers carry their CRC_A, and a 4-bit ACK/NAK comes back as one byte.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drivers.emulated.ntag424 import Ntag424Chip

if TYPE_CHECKING:
    from drivers.emulated.chip import EmulatedTag
    from drivers.emulated.field import Field

log = logging.getLogger("drivers.emulated.pn532")

ACK_FRAME = bytes.fromhex("0000ff00ff00")
NACK_FRAME = bytes.fromhex("0000ffff0000")
ERROR_FRAME = bytes.fromhex("0000ff01ff7f8100")
HOST_TFI, CHIP_TFI = 0xD4, 0xD5

# CIU registers the emulator gives meaning to (PN532 user manual, table 7.1).
CIU_TX_MODE, CIU_RX_MODE, CIU_TX_CONTROL, CIU_TX_AUTO = 0x6302, 0x6303, 0x6304, 0x6305
CIU_FIFO_DATA, CIU_FIFO_LEVEL = 0x6339, 0x633A
CRC_EN = 0x80  # bit 7 of CIU_TxMode / CIU_RxMode
FRAMING_MASK = 0x03  # bits 1-0 of CIU_TxMode: 00 = ISO/IEC 14443A / MIFARE
REQA = 0x26

# PN53x status bytes (UM0701-02 table 15)
STATUS_OK, STATUS_TIMEOUT, STATUS_MIFARE_ERROR = 0x00, 0x01, 0x14
STATUS_NOT_ACCEPTABLE = 0x27


def crc_a(data: bytes) -> bytes:
    """ISO/IEC 14443-3 CRC_A, least significant byte first."""
    crc = 0x6363
    for byte in data:
        byte ^= crc & 0xFF
        byte ^= (byte << 4) & 0xFF
        crc = (crc >> 8) ^ (byte << 8) ^ (byte << 3) ^ (byte >> 4)
    return bytes([crc & 0xFF, crc >> 8])


def build_frame(payload: bytes) -> bytes:
    """A normal (up to 255 bytes) or extended information frame around *payload*."""
    n = len(payload)
    if n < 256:
        head = bytes([0x00, 0x00, 0xFF, n, (-n) & 0xFF])
    else:
        hi, lo = n >> 8, n & 0xFF
        head = bytes([0x00, 0x00, 0xFF, 0xFF, 0xFF, hi, lo, (-(hi + lo)) & 0xFF])
    return head + payload + bytes([(-sum(payload)) & 0xFF, 0x00])


@dataclass(frozen=True)
class HostFrame:
    kind: str  # "ack" | "nack" | "info" | "bad"
    payload: bytes = b""


class FrameParser:
    """Splits the host's byte stream into frames; wake-up bytes and postambles are skipped."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[HostFrame]:
        self._buf += data
        frames: list[HostFrame] = []
        while True:
            frame = self._next()
            if frame is None:
                return frames
            frames.append(frame)

    def _next(self) -> HostFrame | None:
        buf = self._buf
        start = buf.find(b"\x00\xff")
        if start < 0:
            del buf[: max(0, len(buf) - 1)]  # a trailing 00 may begin a start code
            return None
        del buf[:start]
        if len(buf) < 4:
            return None
        a, b = buf[2], buf[3]
        if (a, b) == (0x00, 0xFF):
            del buf[:4]
            return HostFrame("ack")
        if (a, b) == (0xFF, 0x00):
            del buf[:4]
            return HostFrame("nack")
        # A header that does not check out is not a frame: only its start code is dropped,
        # so a frame right after a stray 00 FF (or inside a corrupt one) is still found.
        if (a, b) == (0xFF, 0xFF):
            if len(buf) < 7:
                return None
            hi, lo, lcs = buf[4], buf[5], buf[6]
            length, body = (hi << 8) | lo, 7
            if (hi + lo + lcs) & 0xFF or length == 0:
                del buf[:2]
                return HostFrame("bad", b"extended length checksum")
        else:
            length, body = a, 4
            if (a + b) & 0xFF or length == 0:  # LEN counts TFI: an information frame has 1+
                del buf[:2]
                return HostFrame("bad", b"length checksum")
        if len(buf) < body + length + 1:
            return None
        payload = bytes(buf[body : body + length])
        dcs = buf[body + length]
        if (sum(payload) + dcs) & 0xFF:
            del buf[:2]
            return HostFrame("bad", b"data checksum")
        del buf[: body + length + 1]
        return HostFrame("info", payload)


def _strip_cascade_tags(initiator: bytes) -> bytes:
    """InListPassiveTarget's UID argument with the cascade tags (0x88) of levels 1/2 removed."""
    if len(initiator) == 8:
        return initiator[1:]
    if len(initiator) == 12:
        return initiator[1:4] + initiator[5:]
    return initiator


class Pn53xChip:
    """The PN53x command set over a ``Field``. ``personality`` is ``"pn532"`` (UART) or
    ``"pn533"`` (USB: register commands carry a status byte, IC 0x33, no EEPROM)."""

    def __init__(self, field: Field, personality: str = "pn532") -> None:
        if personality not in ("pn532", "pn533"):
            raise ValueError(f"unknown PN53x personality {personality!r}")
        self.field = field
        self.personality = personality
        self.parser = FrameParser()
        self.registers: dict[int, int] = {
            CIU_TX_MODE: CRC_EN,
            CIU_RX_MODE: CRC_EN,
            CIU_TX_CONTROL: 0x80,
            CIU_TX_AUTO: 0x40,
            CIU_FIFO_LEVEL: 0x00,
        }
        self.target: EmulatedTag | None = None  # the tag InListPassiveTarget selected
        self.auto_rats = True  # SetParameters fAutomaticRATS, on after power-up
        self.unknown: list[bytes] = []  # payloads answered with the syntax error frame
        self._last_reply = ACK_FRAME
        self._handlers: dict[int, Callable[[bytes], bytes | None]] = {
            0x00: self._diagnose,
            0x02: self._get_firmware_version,
            0x04: self._get_general_status,
            0x06: self._read_register,
            0x08: self._write_register,
            0x0C: lambda data: bytes([0xFF, 0x07, 0x00]),  # ReadGPIO: P3, P7, I0I1
            0x0E: lambda data: b"",  # WriteGPIO
            0x10: lambda data: b"",  # SetSerialBaudRate: a pty has no baud rate
            0x12: self._set_parameters,
            0x14: lambda data: b"",  # SAMConfiguration
            0x16: lambda data: b"\x00",  # PowerDown: status ok (we wake on any frame)
            0x32: self._rf_configuration,
            0x40: self._in_data_exchange,
            0x42: self._in_communicate_thru,
            0x44: self._in_deselect,
            0x4A: self._in_list_passive_target,
            0x52: self._in_release,
            0x54: lambda data: b"\x00",  # InSelect
        }

    # -- byte stream ---------------------------------------------------------------------
    def process(self, data: bytes) -> bytes:
        """Feed host bytes; return what the chip sends back (ACKs and replies)."""
        out = bytearray()
        for frame in self.parser.feed(data):
            if frame.kind == "ack":
                continue  # abort: every command here completes before the next frame
            if frame.kind == "nack":
                out += self._last_reply
            elif frame.kind == "bad":
                log.warning("PN532 emulator: dropped host frame (%s)", frame.payload.decode())
            else:
                reply = self._reply_frame(frame.payload)
                self._last_reply = reply
                out += ACK_FRAME + reply
        return bytes(out)

    def _reply_frame(self, payload: bytes) -> bytes:
        if len(payload) < 2 or payload[0] != HOST_TFI or payload[1] & 1:
            return self._syntax_error(payload)
        cmd, data = payload[1], payload[2:]
        handler = self._handlers.get(cmd)
        if handler is None:
            return self._syntax_error(payload)
        try:
            answer = handler(data)
        except (IndexError, ValueError):
            answer = None
        if answer is None:
            return self._syntax_error(payload)
        return build_frame(bytes([CHIP_TFI, cmd + 1]) + answer)

    def _syntax_error(self, payload: bytes) -> bytes:
        self.unknown.append(payload)
        log.warning("PN532 emulator: unsupported host command %s", payload.hex())
        return ERROR_FRAME

    # -- miscellaneous -------------------------------------------------------------------
    def _diagnose(self, data: bytes) -> bytes | None:
        test = data[0]
        if test == 0x00:  # communication line test: echo
            return data
        if test in (0x01, 0x02):  # ROM / RAM test: ok
            return b"\x00"
        return None

    def _set_parameters(self, data: bytes) -> bytes:
        """Only fAutomaticRATS (bit 4) changes what the emulator does: nfcpy clears it and
        runs ISO-DEP itself, libnfc leaves it on and gets the ATS from InListPassiveTarget."""
        self.auto_rats = bool(data[:1] and data[0] & 0x10)
        return b""

    def _get_firmware_version(self, data: bytes) -> bytes:
        if self.personality == "pn533":
            return bytes([0x33, 0x02, 0x07, 0x07])
        return bytes([0x32, 0x01, 0x06, 0x07])  # IC, Ver, Rev, Support (ISO A, B, 18092)

    def _get_general_status(self, data: bytes) -> bytes:
        field_on = int(bool(self.registers[CIU_TX_CONTROL] & 0x03))
        if self.target is None:
            return bytes([0x00, field_on, 0x00, 0x00])
        return bytes([0x00, field_on, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00])

    def _read_register(self, data: bytes) -> bytes | None:
        if len(data) % 2:
            return None
        values = bytearray()
        for i in range(0, len(data), 2):
            address = data[i] << 8 | data[i + 1]
            if self.personality == "pn533" and not 0x6300 <= address <= 0x63FF:
                return None  # no EEPROM or XRAM behind this address
            values.append(self.registers.get(address, 0x00))
        return (b"\x00" if self.personality == "pn533" else b"") + bytes(values)

    def _write_register(self, data: bytes) -> bytes | None:
        if len(data) % 3:
            return None
        for i in range(0, len(data), 3):
            self.registers[data[i] << 8 | data[i + 1]] = data[i + 2]
        return b"\x00" if self.personality == "pn533" else b""

    def _rf_configuration(self, data: bytes) -> bytes:
        if data[0] == 0x01:  # RF field: bit 0 on/off (bit 1 auto RFCA)
            self._set_field(bool(data[1] & 0x01))
        return b""

    def _set_field(self, on: bool) -> None:
        control = self.registers[CIU_TX_CONTROL]
        self.registers[CIU_TX_CONTROL] = control | 0x03 if on else control & ~0x03
        if not on:
            self.target = None

    # -- initiator -----------------------------------------------------------------------
    def _in_list_passive_target(self, data: bytes) -> bytes:
        max_tg, brty, initiator = data[0], data[1], data[2:]
        if not 1 <= max_tg <= 2:
            raise ValueError("MaxTg must be 1 or 2")
        self._set_field(True)
        self.target = None
        tag = self.field.tag
        if brty != 0x00 or tag is None or not tag.activate():
            self.registers[CIU_FIFO_DATA] = REQA  # the REQA is still in the FIFO
            self.registers[CIU_FIFO_LEVEL] = 1
            return b"\x00"
        uid = bytes(tag.uid)
        wanted = _strip_cascade_tags(bytes(initiator))
        if wanted and wanted != uid[: len(wanted)]:
            self.registers[CIU_FIFO_DATA] = REQA
            return b"\x00"
        self.target = tag
        self.registers[CIU_TX_MODE] = CRC_EN  # 106 kbps type A, CRC on, as the firmware leaves it
        self.registers[CIU_RX_MODE] = CRC_EN
        self.registers[CIU_FIFO_LEVEL] = 0
        atqa = bytes(getattr(tag, "atqa", b"\x00\x44"))
        sak = int(getattr(tag, "sak", 0x00))
        reply = bytes([0x01, 0x01]) + atqa + bytes([sak, len(uid)]) + uid
        if isinstance(tag, Ntag424Chip) and self.auto_rats:
            reply += tag.frame(b"\xe0\x80") or b""  # the firmware sends RATS itself (libnfc)
        return reply

    def _tag_for_rf(self) -> EmulatedTag | None:
        tag = self.field.tag
        if tag is None or not self.registers[CIU_TX_CONTROL] & 0x03:
            return None
        if self.registers[CIU_TX_MODE] & FRAMING_MASK:
            return None  # the host switched the CIU to type B or FeliCa framing
        if self.target is not None and tag is not self.target:
            return None  # a different tag was placed since the selection: it is not selected
        return tag

    def _in_communicate_thru(self, data: bytes) -> bytes:
        tag = self._tag_for_rf()
        if not self.registers[CIU_TX_MODE] & CRC_EN:
            if len(data) < 3 or crc_a(data[:-2]) != data[-2:]:
                return bytes([STATUS_TIMEOUT])  # the tag ignores a frame with a bad CRC
            data = data[:-2]
        if isinstance(tag, Ntag424Chip):
            answer = tag.frame(bytes(data))  # ISO 14443-4: the host runs the block protocol
        else:
            answer = tag.transceive(bytes(data)) if tag is not None else None
        if answer is None:
            return bytes([STATUS_TIMEOUT])
        if len(answer) == 1 and not isinstance(
            tag, Ntag424Chip
        ):  # 4-bit ACK/NAK: no CRC, reported as one byte
            return bytes([STATUS_OK]) + answer
        if not self.registers[CIU_RX_MODE] & CRC_EN:
            answer = answer + crc_a(answer)
        return bytes([STATUS_OK]) + answer

    def _in_data_exchange(self, data: bytes) -> bytes:
        tg, command = data[0], bytes(data[1:])
        if tg & 0x3F != 1 or self.target is None:
            return bytes([STATUS_NOT_ACCEPTABLE])
        tag = self._tag_for_rf()
        if tag is None:
            return bytes([STATUS_TIMEOUT])
        if command[:1] == b"\xa0" and len(command) == 18:
            # MIFARE WRITE as the firmware does it: A0 pp, wait for ACK, then 16 bytes.
            first = tag.transceive(command[:2])
            if first != b"\x0a":
                return bytes([STATUS_TIMEOUT if first is None else STATUS_MIFARE_ERROR])
            command = command[2:]
        answer = tag.transceive(command)
        if answer is None:
            return bytes([STATUS_TIMEOUT])
        if len(answer) == 1:
            # ACK: done, no data. NAK: the firmware reports an error [unconfirmed code].
            return bytes([STATUS_OK if answer == b"\x0a" else STATUS_MIFARE_ERROR])
        return bytes([STATUS_OK]) + answer

    def _in_deselect(self, data: bytes) -> bytes:
        return b"\x00"

    def _in_release(self, data: bytes) -> bytes:
        self.target = None
        return b"\x00"
