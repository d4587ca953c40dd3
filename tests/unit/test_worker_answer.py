"""A committed tap is answered (beep, LED) before the worker's bookkeeping and log line."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from drivers.emulated.chip import EmulatedTag
from drivers.mock import bench
from nfcbridge.config import ReaderSettings
from nfcbridge.outbox import Outbox
from nfcbridge.pipeline import TapPipeline
from nfcbridge.worker import ReaderWorker


class SignalsAtLogTime(logging.Handler):
    """What the reader had signalled when the worker logged each committed tap."""

    def __init__(self, signals: list[bool]) -> None:
        super().__init__(logging.INFO)
        self.signals = signals
        self.seen: list[list[bool]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("tap committed"):
            self.seen.append(list(self.signals))


def test_the_reader_answers_before_the_tap_is_logged(tmp_path: Path) -> None:
    field = bench("answers-first")
    handler = SignalsAtLogTime(field.signals)
    logger = logging.getLogger("nfcbridge.worker")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    box = Outbox.open(tmp_path / "o.db")
    worker = ReaderWorker(ReaderSettings("desk", "mock:answers-first"), TapPipeline("st", box))
    try:
        worker.start()
        field.place(EmulatedTag("NTAG213", uid=bytes.fromhex("04A1B2C3D4E5F6")))
        deadline = time.monotonic() + 10
        while not handler.seen:
            assert time.monotonic() < deadline, "no tap logged"
            time.sleep(0.01)
    finally:
        worker.stop()
        worker.join(5)
        logger.removeHandler(handler)
        logger.setLevel(level)
        box.close()
    assert handler.seen == [[True]]
