"""Decoding NTAG21x / Ultralight EV1 lock state from raw pages.

Source: docs/hardware.md, "Lock bits and the permanent-lock order".

Kept apart from the tag layer so the rules can be tested on bytes alone, and so that
``tag info`` reports exactly what the bits say after a lock sequence was interrupted at any
command: every bit is reported as it is, and the level is ``locked`` only when everything a
full permanent lock writes is there.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from drivers.products import Product

CC_PAGE = 3
STATIC_LOCK_PAGE = 2
FIRST_DYNAMIC_PAGE = 16  # static lock bits cover pages 3..15, dynamic ones from here

CC_MAGIC = 0xE1
CC_READ_ONLY = 0x0F  # CC byte 3 low nibble: write access 0x0 granted, 0xF none

CFG_ACCESS_PROT = 0x80  # CFG1 byte 0 bit 7: password also protects reads
CFG_ACCESS_CFGLCK = 0x40  # CFG1 byte 0 bit 6: CFG0/CFG1 frozen forever
CFG_ACCESS_NFC_CNT_EN = 0x10  # CFG1 byte 0 bit 4: NFC counter enabled
CFG_ACCESS_NFC_CNT_PWD = 0x08  # CFG1 byte 0 bit 3: READ_CNT needs the password
CFG_MIRROR_MASK = 0xC0  # CFG0 byte 0 bits 7-6: UID/counter mirror

STATIC_ALL = b"\xff\xff"  # LOCK0 LOCK1 after writing page 2 with 00 00 FF FF
STATIC_LOCK_WRITE = b"\x00\x00\xff\xff"  # bytes 0-1 are ignored by the chip


class LockLevel(enum.Enum):
    UNLOCKED = "unlocked"
    PARTLY = "partly"
    LOCKED = "locked"


@dataclass(frozen=True)
class LockState:
    """The lock-relevant bytes of a tag and what they mean."""

    cc: bytes  # page 3
    static: bytes  # LOCK0 LOCK1 (page 2 bytes 2-3)
    dynamic: bytes | None  # dynamic lock bytes 0-2, None when the chip has none
    dynamic_mask: bytes | None  # the bits a full lock sets (product.lock_all_dynamic[:3])
    cfg0: bytes | None
    cfg1: bytes | None
    has_cfglck: bool
    locked_pages: tuple[int, ...]  # user pages (and page 3) whose lock bit is set

    @property
    def cc_read_only(self) -> bool:
        return self.cc[3] & 0x0F == CC_READ_ONLY

    @property
    def cc_writable(self) -> bool:
        """CC byte 3 grants NDEF write access (0x0): the NFC Forum contract for writers."""
        return self.cc[3] & 0x0F == 0

    @property
    def cfglck(self) -> bool:
        return self.cfg1 is not None and bool(self.cfg1[0] & CFG_ACCESS_CFGLCK)

    @property
    def auth0(self) -> int | None:
        """First password-protected page (>= page count: no protection)."""
        return None if self.cfg0 is None else self.cfg0[3]

    @property
    def static_complete(self) -> bool:
        return self.static == STATIC_ALL

    @property
    def dynamic_complete(self) -> bool:
        if self.dynamic is None or self.dynamic_mask is None:
            return True
        return all(b & m == m for b, m in zip(self.dynamic, self.dynamic_mask, strict=True))

    @property
    def level(self) -> LockLevel:
        if (
            self.cc_read_only
            and self.static_complete
            and self.dynamic_complete
            and (self.cfglck or not self.has_cfglck)
        ):
            return LockLevel.LOCKED
        any_dynamic = self.dynamic is not None and any(self.dynamic)
        if self.cc[3] & 0x0F == 0 and not any(self.static) and not any_dynamic and not self.cfglck:
            return LockLevel.UNLOCKED
        return LockLevel.PARTLY

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level.value,
            "cc": self.cc.hex().upper(),
            "cc_read_only": self.cc_read_only,
            "static_lock": self.static.hex().upper(),
            "dynamic_lock": None if self.dynamic is None else self.dynamic.hex().upper(),
            "cfglck": self.cfglck,
            "auth0": self.auth0,
            "locked_pages": len(self.locked_pages),
        }


def static_locked_pages(static: bytes) -> set[int]:
    """Pages 3..15 locked by LOCK0 bits 3-7 and LOCK1 bits 0-7."""
    lock0, lock1 = static[0], static[1]
    pages = {page for bit, page in ((3, 3), (4, 4), (5, 5), (6, 6), (7, 7)) if lock0 >> bit & 1}
    pages.update(8 + bit for bit in range(8) if lock1 >> bit & 1)
    return pages


def dynamic_locked_pages(product: Product, dynamic: bytes) -> set[int]:
    """Pages from 16 up to the last user page, ``dynamic_lock_unit`` pages per bit, bit i of
    the little-endian bytes 0-1 covering pages 16 + i*unit onwards."""
    unit = product.dynamic_lock_unit
    if unit <= 0:
        return set()
    bits = dynamic[0] | dynamic[1] << 8
    pages: set[int] = set()
    for i in range(16):
        first = FIRST_DYNAMIC_PAGE + i * unit
        if first > product.user_last:
            break
        if bits >> i & 1:
            pages.update(range(first, min(first + unit - 1, product.user_last) + 1))
    return pages


def decode_lock_state(
    product: Product,
    page2: bytes,
    cc: bytes,
    dynamic_page: bytes | None,
    cfg0: bytes | None,
    cfg1: bytes | None,
) -> LockState:
    static = bytes(page2[2:4])
    dynamic = None if dynamic_page is None else bytes(dynamic_page[:3])
    locked = static_locked_pages(static)
    if dynamic is not None:
        locked |= dynamic_locked_pages(product, dynamic)
    mask = None if product.lock_all_dynamic is None else product.lock_all_dynamic[:3]
    return LockState(
        cc=bytes(cc),
        static=static,
        dynamic=dynamic,
        dynamic_mask=mask,
        cfg0=None if cfg0 is None else bytes(cfg0),
        cfg1=None if cfg1 is None else bytes(cfg1),
        has_cfglck=product.has_cfglck,
        locked_pages=tuple(sorted(locked)),
    )


def lock_writes(product: Product, state: LockState) -> list[tuple[int, bytes]]:
    """The writes a full permanent lock still needs, in the safe order of docs/hardware.md:
    CC read-only -> dynamic lock -> static lock -> CFGLCK (CFG1 with its other bits kept).
    Steps already done are left out, so an interrupted lock can be resumed."""
    steps: list[tuple[int, bytes]] = []
    if not state.cc_read_only:
        steps.append((CC_PAGE, state.cc[:3] + bytes([state.cc[3] | CC_READ_ONLY])))
    if not state.dynamic_complete and product.dynamic_lock_page is not None:
        steps.append((product.dynamic_lock_page, product.lock_all_dynamic or bytes(4)))
    if not state.static_complete:
        steps.append((STATIC_LOCK_PAGE, STATIC_LOCK_WRITE))
    if product.has_cfglck and not state.cfglck and state.cfg1 is not None:
        steps.append(
            (product.cfg1_page, bytes([state.cfg1[0] | CFG_ACCESS_CFGLCK]) + state.cfg1[1:])
        )
    return steps


def lock_differences(before: LockState, after: LockState) -> list[str]:
    """What a read-back after a full lock shows that a full lock of *before* would not."""
    wrong = []
    if after.cc != before.cc[:3] + bytes([before.cc[3] | CC_READ_ONLY]):
        wrong.append("CC")
    if not after.dynamic_complete:
        wrong.append("dynamic lock")
    if not after.static_complete:
        wrong.append("static lock")
    if after.cfg0 != before.cfg0:
        wrong.append("CFG0")
    if before.cfg1 is not None and (
        after.cfg1 != bytes([before.cfg1[0] | CFG_ACCESS_CFGLCK]) + before.cfg1[1:]
        if before.has_cfglck
        else after.cfg1 != before.cfg1
    ):
        wrong.append("CFG1")
    return wrong
