"""Fixtures shared by the unit tests, and the tier's default of one worker per core."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drivers import Reader, open_reader
from drivers.emulated.chip import EmulatedTag
from drivers.mock import bench
from drivers.ntag import Ntag21x

UNIT_TIER = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """``pytest tests/unit`` (the whole tier named as a directory) runs on every core
    (pytest-xdist, ``-n auto``) unless ``-n`` is given: ``-n 0`` runs it in one process, and a
    module or a single test named on the command line runs in one process as before."""
    if getattr(config.option, "numprocesses", "absent") is not None or config.option.usepdb:
        return  # -n given, or xdist not installed, or --pdb
    if hasattr(config, "workerinput") or "PYTEST_XDIST_WORKER" in os.environ:
        return  # a worker itself: never workers of workers
    invoked = config.invocation_params.dir
    named = {(invoked / arg.split("::")[0]).resolve() for arg in config.args}
    if UNIT_TIER in named:
        config.option.numprocesses = "auto"


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
