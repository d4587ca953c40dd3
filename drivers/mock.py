"""The mock reader: a real driver over the emulated chip, chosen by URL.

    mock:NAME                                   an empty bench; tests and rigs place tags
    mock:NAME?tag=ntag213&uid=HEX&sig=HEX&fault=remove@7
                                                one tag in the field from the start
    mock:NAME?roll=ntag213[&count=N]            an endless (or N-tag) roll of blank tags: each
                                                time the reader waits for removal, the tag is
                                                taken off and the next one put on
    mock:NAME?tags=ntag213,ntag215              these tags, one after another, like a roll
    mock:NAME?tag=ntag424 (or ntag424tt)        an NTAG 424 DNA (TagTamper), factory keys

Readers with the same NAME share one bench (a ``Field`` plus what the reader signalled), so a
test, a rig or the daemon's control channel can place and remove tags on it. ``fault``
applies to the first tag placed from the URL. The mock fails exactly as hardware fails: an
absent tag is silence, raised as ``TagGone``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from drivers.base import Capability, DetectedReader, Reader, Target
from drivers.emulated.chip import EmulatedTag, parse_faults
from drivers.emulated.field import Field
from drivers.emulated.ntag424 import Ntag424Chip
from drivers.errors import NoTag, ReaderURLError, TagGone
from drivers.products import product_by_name
from drivers.url import ReaderURL

SUN_CHIPS = ("ntag424", "ntag424tt")  # NTAG 424 DNA and 424 DNA TagTamper (ISO-DEP)


class MockBench(Field):
    """The shared state of one mock reader name."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.signals: list[bool] = []  # what readers on this bench signalled (beep/LED)
        self.open_readers = 0
        self.roll: Iterator[EmulatedTag] | None = None


_benches: dict[str, MockBench] = {}
_benches_lock = threading.Lock()


def bench(name: str) -> MockBench:
    """The bench of mock reader *name*, created on first use."""
    with _benches_lock:
        found = _benches.get(name)
        if found is None:
            found = _benches[name] = MockBench(name)
        return found


def open_benches() -> list[str]:
    """Names of benches with a reader still open (a test fixture checks none is left)."""
    with _benches_lock:
        return [name for name, b in _benches.items() if b.open_readers > 0]


def reset_benches() -> None:
    with _benches_lock:
        _benches.clear()


def _parse_uid(text: str, url: ReaderURL) -> bytes:
    try:
        uid = bytes.fromhex(text.replace(":", ""))
    except ValueError:
        raise ReaderURLError(f"mock reader uid {text!r} is not hex", url=str(url)) from None
    if len(uid) != 7:
        raise ReaderURLError(f"mock reader uid {text!r} must be 7 bytes", url=str(url))
    return uid


def _tags_from_url(url: ReaderURL) -> Iterator[EmulatedTag] | None:
    """The tags the URL asks for, in order (None: the URL places no tag)."""
    try:
        faults = parse_faults(url.get("fault"))
        uid = _parse_uid(url.get("uid") or "", url) if url.get("uid") else None
        sig = bytes.fromhex(url.get("sig") or "") if url.get("sig") else None
        if url.get("tag"):
            names = [url.get("tag") or ""]
            endless = False
        elif url.get("tags"):
            names = (url.get("tags") or "").split(",")
            endless = False
        elif url.get("roll"):
            names = [url.get("roll") or ""]
            endless = True
        else:
            return None
        products = [None if n.lower() in SUN_CHIPS else product_by_name(n) for n in names]
        count = int(url.get("count") or 0)
    except ValueError as exc:
        raise ReaderURLError(f"mock reader URL {url}: {exc}", url=str(url)) from None
    if sig is not None and len(sig) != 32:
        raise ReaderURLError("mock reader sig must be 32 bytes of hex", url=str(url))

    def generate() -> Iterator[EmulatedTag]:
        n = 0
        while True:
            for name, product in zip(names, products, strict=True):
                if count and n >= count:
                    return
                first = n == 0
                if product is None:
                    tt = name.lower() == "ntag424tt"
                    chip = Ntag424Chip(uid, tt) if first and uid else Ntag424Chip(tagtamper=tt)
                    yield chip  # type: ignore[misc]
                    n += 1
                    continue
                yield EmulatedTag(
                    product,
                    uid=uid if first else None,
                    signature=sig if first else None,
                    faults=faults if first else (),
                )
                n += 1
            if not endless:
                return

    return generate()


class MockReader(Reader):
    """An in-process reader over emulated tags."""

    capabilities = frozenset({Capability.TRANSCEIVE, Capability.SIGNAL, Capability.ISO_DEP})
    poll_interval = 0.005
    url_options = ("tag", "tags", "roll", "count", "uid", "sig", "fault")

    def __init__(self, url: ReaderURL) -> None:
        super().__init__(url)
        if not url.target:
            raise ReaderURLError("a mock reader needs a name: mock:NAME", url=str(url))
        self._tags = _tags_from_url(url)  # validate the URL before anything opens
        self.bench = bench(url.target)
        self._polled = 0  # the bench generation seen by the last poll

    def _open(self) -> None:
        self.bench.open_readers += 1
        if self._tags is not None:
            self.bench.roll = self._tags
            self._next_from_roll()

    def _close(self) -> None:
        if self._opened:
            self.bench.open_readers -= 1

    def _next_from_roll(self) -> None:
        if self.bench.roll is None:
            return
        tag = next(self.bench.roll, None)
        if tag is None:
            self.bench.roll = None
            self.bench.remove()
        else:
            self.bench.place(tag)

    def _poll_once(self) -> Target | None:
        self._polled = self.bench.generation  # read first: a change after it wakes the wait
        tag = self.bench.tag
        if tag is None or not tag.activate():
            return None
        if isinstance(tag, Ntag424Chip):
            return Target(uid=tag.uid, atqa=b"\x03\x44", sak=0x20, ats=tag.rats())
        return Target(uid=tag.uid)

    def _transceive(self, command: bytes, timeout: float) -> bytes:
        tag = self.bench.tag
        answer = tag.transceive(command) if tag is not None else None
        if answer is None:
            raise TagGone("no answer from the tag")
        return answer

    def _transceive_apdu(self, apdu: bytes, timeout: float) -> bytes:
        tag = self.bench.tag
        if not isinstance(tag, Ntag424Chip):
            raise TagGone("no ISO-DEP tag in the field")
        return tag.transceive(apdu)

    def _signal(self, ok: bool) -> None:
        self.bench.signals.append(ok)

    def wait_for_tag(self, timeout: float | None = None) -> Target:
        """Sleeps until the bench changes rather than poll by poll, so that many idle mock
        readers (a rig's hundred staff phones in one daemon) cost no CPU."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            target = self.poll()
            if target is not None:
                return target
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise NoTag(f"no tag presented within {timeout:g} s on {self.url}")
            self.bench.wait_changed(self._polled, left)

    def wait_for_removal(self, timeout: float | None = None, *, uid: bytes | None = None) -> bool:
        """On a roll, the operator takes the tag off and puts the next one on."""
        if self.bench.roll is not None:
            self._next_from_roll()
            return True
        return super().wait_for_removal(timeout, uid=uid)

    def _sleep(self, seconds: float) -> None:
        self.bench.wait_changed(self.bench.generation, seconds)

    @classmethod
    def detect(cls) -> list[DetectedReader]:
        return [
            DetectedReader(
                url="mock:desk?roll=ntag213",
                description="emulated reader with an endless roll of blank NTAG213 (for tries)",
            )
        ]
