"""Page access to one selected Type 2 tag: cached reads, grouped FAST_READs, checked writes.

This is the command-economy half of the tag layer (``drivers.ntag.Ntag21x`` builds the
meaning of the pages on top of it), kept apart so that the rules for *how many* commands an
operation costs can be read, and counted, in one place:

- Tag memory read in this session is cached per page: the tag cannot change under us while
  it stays selected.
- Reads are grouped into as few FAST_READs as the reader's frame allows
  (``MAX_FAST_READ_PAGES``), with READ as the fallback when FAST_READ is not answered (the
  fallback then sticks for the session).
- A WRITE updates the cache the way the chip does (OTP pages OR their bits in); a NAK
  re-selects the tag, because a Type 2 tag answering NAK drops back to IDLE.
- ``fresh=True`` bypasses the cache, for verification after a lock.

The primitives are ``reader.transceive(raw)``, ``reader.reselect()`` and the UID from
anticollision; nothing here knows NDEF, lock bits or signatures.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable

from drivers import type2
from drivers.base import Reader, Target
from drivers.errors import NoTag, TagGone, TagLocked, TagNak, WriteFailed
from drivers.products import Product

log = logging.getLogger("drivers.ntag")

MAX_FAST_READ_PAGES = 60  # 240 bytes: fits a PN532 frame and a short APDU answer


class TagMemory(ABC):
    """The pages of one selected tag on one reader. Not thread-safe.

    Subclasses say which chip it is (``identify``): the page count decides where READ wraps
    around, and identification (GET_VERSION) always comes before the first read."""

    def __init__(self, reader: Reader, target: Target | None = None) -> None:
        target = target if target is not None else reader.target
        if target is None:
            raise NoTag(f"no tag selected on {reader.url}")
        self.reader = reader
        self.uid = target.uid
        self.product: Product | None = None
        self.fast_read = True
        self._pages: dict[int, bytes] = {}

    @property
    def uid_hex(self) -> str:
        return self.uid.hex().upper()

    @abstractmethod
    def identify(self) -> Product:
        """The chip (cached in ``self.product``); raises for a tag the layer cannot handle."""

    def _reselect(self) -> None:
        """Back to ACTIVE after a NAK or to latch lock bits; TagGone if it left or changed."""
        target = self.reader.reselect()
        if target.uid != self.uid:
            raise TagGone(f"tag {self.uid_hex} was replaced by {target.uid_hex}", uid=self.uid)

    def _nak(self, answer: bytes) -> int:
        return answer[0] & 0x0F if len(answer) == 1 else -1

    # -- reading -------------------------------------------------------------------------
    def read_pages(self, first: int, last: int, *, fresh: bool = False) -> bytes:
        """Pages *first*..*last* (inclusive), from the session cache unless *fresh*."""
        self._load(range(first, last + 1), fresh=fresh)
        return b"".join(self._pages[p] for p in range(first, last + 1))

    def _load(self, pages: Iterable[int], *, fresh: bool = False) -> None:
        wanted = sorted({p for p in pages if fresh or p not in self._pages})
        for start, end in page_spans(wanted, MAX_FAST_READ_PAGES):
            self._read_span(start, end)

    def _read_span(self, start: int, end: int) -> None:
        product = self.identify()
        if self.fast_read:
            try:
                answer = self.reader.transceive(type2.fast_read(start, end))
            except TagGone:
                answer = b""
            if len(answer) == (end - start + 1) * 4:
                self._store(start, answer)
                return
            log.debug("FAST_READ %02X-%02X not answered on %s: using READ", start, end, self)
            self._reselect()
            self.fast_read = False
        page = start
        while page <= end:
            answer = self.reader.transceive(type2.read(page))
            if len(answer) != 16:
                self._reselect()
                raise TagNak(
                    f"tag {self.uid_hex} refused READ of page {page} (password-protected?)",
                    uid=self.uid,
                    code=self._nak(answer),
                )
            for i in range(4):
                self._pages[(page + i) % product.pages] = answer[i * 4 : i * 4 + 4]
            page += 4

    def _store(self, start: int, data: bytes) -> None:
        for i in range(len(data) // 4):
            self._pages[start + i] = data[i * 4 : i * 4 + 4]

    # -- writing -------------------------------------------------------------------------
    def write_page(self, page: int, data: bytes) -> None:
        """WRITE one page; a NAK re-selects (the tag is idle) and raises.

        A write that got no answer (``TagGone``) may or may not have been programmed, so the
        page is forgotten from the cache before the error goes on: the next read asks the tag.
        """
        old = self._pages.pop(page, None)  # unknown until the tag confirms
        answer = self.reader.transceive(type2.write(page, data))
        if answer == bytes([type2.ACK]):
            self._remember_write(page, data, old)
            return
        code = self._nak(answer)
        self._reselect()
        if code == type2.NAK_EEPROM:
            raise WriteFailed(
                f"tag {self.uid_hex}: EEPROM write error on page {page}", uid=self.uid
            )
        if code == type2.NAK_INVALID:
            # NAK 0x0 is "invalid argument": a page that does not exist, or one that is
            # locked or protected (docs/hardware.md, "Type 2 commands, ACK and NAK").
            if self.product is not None and not 0 <= page < self.product.pages:
                raise TagNak(
                    f"tag {self.uid_hex} has no page {page} "
                    f"({self.product.name} has pages 0-{self.product.pages - 1})",
                    uid=self.uid,
                    code=code,
                )
            raise TagLocked(
                f"tag {self.uid_hex} refused the write to page {page} "
                "(locked or password-protected)",
                uid=self.uid,
            )
        raise TagNak(
            f"tag {self.uid_hex} refused the write to page {page}", uid=self.uid, code=code
        )

    def _remember_write(self, page: int, data: bytes, old: bytes | None) -> None:
        """Update the cache the way the chip does: OTP pages OR their bits in."""
        p = self.product
        if old is not None and p is not None and page in (2, 3, p.dynamic_lock_page):
            merged = bytes(a | b for a, b in zip(old, data, strict=True))
            if page == 2:
                merged = old[:2] + merged[2:]
            elif page == p.dynamic_lock_page:
                merged = merged[:3] + old[3:]
            self._pages[page] = merged
        elif page in (2, 3) or (p is not None and page == p.dynamic_lock_page):
            self._pages.pop(page, None)  # unknown before: unknown after
        else:
            self._pages[page] = bytes(data)


def page_spans(pages: list[int], limit: int) -> list[tuple[int, int]]:
    """Sorted pages -> (first, last) runs of at most *limit* pages, gaps read along."""
    spans: list[tuple[int, int]] = []
    for page in pages:
        if spans and page - spans[-1][0] < limit:
            spans[-1] = (spans[-1][0], page)
        else:
            spans.append((page, page))
    return spans
