"""A reader worker facing reader faults while a tag is held."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.emulated.chip import EmulatedTag
from drivers.errors import ReaderGone
from drivers.mock import MockReader, bench
from nfcbridge.config import ReaderSettings
from nfcbridge.outbox import Outbox
from nfcbridge.pipeline import TapPipeline
from nfcbridge.worker import ReaderWorker
from tests.support.waiting import wait_until

UID = bytes.fromhex("04A1B2C3D4E5F6")


def test_a_reader_failing_mid_presentation_ends_the_presentation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    field = bench("fails-mid-presentation")
    original = MockReader.wait_for_removal
    failed: list[bool] = []

    def unplugged_once(self: MockReader, timeout: float | None = None, *, uid=None) -> bool:
        if not failed:  # the reader is unplugged while the tag is held, tag taken off
            failed.append(True)
            field.remove()
            raise ReaderGone("reader unplugged")
        return original(self, timeout, uid=uid)

    monkeypatch.setattr(MockReader, "wait_for_removal", unplugged_once)
    box = Outbox.open(tmp_path / "o.db")
    try:
        pipeline = TapPipeline("st", box)
        worker = ReaderWorker(
            ReaderSettings("desk", "mock:fails-mid-presentation", retap_window=0.0),
            pipeline,
            min_backoff=0.01,
            max_backoff=0.02,
        )
        worker.start()
        try:
            field.place(EmulatedTag("NTAG213", uid=UID))
            assert wait_until(lambda: worker.health.reopens == 1 and worker.health.state == "ok")
            field.place(EmulatedTag("NTAG213", uid=UID))  # the visit's end tap, later
            assert wait_until(lambda: box.count() == 2)
        finally:
            worker.stop()
            worker.join(5)
        assert [e.seq for e in box.events()] == [1, 2]
    finally:
        box.close()
