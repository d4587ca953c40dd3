"""The three front doors to the chip model, behind one interface for the conformance suite.

``with open_backend(kind) as b:`` gives ``b.url`` (the reader URL to open) and ``b.field``
(where the test places and removes ``EmulatedTag``s). Kinds: ``mock`` (in-process),
``pn532`` (nfcpy's real pn532 driver over the PN532 emulator on a pty) and ``pcsc``
(pyscard through a real pcscd + vpcd to the virtual card).
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from drivers.emulated.field import Field
from drivers.mock import bench

KINDS = ("mock", "pn532", "pcsc")
TAG_TIMEOUT = 5.0  # seconds; pcscd sees a card about 0.5 s after it is placed


# A reader of each kind that is not there (an in-process mock reader is never absent).
ABSENT_URLS = {
    "mock": None,
    "pn532": "nfcpy:tty:/dev/nfcbridge-absent-reader:pn532",
    "pcsc": "pcsc:nfcbridge absent reader",
}


@dataclass
class Backend:
    kind: str
    url: str
    field: Field

    @property
    def absent_url(self) -> str | None:
        return ABSENT_URLS[self.kind]

    @property
    def can_be_claimed(self) -> bool:
        """Whether another process can hold this reader (not an in-process mock)."""
        return self.kind != "mock"


@contextmanager
def open_backend(kind: str) -> Iterator[Backend]:
    if kind == "mock":
        name = f"conf-{uuid.uuid4().hex[:8]}"
        yield Backend(kind, f"mock:{name}", bench(name))
        return
    module = importlib.import_module(
        {"pn532": "tests.support.pn532_backend", "pcsc": "tests.support.vpcd_backend"}[kind]
    )
    field = Field(kind)
    with module.start(field) as url:
        yield Backend(kind, url, field)
