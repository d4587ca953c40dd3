"""A virtual contactless card for pcscd's vpcd driver (Debian vsmartcard-vpcd).

vpcd is the server side inside pcscd ("Virtual PCD 00 00" listens on TCP 35963, "00 01" on
35964); the virtual card is the client. Each message is a 2-byte big-endian length and a
payload. A 1-byte payload from vpcd is a control code (0 power off, 1 power on, 2 reset,
4 get ATR; only the ATR request is answered); anything longer is a C-APDU answered with an
R-APDU.

Presence works as it does for vsmartcard's own virtual cards: a card is in the reader while
its connection is open. vpcd accepts a waiting connection when pcscd polls the slot (about
every 0.4 s) and asks for the ATR on each poll; a closed connection makes the next poll
report the card removed. So this card connects when a tag is placed on its ``Field`` and
disconnects when the tag is removed (by a test, a rig, or a ``remove``/``tear`` fault).

The card answers what a PC/SC reader answers for an NTAG21x / Ultralight EV1 in its field
(PC/SC Part 3 storage-card APDUs, the ACR122U pass-through and PC/SC 2.02 Transparent
Exchange), driving the chip model for every tag command, so pyscard talks to the same chip
as the ``mock:`` reader and the PN532 emulator.
"""

from __future__ import annotations

import logging
import select
import socket
import struct
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Self

from drivers.emulated.ntag424 import Ntag424Chip

if TYPE_CHECKING:
    from drivers.emulated.chip import EmulatedTag
    from drivers.emulated.field import Field

log = logging.getLogger("drivers.emulated.vpcd")

VPCD_PORT = 35963  # slot 0; slot n listens on VPCD_PORT + n
VPCD_SLOTS = 2  # vsmartcard builds vpcd with two slots
CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4

# Contactless storage card ATR (PC/SC Part 3): RID A0 00 00 03 06, standard 03 (ISO 14443A
# part 3), card name 00 03 (Mifare Ultralight: every NTAG21x and Ultralight EV1 reports it).
ATR_ULTRALIGHT = bytes.fromhex("3B8F8001804F0CA0000003060300030000000068")

SW_OK = b"\x90\x00"
SW_NO_INFO = b"\x63\x00"  # operation failed (the tag NAKed or did not answer)
SW_MEMORY_FAILURE = b"\x65\x81"  # UPDATE BINARY: EEPROM write error
SW_WRONG_LENGTH = b"\x67\x00"
SW_EXECUTION_ERROR = b"\x6f\x00"  # no precise diagnosis
SW_FUNCTION_NOT_SUPPORTED = b"\x6a\x81"
SW_WRONG_P1P2 = b"\x6b\x00"
SW_INS_NOT_SUPPORTED = b"\x6d\x00"
SW_CLA_NOT_SUPPORTED = b"\x6e\x00"

NAK_EEPROM = 0x05  # spelled here, not imported from drivers.type2: an independent emulator

# pcscd polls a vpcd slot about every 0.4 s, and vpcd accepts a waiting card during the
# poll. A card that connects before pcscd has polled the slot empty since the previous card
# left is never seen as inserted: pcscd's event thread saw "present" on every poll, so it
# does not power the new card up, while a failed exchange has already marked the slot
# empty for clients. So the slot stays "empty" with a card in it. Reinsertion into a slot
# therefore waits this long after the last hang-up on its port (in this process; see
# VirtualCard.settle for the next process).
REINSERT_GAP = 1.0
_hangups: dict[int, float] = {}  # port -> time.monotonic() of the last hang-up


class _TagVanished(Exception):
    """The tag left the field during a command: drop the connection instead of answering."""


class StorageCardApdus:
    """What the reader answers, as a function of the APDU and the tag in the field.

    Kept apart from the socket so its semantics can be read (and tested) on their own. A
    NAK or silence from the tag is ``63 00`` on the storage commands, as ACR122U-class
    readers answer; an EEPROM write error is ``65 81`` (PC/SC Part 3 "memory failure").
    """

    def __init__(self, field: Field) -> None:
        self.field = field
        # the C-APDUs received, newest last, for golden-APDU tests (bounded: rigs run long)
        self.apdus: deque[bytes] = deque(maxlen=4096)

    def answer(self, apdu: bytes) -> bytes:
        self.apdus.append(apdu)
        if len(apdu) < 4:
            return SW_WRONG_LENGTH
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[4:]
        if cla != 0xFF:
            return SW_CLA_NOT_SUPPORTED
        if ins == 0xCA:
            return self._get_data(p1, p2)
        if ins == 0xB0:
            return self._read_binary(p1, p2, body)
        if ins == 0xD6:
            return self._update_binary(p1, p2, body)
        if ins == 0x00:
            return self._acr122_pseudo_apdu(p1, p2, body)
        if ins == 0xC2:
            return self._transparent(p1, p2, body)
        return SW_INS_NOT_SUPPORTED

    # -- the tag -------------------------------------------------------------------------
    def _chip(self, command: bytes) -> bytes | None:
        tag = self.field.tag
        answer = tag.transceive(command) if tag is not None else None
        if answer is None and self.field.tag is None:
            raise _TagVanished
        return answer

    # -- PC/SC Part 3 storage commands ----------------------------------------------------
    def _get_data(self, p1: int, p2: int) -> bytes:
        tag = self.field.tag
        if tag is None:
            raise _TagVanished
        if p1 != 0x00 or p2 != 0x00:
            return SW_FUNCTION_NOT_SUPPORTED  # P1 01 (ATS) has no meaning for Type 2 tags
        return tag.uid + SW_OK

    def _read_binary(self, p1: int, page: int, body: bytes) -> bytes:
        if len(body) != 1:
            return SW_WRONG_LENGTH
        le = body[0]
        if p1 != 0x00:
            return SW_WRONG_P1P2  # block numbers above 255 do not exist on these tags
        if not 1 <= le <= 16:
            return b"\x6c\x10"  # wrong Le: at most 16 bytes (4 pages) per READ
        answer = self._chip(bytes([0x30, page]))
        if answer is None or len(answer) != 16:
            return SW_NO_INFO
        return answer[:le] + SW_OK

    def _update_binary(self, p1: int, page: int, body: bytes) -> bytes:
        if p1 != 0x00:
            return SW_WRONG_P1P2
        if len(body) != 5 or body[0] != 4:
            return SW_WRONG_LENGTH  # one 4-byte page per UPDATE BINARY
        answer = self._chip(bytes([0xA2, page]) + body[1:5])
        if answer == b"\x0a":
            return SW_OK
        if answer is not None and answer[0] == NAK_EEPROM:
            return SW_MEMORY_FAILURE
        return SW_NO_INFO

    # -- ACR122U pseudo-APDUs ----------------------------------------------------------------
    def _acr122_pseudo_apdu(self, p1: int, p2: int, body: bytes) -> bytes:
        if p1 == 0x40 or p1 == 0x52:
            return SW_OK  # LED/buzzer control, buzzer-on-detect: nothing to show here
        if p1 != 0x00 or p2 != 0x00 or not body or body[0] != len(body) - 1:
            return SW_FUNCTION_NOT_SUPPORTED
        frame = body[1:]
        if frame[:2] != b"\xd4\x42" or len(frame) < 3:
            return SW_FUNCTION_NOT_SUPPORTED  # only InCommunicateThru is modelled
        answer = self._chip(frame[2:])
        if answer is None:
            return b"\xd5\x43\x01" + SW_OK  # PN532 status 01: timeout, no answer
        return b"\xd5\x43\x00" + answer + SW_OK

    # -- PC/SC 2.02 Transparent Exchange (Part 3 supplement) -------------------------------
    def _transparent(self, p1: int, p2: int, body: bytes) -> bytes:
        if p1 != 0x00:
            return SW_WRONG_P1P2
        if not body or body[0] > len(body) - 1:
            return SW_WRONG_LENGTH
        objects = _parse_tlv(body[1 : 1 + body[0]])
        if objects is None:
            return b"\xc0\x03\x01\x6a\x80" + SW_OK  # malformed data objects
        if p2 == 0x00:  # manage session: start/end, RF on/off, timer: accepted as is
            return b"\xc0\x03\x00\x90\x00" + SW_OK
        if p2 != 0x01:
            return SW_FUNCTION_NOT_SUPPORTED  # 02 switch protocol: not modelled
        frames = [value for tag, value in objects if tag == 0x95]
        if len(frames) != 1:
            return b"\xc0\x03\x01\x6a\x81" + SW_OK  # only Transceive (95) is modelled
        answer = self._chip(frames[0])
        if answer is None:
            return b"\xc0\x03\x01\x64\x01" + SW_OK  # no response from the card
        out = b"\xc0\x03\x00\x90\x00"
        if len(answer) == 1 and answer[0] <= 0x0F:
            out += b"\x92\x01\x04"  # a 4-bit ACK/NAK: 4 valid bits in the last byte
        return out + b"\x97" + _ber_length(len(answer)) + answer + SW_OK


def _ber_length(n: int) -> bytes:
    """PC/SC 2.02 part 3 data object lengths: 0-127 in one byte, then 81 xx, 82 xx xx
    (a FAST_READ of a whole NTAG216 answers 924 bytes)."""
    if n < 0x80:
        return bytes([n])
    if n <= 0xFF:
        return bytes([0x81, n])
    return bytes([0x82, n >> 8, n & 0xFF])


def _parse_tlv(data: bytes) -> list[tuple[int, bytes]] | None:
    """BER-TLV with 1- or 2-byte tags (5F 46 timer) and short or long-form (81 xx,
    82 xx xx) lengths; None if malformed."""
    out: list[tuple[int, bytes]] = []
    i = 0
    while i < len(data):
        tag = data[i]
        i += 1
        if tag & 0x1F == 0x1F:
            if i >= len(data):
                return None
            tag = (tag << 8) | data[i]
            i += 1
        if i >= len(data):
            return None
        length = data[i]
        i += 1
        if length & 0x80:
            size = length & 0x7F
            if size not in (1, 2) or i + size > len(data):
                return None
            length = int.from_bytes(data[i : i + size], "big")
            i += size
        if i + length > len(data):
            return None
        out.append((tag, data[i : i + length]))
        i += length
    return out


class VirtualCard:
    """The tags on *field*, as a card in vpcd's slot at *host*:*port*.

    ``start()`` runs a background thread that keeps the connection in step with the field;
    ``stop()`` disconnects (the card leaves the reader) and joins it.
    """

    poll = 0.02  # how often the field is checked while connected (removal latency)

    def __init__(self, field: Field, host: str = "127.0.0.1", port: int = VPCD_PORT) -> None:
        self.field = field
        self.host = host
        self.port = port
        self.apdus = StorageCardApdus(field)
        self.connected = threading.Event()
        self.errors: list[str] = []  # protocol problems seen (for tests and the CLI)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.hung_up_at: float | None = None  # time.monotonic() of the last disconnect

    @property
    def slot(self) -> int | None:
        """vpcd's slot for this port with Debian's configuration (CHANNELID 0x8C7B)."""
        slot = self.port - VPCD_PORT
        return slot if 0 <= slot < VPCD_SLOTS else None

    @property
    def reader_name(self) -> str:
        """pcscd's name for the slot (with another CHANNELID only the common prefix)."""
        return "Virtual PCD" if self.slot is None else f"Virtual PCD 00 {self.slot:02d}"

    @property
    def reader_url(self) -> str:
        return f"pcsc:{self.reader_name}"

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> Self:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name=f"vpcd-card-{self.port}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self.field.changed:
            self.field.changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the connection -----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            tag = self.field.tag
            if tag is None:
                generation = self.field.generation
                if self.field.tag is None:
                    self.field.wait_changed(generation, timeout=0.1)
                continue
            wait = _hangups.get(self.port, -REINSERT_GAP) + REINSERT_GAP - time.monotonic()
            if wait > 0:
                self._stop.wait(min(wait, 0.1))  # let pcscd see the slot empty first
                continue
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
            except OSError:
                self._stop.wait(0.2)  # pcscd not running (yet): try again
                continue
            try:
                self._serve(sock, tag)
            except OSError as exc:
                log.debug("vpcd connection on port %d ended: %s", self.port, exc)
            finally:
                self.connected.clear()
                sock.close()
                self.hung_up_at = _hangups[self.port] = time.monotonic()

    def settle(self) -> None:
        """Block until pcscd has surely polled the slot empty since this card left: the
        next card in the slot (from any process) is then seen as a new insertion."""
        if self.hung_up_at is not None:
            time.sleep(max(0.0, self.hung_up_at + REINSERT_GAP - time.monotonic()))

    def _serve(self, sock: socket.socket, tag: EmulatedTag) -> None:
        """One insertion: answer vpcd until the tag leaves, vpcd hangs up, or stop()."""
        tag.activate()  # the reader selects the tag before it reports a card present
        self.connected.set()
        buffer = b""
        while not self._stop.is_set() and self.field.tag is tag:
            readable, _, _ = select.select([sock], [], [], self.poll)
            if not readable:
                continue
            chunk = sock.recv(4096)
            if not chunk:
                return  # vpcd closed the slot (pcscd stopped)
            buffer += chunk
            while len(buffer) >= 2:
                (size,) = struct.unpack(">H", buffer[:2])
                if len(buffer) < 2 + size:
                    break
                message, buffer = buffer[2 : 2 + size], buffer[2 + size :]
                try:
                    reply = self._handle(message, tag)
                except _TagVanished:
                    return  # removed mid-command: the reader loses the card, no answer
                except Exception as exc:  # a bug in the model must not kill the card thread
                    log.exception("vpcd card: failed on %s", message.hex())
                    self.errors.append(f"failed on {message.hex()}: {exc!r}")
                    reply = SW_EXECUTION_ERROR
                if reply is not None:
                    sock.sendall(struct.pack(">H", len(reply)) + reply)

    def _handle(self, message: bytes, tag: EmulatedTag) -> bytes | None:
        iso_dep = isinstance(tag, Ntag424Chip)
        if len(message) == 1:
            code = message[0]
            if code == CTRL_ATR:
                return atr_for_ats(tag.rats()) if isinstance(tag, Ntag424Chip) else ATR_ULTRALIGHT
            if code in (CTRL_ON, CTRL_RESET):
                # The reader re-activates the tag. Like the mock reader's re-select this
                # does not restart the chip's fault counting (only placing the tag does),
                # so a fault URL means the same command on every front door.
                tag.activate()
            elif code != CTRL_OFF:
                self.errors.append(f"unknown vpcd control code {code}")
            return None
        if iso_dep:
            return iso_dep_answer(tag, message)  # type: ignore[arg-type]
        return self.apdus.answer(message)


def atr_for_ats(ats: bytes) -> bytes:
    """PC/SC Part 3 ATR of an ISO 14443-4 card: 3B 8n 80 01 <ATS historical bytes> TCK."""
    historical = ats_historical(ats)
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes([tck])


def ats_historical(ats: bytes) -> bytes:
    """The historical bytes of an ATS (after TL, T0 and the interface bytes T0 announces)."""
    t0 = ats[1] if len(ats) > 1 else 0
    start = 2 + sum(1 for bit in (0x10, 0x20, 0x40) if t0 & bit)
    return ats[start : ats[0]]


def iso_dep_answer(chip: Ntag424Chip, apdu: bytes) -> bytes:
    """A PC/SC reader with an ISO-DEP card: GET DATA is the reader's, the rest the card's."""
    if len(apdu) >= 4 and apdu[0] == 0xFF and apdu[1] == 0xCA:
        if apdu[2] == 0x00:
            return chip.uid + SW_OK
        if apdu[2] == 0x01:
            return ats_historical(chip.rats()) + SW_OK
        return SW_FUNCTION_NOT_SUPPORTED
    if apdu[:1] == b"\xff":
        return SW_INS_NOT_SUPPORTED
    return chip.transceive(apdu)
