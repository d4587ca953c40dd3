"""ISO 14443-4 (ISO-DEP) on readers that exchange raw frames (nfcpy's PN53x drivers).

The reader's chip adds CRC_A; this module does RATS and the half-duplex block protocol:
I-blocks with the block number toggled per exchange, chaining of command APDUs longer than
the card's frame size (FSC from the ATS) and of long answers (R(ACK)), S(WTX) answered,
S(DESELECT). Frame layout from ISO/IEC 14443-4 section 7.
"""

from __future__ import annotations

from collections.abc import Callable

from drivers.errors import TagError

FSC_TABLE = (16, 24, 32, 40, 48, 64, 96, 128, 256)
RATS = b"\xe0\x80"  # FSDI 8 (we accept 256-byte frames), CID 0


class IsoDepError(TagError):
    """The card broke the ISO 14443-4 block protocol."""


class IsoDep:
    def __init__(self, exchange: Callable[[bytes], bytes]) -> None:
        self.exchange = exchange
        self.block = 0
        self.fsc = 32

    def activate(self) -> bytes:
        """RATS: the ATS (with its length byte first); sets the card's frame size."""
        ats = self.exchange(RATS)
        if not ats or ats[0] != len(ats):
            raise IsoDepError(f"bad answer to RATS: {ats.hex().upper()}")
        fsci = ats[1] & 0x0F if len(ats) > 1 else 2
        self.fsc = FSC_TABLE[min(fsci, len(FSC_TABLE) - 1)]
        self.block = 0
        return ats

    def apdu(self, apdu: bytes) -> bytes:
        """One command APDU, chained when longer than the frame; the whole response APDU."""
        room = self.fsc - 3  # PCB and CRC_A
        parts = [apdu[i : i + room] for i in range(0, len(apdu), room)] or [b""]
        for part in parts[:-1]:
            answer = self.exchange(bytes([0x12 | self.block]) + part)
            if not answer or answer[0] & 0xF6 != 0xA2:
                raise IsoDepError(f"card did not acknowledge a chained block: {answer.hex()}")
            self.block ^= 1
        answer = self.exchange(bytes([0x02 | self.block]) + parts[-1])
        data = b""
        while True:
            if not answer:
                raise IsoDepError("empty ISO-DEP block")
            pcb = answer[0]
            if pcb & 0xF7 == 0xF2 and len(answer) >= 2:  # S(WTX): the card needs more time
                answer = self.exchange(bytes([0xF2, answer[1] & 0x3F]))
                continue
            if pcb & 0xE2 != 0x02:
                raise IsoDepError(f"unexpected ISO-DEP block {answer.hex().upper()}")
            data += answer[1:]
            self.block ^= 1
            if not pcb & 0x10:
                return data
            answer = self.exchange(bytes([0xA2 | self.block]))

    def deselect(self) -> None:
        self.exchange(b"\xc2")
