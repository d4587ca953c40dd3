"""A byte-exact model of NTAG213/215/216 and Ultralight EV1 (MF0UL11/MF0UL21).

What is modelled (docs/hardware.md, NXP datasheets): the memory map with UID/BCC pages, factory
CC and user memory; GET_VERSION, READ (4 pages, wrapping past the last page), FAST_READ,
WRITE, COMPATIBILITY_WRITE (two frames), READ_CNT and the NFC counter, PWD_AUTH with
AUTH0/PROT/AUTHLIM, READ_SIG, HALT; one-time-programmable CC and lock bits (static lock
bytes with their block-lock bits, dynamic lock bytes, CFGLCK); NAK then idle until
re-selected; faults injected at the k-th command since the tag entered the field: ``remove``
(no answer from then on), ``tear`` (a write half-applied, then gone), ``eeprom`` (NAK 0x5).

Lock bits and CFGLCK are latched when the tag is activated: a lock written in this session
takes effect after the next re-selection (the conservative reading of the datasheet,
docs/hardware.md "Lock bits and the permanent-lock order", unconfirmed), which is why the
tag layer verifies after a re-select.

Not modelled: the UID/counter ASCII mirror, the ECC-protected 16-bit block-lock mapping of
the dynamic lock byte 2 beyond "bit j freezes the j-th group of dynamic lock bits"
([unconfirmed] grouping), anti-tearing of the counter, Ultralight EV1's three counters and
INCR_CNT, and timing.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass

from drivers.products import Product, product_by_name
from drivers.signature import sign_with_test_key

# The opcodes and ACK/NAK codes are spelled here on purpose rather than imported from
# ``drivers.type2``: the model is written from the datasheet independently of the tag layer,
# so a wrong byte in one of them shows up as a disagreement in the tests.
ACK = b"\x0a"
NAK_ARGUMENT = b"\x00"  # invalid argument (page address, locked page)
NAK_CRC = b"\x01"
NAK_AUTH_LIMIT = b"\x04"  # authentication counter overflow
NAK_EEPROM = b"\x05"  # EEPROM write error

GET_VERSION, READ, FAST_READ, WRITE, COMP_WRITE = 0x60, 0x30, 0x3A, 0xA2, 0xA0
READ_CNT, PWD_AUTH, READ_SIG, HALT = 0x39, 0x1B, 0x3C, 0x50
WRITE_COMMANDS = (WRITE, COMP_WRITE)

# ACCESS byte (CFG1 byte 0)
PROT, CFGLCK, NFC_CNT_EN, NFC_CNT_PWD_PROT, AUTHLIM_MASK = 0x80, 0x40, 0x10, 0x08, 0x07


@dataclass(frozen=True)
class Fault:
    kind: str  # "remove" | "tear" | "eeprom"
    at: int  # 1-based index of the command since the tag entered the field

    KINDS = ("remove", "tear", "eeprom")


def parse_faults(text: str | None) -> tuple[Fault, ...]:
    """``"remove@7,tear@9"`` -> faults; a malformed item is a ValueError naming it."""
    faults = []
    for item in filter(None, (text or "").split(",")):
        kind, sep, at = item.strip().partition("@")
        if not sep or kind not in Fault.KINDS or not at.isdigit() or int(at) < 1:
            raise ValueError(
                f"bad fault {item!r}: expected KIND@N with KIND one of "
                f"{', '.join(Fault.KINDS)} and N >= 1"
            )
        faults.append(Fault(kind, int(at)))
    return tuple(faults)


@functools.cache
def _factory_image(p: Product) -> bytes:
    """A product's memory as shipped, but for the UID pages 0-2 (built once per product: a
    roll of blank tags in a bench makes thousands)."""
    memory = bytearray(p.pages * 4)

    def set_page(n: int, data: bytes) -> None:
        memory[n * 4 : n * 4 + 4] = data

    set_page(3, p.factory_cc)
    memory[16 : 16 + len(p.factory_user)] = p.factory_user
    if p.dynamic_lock_page is not None:
        set_page(p.dynamic_lock_page, b"\x00\x00\x00\xbd")
    set_page(p.cfg0_page, b"\x04\x00\x00\xff" if p.is_ntag else b"\x00\x00\x00\xff")
    set_page(p.cfg1_page, b"\x00\x05\x00\x00" if not p.is_ntag else bytes(4))
    set_page(p.pwd_page, b"\xff\xff\xff\xff")
    set_page(p.pack_page, bytes(4))
    return bytes(memory)


def random_uid() -> bytes:
    return b"\x04" + os.urandom(6)


class EmulatedTag:
    """One chip. Thread-compatible: one reader front door drives it at a time."""

    def __init__(
        self,
        product: Product | str = "NTAG213",
        uid: bytes | None = None,
        signature: bytes | None = None,
        faults: Sequence[Fault] = (),
    ) -> None:
        self.product = product_by_name(product) if isinstance(product, str) else product
        self.uid = uid if uid is not None else random_uid()
        if len(self.uid) != 7:
            raise ValueError(f"an NTAG21x UID has 7 bytes, not {len(self.uid)}")
        self.version = self.product.version  # replace to model a clone (vendor byte != 04)
        self._signature = signature  # made on first READ_SIG (an ECDSA signing: ~0.3 ms)
        self.faults = tuple(faults)
        self.memory = bytearray(self.product.pages * 4)
        self._format_factory()
        self.present = True
        self.log: list[bytes] = []
        self.nfc_counter = 0
        self.failed_auths = 0
        self.commands_since_power_on = 0
        self._selected = False
        self._authenticated = False
        self._counted_this_session = False
        self._pending_compat_write: int | None = None
        self._latched_lock = bytes(4)
        self._latched_dynamic = bytes(4)
        self._latched_access = 0

    @property
    def signature(self) -> bytes:
        """The originality signature, by the test key unless one was given (a clone's)."""
        if self._signature is None:
            self._signature = sign_with_test_key(self.uid)
        return self._signature

    @signature.setter
    def signature(self, value: bytes) -> None:
        self._signature = value

    # -- memory helpers ------------------------------------------------------------------
    def page(self, n: int) -> bytes:
        return bytes(self.memory[n * 4 : n * 4 + 4])

    def _set_page(self, n: int, data: bytes) -> None:
        self.memory[n * 4 : n * 4 + 4] = data

    def _format_factory(self) -> None:
        u = self.uid
        bcc0 = 0x88 ^ u[0] ^ u[1] ^ u[2]
        bcc1 = u[3] ^ u[4] ^ u[5] ^ u[6]
        self.memory[:] = _factory_image(self.product)
        self._set_page(0, bytes([u[0], u[1], u[2], bcc0]))
        self._set_page(1, u[3:7])
        self._set_page(2, bytes([bcc1, 0x48, 0x00, 0x00]))

    @property
    def access(self) -> int:
        return self.memory[self.product.cfg1_page * 4]

    @property
    def auth0(self) -> int:
        return self.memory[self.product.cfg0_page * 4 + 3]

    # -- the field -----------------------------------------------------------------------
    def power_on(self) -> None:
        """The tag enters a field: IDLE, not authenticated, fault counting starts."""
        self.commands_since_power_on = 0
        self._selected = False
        self._authenticated = False
        self._pending_compat_write = None

    def activate(self) -> bool:
        """REQA/WUPA, anticollision and select. Latches lock bits and CFGLCK."""
        if not self.present:
            return False
        self._selected = True
        self._authenticated = False
        self._counted_this_session = False
        self._pending_compat_write = None
        self._latched_lock = self.page(2)
        if self.product.dynamic_lock_page is not None:
            self._latched_dynamic = self.page(self.product.dynamic_lock_page)
        self._latched_access = self.access
        return True

    def halt(self) -> None:
        self._selected = False

    # -- commands ------------------------------------------------------------------------
    def transceive(self, command: bytes) -> bytes | None:
        """One frame in, the answer out; None is silence."""
        if not self.present:
            return None
        self.log.append(bytes(command))
        self.commands_since_power_on += 1
        fault = next((f for f in self.faults if f.at == self.commands_since_power_on), None)
        if fault is not None and fault.kind == "remove":
            self.present = False
            return None
        if not self._selected or not command:
            return None
        is_write = self._pending_compat_write is not None or command[0] in WRITE_COMMANDS
        if fault is not None and is_write:
            if fault.kind == "eeprom":
                return self._nak(NAK_EEPROM)
            if fault.kind == "tear":
                self._tear(command)
                self.present = False
                return None
        answer = self._dispatch(command)
        if answer is not None and len(answer) == 1 and answer != ACK:
            self._selected = False  # NAK: back to IDLE until re-selected
        return answer

    def _nak(self, code: bytes) -> bytes:
        self._pending_compat_write = None
        return code

    def _dispatch(self, cmd: bytes) -> bytes | None:
        if self._pending_compat_write is not None:
            page, self._pending_compat_write = self._pending_compat_write, None
            if len(cmd) != 16:
                return NAK_ARGUMENT
            return self._write(page, cmd[:4])
        op = cmd[0]
        if op == GET_VERSION and len(cmd) == 1:
            return self.version
        if op == READ and len(cmd) == 2:
            return self._read(cmd[1])
        if op == FAST_READ and len(cmd) == 3:
            return self._fast_read(cmd[1], cmd[2])
        if op == WRITE and len(cmd) == 6:
            return self._write(cmd[1], cmd[2:6])
        if op == COMP_WRITE and len(cmd) == 2:
            if cmd[1] > self.product.last_page:
                return NAK_ARGUMENT
            self._pending_compat_write = cmd[1]
            return ACK
        if op == READ_CNT and len(cmd) == 2:
            return self._read_counter(cmd[1])
        if op == PWD_AUTH and len(cmd) == 5:
            return self._pwd_auth(cmd[1:5])
        if op == READ_SIG and len(cmd) == 2 and cmd[1] == 0x00:
            return self.signature
        if op == HALT and cmd == b"\x50\x00":
            self._selected = False
            return None
        return NAK_ARGUMENT  # unsupported command

    # -- access rules ----------------------------------------------------------------------
    def _read_protected(self, page: int) -> bool:
        return bool(self.access & PROT) and page >= self.auth0 and not self._authenticated

    def _page_for_reading(self, page: int) -> bytes:
        p = self.product
        if page in (p.pwd_page, p.pack_page):
            return bytes(4)
        return self.page(page)

    def _count_read(self) -> None:
        if self.access & NFC_CNT_EN and not self._counted_this_session:
            self._counted_this_session = True
            self.nfc_counter = min(self.nfc_counter + 1, 0xFFFFFF)

    def _read(self, start: int) -> bytes:
        if start > self.product.last_page or self._read_protected(start):
            return NAK_ARGUMENT
        self._count_read()
        out = bytearray()
        page = start
        for _ in range(4):
            if self._read_protected(page):
                page = 0  # a read rolling into the protected area rolls over to page 0
            out += self._page_for_reading(page)
            page = (page + 1) % self.product.pages
        return bytes(out)

    def _fast_read(self, start: int, end: int) -> bytes:
        if start > end or end > self.product.last_page:
            return NAK_ARGUMENT
        if any(self._read_protected(pg) for pg in range(start, end + 1)):
            return NAK_ARGUMENT
        self._count_read()
        return b"".join(self._page_for_reading(pg) for pg in range(start, end + 1))

    def _read_counter(self, address: int) -> bytes:
        if not self.product.is_ntag:
            return NAK_ARGUMENT  # EV1 counters 0-2 not modelled
        if address != 0x02:
            return NAK_ARGUMENT
        if self.access & NFC_CNT_PWD_PROT and not self._authenticated:
            return NAK_ARGUMENT
        return self.nfc_counter.to_bytes(3, "little")

    def _pwd_auth(self, password: bytes) -> bytes:
        limit = self.access & AUTHLIM_MASK
        if limit and self.failed_auths >= 2**limit:
            return NAK_AUTH_LIMIT
        if password == self.page(self.product.pwd_page):
            self.failed_auths = 0
            self._authenticated = True
            return self.page(self.product.pack_page)[:2]
        self.failed_auths += 1
        return NAK_ARGUMENT

    def _page_locked(self, page: int) -> bool:
        """Is *page* write-locked by the lock bits latched at activation?"""
        p = self.product
        lock0, lock1 = self._latched_lock[2], self._latched_lock[3]
        if page == 3:
            return bool(lock0 & 0x08)
        if 4 <= page <= 7:
            return bool(lock0 & (0x10 << (page - 4)))
        if 8 <= page <= 15:
            return bool(lock1 & (1 << (page - 8)))
        if 16 <= page <= p.user_last and p.dynamic_lock_page is not None:
            bit = (page - 16) // p.dynamic_lock_unit
            bits = self._latched_dynamic[0] | (self._latched_dynamic[1] << 8)
            return bool(bits & (1 << bit))
        if page in (p.cfg0_page, p.cfg1_page):
            return p.has_cfglck and bool(self._latched_access & CFGLCK)
        return False

    def _write_refused(self, page: int) -> bool:
        """A WRITE to *page* is refused (NAK, nothing stored): no such page, behind AUTH0
        without authentication, or locked."""
        if page < 2 or page > self.product.last_page:
            return True
        if page >= self.auth0 and not self._authenticated:
            return True
        return self._page_locked(page)

    def _write(self, page: int, data: bytes) -> bytes:
        p = self.product
        if self._write_refused(page):
            return NAK_ARGUMENT
        if page == 2:
            self._write_static_lock(data)
        elif page == 3:
            self._set_page(3, bytes(a | b for a, b in zip(self.page(3), data, strict=True)))
        elif page == p.dynamic_lock_page:
            self._write_dynamic_lock(data)
        else:
            self._set_page(page, data)
        return ACK

    def _write_static_lock(self, data: bytes) -> None:
        """Bytes 2-3 of page 2 are ORed in; block-lock bits freeze other lock bits."""
        current = self.page(2)
        lock0, lock1 = current[2], current[3]
        new0, new1 = data[2], data[3]
        if lock0 & 0x01:  # BL-CC freezes L-CC
            new0 &= ~0x08
        if lock0 & 0x02:  # BL 9-4 freezes L4..L7 and L8, L9
            new0 &= ~0xF0
            new1 &= ~0x03
        if lock0 & 0x04:  # BL 15-10 freezes L10..L15
            new1 &= ~0xFC
        self._set_page(2, bytes([current[0], current[1], lock0 | new0, lock1 | new1]))

    def _write_dynamic_lock(self, data: bytes) -> None:
        """Dynamic lock bytes 0-2 are ORed in; block-lock bit j in byte 2 freezes the j-th
        group of dynamic lock bits ([unconfirmed] grouping). Byte 3 is RFUI, left as is."""
        current = self.page(self.product.dynamic_lock_page or 0)
        bits = current[0] | (current[1] << 8)
        new_bits = data[0] | (data[1] << 8)
        groups = 8
        for j in range(groups):
            if current[2] & (1 << j):
                new_bits &= ~(0x3 << (2 * j))
        merged = bits | new_bits
        self._set_page(
            self.product.dynamic_lock_page or 0,
            bytes([merged & 0xFF, merged >> 8, current[2] | data[2], current[3]]),
        )

    def _tear(self, command: bytes) -> None:
        """A write interrupted by removal: half of the new bytes reach the EEPROM. A write
        the tag would refuse changes nothing, torn or not; OTP pages (lock bytes, CC and
        the dynamic lock page) are left alone (a torn OTP write never clears a bit)."""
        if self._pending_compat_write is not None or command[0] != WRITE or len(command) != 6:
            return
        page = command[1]
        if page < 4 or page == self.product.dynamic_lock_page or self._write_refused(page):
            return
        old = self.page(page)
        self._set_page(page, command[2:4] + old[2:4])
