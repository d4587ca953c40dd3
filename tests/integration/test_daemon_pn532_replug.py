"""An emulated PN532 (nfcpy's real driver on a pty) unplugged and plugged back is recovered
by the daemon without a restart, and taps after it are forwarded."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

pn532 = pytest.importorskip("drivers.emulated.pn532")
pytest.importorskip("nfc")

from drivers.emulated.chip import EmulatedTag  # noqa: E402
from drivers.emulated.field import Field  # noqa: E402
from nfcbridge.config import load_settings  # noqa: E402
from nfcbridge.daemon import Daemon  # noqa: E402
from nfcbridge.sdnotify import SdNotify  # noqa: E402
from tests.support.harness import write_config  # noqa: E402


def wait(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_unplugged_reader_is_reopened_and_taps_continue(tmp_path: Path) -> None:
    field = Field()
    link = str(tmp_path / "ttyNFC0")
    emulator = pn532.Pn532Emulator(field, link=link).start()
    config = write_config(
        tmp_path,
        readers=[("door", emulator.reader_url), ("rig", "mock:replug-rig")],
        forwarders=f'[[forwarders]]\ntype = "jsonl"\nname = "file"\n'
        f'path = "{tmp_path / "taps.jsonl"}"\n',
    )
    daemon = Daemon(load_settings(config), notify=SdNotify(""), reader_backoff=(0.1, 0.5))
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    try:
        assert daemon.ready.wait(30)
        worker = daemon.workers["door"]
        wait(lambda: worker.health.state == "ok" and worker.reader is not None)
        field.place(EmulatedTag(uid=bytes.fromhex("04111111111111")))
        wait(lambda: worker.health.taps == 1)
        field.remove()
        emulator.stop()  # unplug
        wait(lambda: worker.health.reopens >= 1)
        emulator = pn532.Pn532Emulator(field, link=link).start()  # plug back in
        wait(lambda: worker.health.state == "ok")
        field.place(EmulatedTag(uid=bytes.fromhex("04222222222222")))
        wait(lambda: worker.health.taps == 2)
        field.remove()
        wait(lambda: daemon.outbox.progress("file").pending == 0)
    finally:
        daemon.request_stop()
        thread.join(30)
        emulator.stop()
    events = [json.loads(line) for line in (tmp_path / "taps.jsonl").read_text().splitlines()]
    assert [(e["tag"]["uid"], e["seq"], e["origin"]) for e in events] == [
        ("04111111111111", 1, "reader"),
        ("04222222222222", 2, "reader"),
    ]
