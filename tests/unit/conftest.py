"""Fixtures shared by the unit tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from drivers import Reader, open_reader
from drivers.emulated.chip import EmulatedTag
from drivers.mock import bench
from drivers.ntag import Ntag21x


@pytest.fixture
def on_reader() -> Iterator[Callable[[EmulatedTag], Ntag21x]]:
    """Put a given emulated tag on a fresh mock reader and return the tag layer on it."""
    readers: list[Reader] = []

    def make(tag: EmulatedTag) -> Ntag21x:
        name = f"unit-{uuid.uuid4().hex[:8]}"
        bench(name).place(tag)
        reader = open_reader(f"mock:{name}")
        readers.append(reader)
        return Ntag21x(reader, reader.wait_for_tag(1))

    yield make
    for reader in readers:
        reader.close()
