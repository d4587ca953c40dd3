"""The conformance suite's ``pn532`` backend: nfcpy's real pn532 driver, through our
``NfcpyReader``, talking to a fresh PN532 emulator on a pty."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from drivers.emulated.field import Field
from drivers.emulated.pn532 import Pn532Emulator


@contextmanager
def start(field: Field) -> Iterator[str]:
    """Yield the reader URL of a PN532 emulator answering from *field*; stop it after."""
    with Pn532Emulator(field) as emulator:
        yield emulator.reader_url
