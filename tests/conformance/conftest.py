"""Fixtures of the conformance suite: one ``rig`` per test, on each backend.

Backends (tests/support/backends.py): ``mock`` (in-process), ``pn532`` (nfcpy's pn532 driver
over the PN532 emulator on a pty) and ``pcsc`` (pyscard through pcscd + vpcd). With
``pytest --reader URL`` the tests marked for a real reader run on it as well; locking a real
tag additionally needs ``--allow-lock UID``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers import open_reader
from drivers.base import Reader
from drivers.emulated.chip import EmulatedTag
from drivers.ntag import Ntag21x
from tests.support.backends import TAG_TIMEOUT

BACKENDS = [
    pytest.param("mock", id="mock"),
    pytest.param("pn532", id="pn532"),
    pytest.param("pcsc", id="pcsc", marks=pytest.mark.pcscd),
]


class Rig:
    """One backend: place emulated tags in its field and reach them through its reader."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.url: str = backend.url
        self._reader: Reader | None = None

    @property
    def reader(self) -> Reader:
        if self._reader is None:
            self._reader = open_reader(self.url)
        return self._reader

    def place(self, tag: EmulatedTag) -> EmulatedTag:
        """Put *tag* in the field (after taking off whatever was there)."""
        self.take_off()
        self.backend.field.place(tag)
        return tag

    def take_off(self) -> None:
        """Empty the field (also of a tag a fault made silent) and let the reader see it."""
        self.backend.field.remove()
        if self._reader is not None:
            assert self._reader.wait_for_removal(TAG_TIMEOUT), "reader still sees a tag"

    def put_back(self, tag: EmulatedTag) -> Ntag21x:
        """Take *tag* off and put it back (faults cleared): a fresh session on it."""
        tag.faults = ()
        self.place(tag)
        return self.ntag()

    def ntag(self, tag: EmulatedTag | None = None) -> Ntag21x:
        """The tag layer on the tag in the field (placing *tag* first if given)."""
        if tag is not None:
            self.place(tag)
        target = self.reader.wait_for_tag(TAG_TIMEOUT)
        return Ntag21x(self.reader, target)

    def again(self, ntag: Ntag21x) -> Ntag21x:
        """A new tag-layer object (no cache) after a re-select."""
        return Ntag21x(self.reader, self.reader.reselect())

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


@pytest.fixture(params=BACKENDS)
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    from tests.support.backends import open_backend

    with open_backend(request.param) as backend:
        r = Rig(backend)
        try:
            yield r
        finally:
            r.close()
            backend.field.remove()


@pytest.fixture
def real_reader(real_reader_url: str | None) -> Iterator[Reader]:
    if not real_reader_url:
        pytest.skip("no real reader: run with --reader URL")
    reader = open_reader(real_reader_url)
    try:
        yield reader
    finally:
        reader.close()
