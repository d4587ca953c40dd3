"""The one tag layer: NTAG21x (and Ultralight EV1, read-only) over ``reader.transceive``.

Every reader runs this same code, so behaviour cannot drift between drivers and the number
of tag commands per operation is countable. Page access (the session cache, FAST_READ
grouping with READ as the fallback, checked WRITEs) is ``drivers.tag_memory.TagMemory``;
this module gives the pages their meaning: identification, signature, lock state, NDEF,
counter, and the permanent lock. Only pages whose content changes are written.
Verification after a lock always re-reads after a re-select, bypassing the cache.

Tear-safe NDEF write order (cheaper than nfcpy's "length 0, data, length" when the tag
holds an empty NDEF TLV, as every factory-fresh NTAG does): the page holding the first
length byte is the *commit page*. While it still says length 0, readers see an empty
message whatever the other pages contain, so we write every other changed page first and
the commit page last: one atomic page write switches from "empty" to "complete". Only when
the old message is not empty (or there is no NDEF TLV yet) do we first write the commit page
with length 0, which costs the one extra write nfcpy always pays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ndef

from drivers import type2
from drivers.base import Reader, Target
from drivers.errors import (
    LockRefused,
    NdefTooLarge,
    TagGone,
    TagLocked,
    TagNak,
    TagUnsupported,
    WriteFailed,
)
from drivers.lockbits import (
    CC_MAGIC,
    CFG_ACCESS_NFC_CNT_EN,
    CFG_ACCESS_NFC_CNT_PWD,
    CFG_MIRROR_MASK,
    LockState,
    decode_lock_state,
    lock_differences,
    lock_writes,
)
from drivers.ndef_tlv import (
    NdefContent,
    NeedMore,
    decode_message,
    encode_message,
    ndef_capacity,
    parse_tlv_area,
    plan_ndef_write,
    record_to_dict,
)
from drivers.products import BY_VERSION, NXP_VENDOR, Product
from drivers.signature import Verdict, verify_signature
from drivers.tag_memory import MAX_FAST_READ_PAGES, TagMemory, page_spans

GET_VERSION = bytes([type2.GET_VERSION])
READ_SIG = bytes([type2.READ_SIG, 0x00])
READ_CNT = bytes([type2.READ_CNT, 0x02])


@dataclass(frozen=True)
class TagInfo:
    uid: bytes
    product: Product
    verdict: Verdict
    signature: bytes | None
    lock: LockState
    ndef: NdefContent
    counter: int | None

    @property
    def genuine(self) -> bool:
        return self.verdict.genuine

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid.hex().upper(),
            "product": self.product.name,
            "version": self.product.version.hex().upper(),
            "genuine": self.genuine,
            "signature": {
                "verdict": self.verdict.value,
                "value": None if self.signature is None else self.signature.hex().upper(),
            },
            "capacity": self.ndef.capacity,
            "lock": self.lock.to_dict(),
            "ndef": {
                "formatted": self.ndef.formatted,
                "length": None if self.ndef.message is None else len(self.ndef.message),
                "records": [record_to_dict(r) for r in self.ndef.records],
                "error": self.ndef.error,
            },
            "counter": self.counter,
        }


class Ntag21x(TagMemory):
    """One selected tag on one reader. Not thread-safe; one operation at a time."""

    def __init__(self, reader: Reader, target: Target | None = None) -> None:
        super().__init__(reader, target)
        self.irreversible_attempted = False  # True once any OTP/lock/CFGLCK write was sent
        self.signature: bytes | None = None

    def identify(self) -> Product:
        """GET_VERSION -> Product; anything not in the table is reported, never guessed."""
        if self.product is not None:
            return self.product
        try:
            answer = self.reader.transceive(GET_VERSION)
        except TagGone:
            self._reselect()  # still there: it just does not know GET_VERSION
            raise TagUnsupported(
                f"tag {self.uid_hex} does not answer GET_VERSION "
                "(MIFARE Ultralight, Ultralight C or not a Type 2 tag)",
                uid=self.uid,
            ) from None
        if len(answer) == 1:
            self._reselect()
            raise TagUnsupported(
                f"tag {self.uid_hex} refused GET_VERSION (NAK 0x{answer[0]:X})", uid=self.uid
            )
        if len(answer) == 8 and answer[1] != NXP_VENDOR:
            raise TagUnsupported(
                f"tag {self.uid_hex} reports vendor 0x{answer[1]:02X}, not NXP "
                f"(GET_VERSION {answer.hex().upper()}): a clone",
                uid=self.uid,
            )
        product = BY_VERSION.get(bytes(answer))
        if product is None:
            raise TagUnsupported(
                f"tag {self.uid_hex}: unknown chip, GET_VERSION {answer.hex().upper()}",
                uid=self.uid,
            )
        self.product = product
        return product

    # -- reading -------------------------------------------------------------------------
    def _state_pages(self) -> list[int]:
        p = self.identify()
        pages = [2, 3, p.cfg0_page, p.cfg1_page]
        if p.dynamic_lock_page is not None:
            pages.append(p.dynamic_lock_page)
        return pages

    def _first_chunk(self) -> range:
        """Data pages that ride along with the state pages in the first FAST_READ."""
        p = self.identify()
        return range(p.user_first, min(p.user_last, 2 + MAX_FAST_READ_PAGES - 1) + 1)

    def lock_state(self, *, fresh: bool = False) -> LockState:
        p = self.identify()
        self._load([*self._state_pages(), *self._first_chunk()], fresh=fresh)
        dyn = None if p.dynamic_lock_page is None else self._pages[p.dynamic_lock_page]
        return decode_lock_state(
            p,
            self._pages[2],
            self._pages[3],
            dyn,
            self._pages[p.cfg0_page],
            self._pages[p.cfg1_page],
        )

    def _data_area(self, size: int, *, fresh: bool = False) -> bytes:
        p = self.identify()
        last = p.user_first + (size + 3) // 4 - 1
        return self.read_pages(p.user_first, last, fresh=fresh)[:size]

    def read_ndef(self, *, fresh: bool = False) -> NdefContent:
        """The NDEF message: CC, TLVs and records, in as few commands as the chip allows."""
        p = self.identify()
        self._load([*self._state_pages(), *self._first_chunk()], fresh=fresh)
        cc = self._pages[3]
        if cc[0] != CC_MAGIC or cc[1] >> 4 != 1:
            return NdefContent(formatted=False, area=None, capacity=0)
        size = min(cc[2] * 8, p.user_bytes)
        have = min(size, len(self._first_chunk()) * 4)
        while True:
            try:
                area = parse_tlv_area(self._data_area(have, fresh=fresh), size)
                break
            except NeedMore as more:
                have = min(size, max(more.size, have + MAX_FAST_READ_PAGES * 4))
            except ValueError as exc:
                return NdefContent(True, None, 0, error=str(exc))
        capacity = ndef_capacity(size, area.offset)
        if area.message is None:
            return NdefContent(True, area, capacity)
        try:
            records = decode_message(area.message)
        except ndef.DecodeError as exc:
            return NdefContent(True, area, capacity, error=f"undecodable NDEF message: {exc}")
        return NdefContent(True, area, capacity, records)

    def originality(self) -> Verdict:
        """READ_SIG, checked against NXP's key for the product family."""
        product = self.identify()
        try:
            answer = self.reader.transceive(READ_SIG)
        except TagGone:
            answer = b""
        if len(answer) != 32:
            self._reselect()
            self.signature = None
            return Verdict.MISSING
        self.signature = bytes(answer)
        return verify_signature(self.uid, self.signature, product.signature_key)

    def read_counter(self) -> int | None:
        """The NFC counter (READ_CNT 02), or None when it is off or password-protected."""
        p = self.identify()
        if not p.is_ntag:
            return None
        self._load(self._state_pages())
        access = self._pages[p.cfg1_page][0]
        if not access & CFG_ACCESS_NFC_CNT_EN or access & CFG_ACCESS_NFC_CNT_PWD:
            return None
        answer = self.reader.transceive(READ_CNT)
        if len(answer) != 3:
            self._reselect()
            raise TagNak(
                f"tag {self.uid_hex} refused READ_CNT", uid=self.uid, code=self._nak(answer)
            )
        return int.from_bytes(answer, "little")

    def is_factory_configured(self) -> bool:
        """The configuration a tag leaves the factory with: the factory CC, no lock bits, no
        password (AUTH0 past the last page), no mirror, counter or CFGLCK. The one check
        of it: ``is_blank`` adds the user memory, the batch runner's retry rule adds its
        registry history (``provisioning.batch_checks.may_retry``)."""
        p = self.identify()
        lock = self.lock_state()
        cfg0, cfg1 = self._pages[p.cfg0_page], self._pages[p.cfg1_page]
        return not (
            lock.cc != p.factory_cc
            or any(lock.static)
            or (lock.dynamic is not None and any(lock.dynamic))
            or cfg0[0] & CFG_MIRROR_MASK
            or cfg0[3] < p.pages
            or cfg1[0]
        )

    def is_blank(self) -> bool:
        """Factory state: ``is_factory_configured`` and the user memory as delivered
        (factory bytes then zeros). Stops reading at the first difference."""
        if not self.is_factory_configured():
            return False
        p = self.identify()
        factory = p.factory_user.ljust(p.user_bytes, b"\x00")
        user_pages = list(range(p.user_first, p.user_last + 1))
        for start, end in page_spans(user_pages, MAX_FAST_READ_PAGES):
            offset = (start - p.user_first) * 4
            if self.read_pages(start, end) != factory[offset : (end - p.user_first + 1) * 4]:
                return False
        return True

    def info(self) -> TagInfo:
        product = self.identify()
        verdict = self.originality()
        content = self.read_ndef()
        return TagInfo(
            uid=self.uid,
            product=product,
            verdict=verdict,
            signature=self.signature,
            lock=self.lock_state(),
            ndef=content,
            counter=self.read_counter(),
        )

    # -- writing -------------------------------------------------------------------------
    def write_ndef(
        self, message: bytes | ndef.Record | list[ndef.Record], *, verify: bool = True
    ) -> int:
        """Write an NDEF message (bytes or ndeflib records); returns the pages written.

        Refuses before writing anything: ``NdefTooLarge``, ``TagLocked`` (CC read-only,
        lock bits or a password over the pages), ``TagUnsupported`` (not an NTAG21x, not
        NDEF formatted). With *verify* the written pages are read back (``WriteFailed``)."""
        p = self.identify()
        if not p.is_ntag:
            raise TagUnsupported(
                f"tag {self.uid_hex} is a {p.name}: receipt tags must be NTAG21x", uid=self.uid
            )
        payload = encode_message(message)
        content = self.read_ndef()
        if not content.formatted or content.area is None:
            why = content.error or f"CC {self._pages[3].hex().upper()}"
            raise TagUnsupported(f"tag {self.uid_hex} is not NDEF formatted ({why})", uid=self.uid)
        if len(payload) > content.capacity:
            raise NdefTooLarge(
                f"NDEF message of {len(payload)} bytes does not fit: {p.name} {self.uid_hex} "
                f"holds at most {content.capacity}",
                uid=self.uid,
                size=len(payload),
                capacity=content.capacity,
            )
        lock = self.lock_state()
        if not lock.cc_writable:
            raise TagLocked(
                f"tag {self.uid_hex} is read-only (CC {lock.cc.hex().upper()})", uid=self.uid
            )
        size = min(self._pages[3][2] * 8, p.user_bytes)
        plan = plan_ndef_write(content.area, size, self._pages, payload, p.user_first)
        pages = set(range(plan.first_page, plan.last_page + 1))
        if blocked := sorted(pages & set(lock.locked_pages)):
            raise TagLocked(
                f"tag {self.uid_hex}: pages {blocked[0]}-{blocked[-1]} are locked", uid=self.uid
            )
        if lock.auth0 is not None and lock.auth0 <= plan.last_page:
            raise TagLocked(
                f"tag {self.uid_hex} is password-protected from page {lock.auth0}", uid=self.uid
            )
        for control in content.area.controls:
            first = control.address // 4
            if pages & set(range(first, (control.address + control.size - 1) // 4 + 1)):
                raise TagUnsupported(
                    f"tag {self.uid_hex}: reserved memory inside the NDEF area", uid=self.uid
                )
        for page, data in plan.writes:
            self.write_page(page, data)
        if verify and plan.writes:
            got = self.read_pages(plan.first_page, plan.last_page, fresh=True)
            want = b"".join(plan.image[pg] for pg in range(plan.first_page, plan.last_page + 1))
            if got != want:
                raise WriteFailed(f"tag {self.uid_hex}: NDEF read-back differs", uid=self.uid)
        return len(plan.writes)

    # -- permanent lock ------------------------------------------------------------------
    def lock_permanently(self, expected_message: bytes | None = None) -> LockState:
        """Make the tag read-only forever in the order of docs/hardware.md ("Lock bits and the
        permanent-lock order"), then verify.

        Refuses, before any OTP write, a tag without a decodable NDEF message (or with one
        other than *expected_message*) or with a password set (locking would freeze it).
        CC -> dynamic lock -> static lock -> CFGLCK -> re-select -> fresh read-back of pages
        2, 3, dynamic lock, CFG0/CFG1 and the NDEF pages; ``WriteFailed`` on a difference."""
        p = self.identify()
        if not p.has_cfglck or p.dynamic_lock_page is None:
            raise TagUnsupported(
                f"tag {self.uid_hex} is a {p.name}: its configuration cannot be locked",
                uid=self.uid,
            )
        content = self.read_ndef()
        if content.area is None or content.message is None or content.error or not content.records:
            raise LockRefused(
                f"refusing to lock tag {self.uid_hex}: it holds no valid NDEF message",
                uid=self.uid,
            )
        if expected_message is not None and content.message != expected_message:
            raise LockRefused(
                f"refusing to lock tag {self.uid_hex}: NDEF message is not the expected one",
                uid=self.uid,
            )
        before = self.lock_state()
        if before.auth0 is not None and before.auth0 < p.pages:
            raise LockRefused(
                f"refusing to lock tag {self.uid_hex}: a password protects it from page "
                f"{before.auth0}, and locking would make that permanent",
                uid=self.uid,
            )
        tlv_end = content.area.offset + content.area.header_len + len(content.message)
        ndef_pages = range(p.user_first, p.user_first + (tlv_end - 1) // 4 + 1)
        ndef_before = [self._pages[pg] for pg in ndef_pages]
        steps = lock_writes(p, before)
        if steps:
            self.irreversible_attempted = True
        for page, data in steps:
            self.write_page(page, data)
        self._reselect()  # lock bits and CFGLCK take effect on activation
        self._load([*self._state_pages(), *ndef_pages], fresh=True)
        after = self.lock_state()
        wrong = lock_differences(before, after)
        if [self._pages[pg] for pg in ndef_pages] != ndef_before:
            wrong.append("NDEF pages")
        if wrong:
            raise WriteFailed(
                f"tag {self.uid_hex}: lock read-back differs ({', '.join(wrong)})", uid=self.uid
            )
        return after
