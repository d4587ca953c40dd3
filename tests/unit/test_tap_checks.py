"""Signature checks at tap time (``[[readers]] check_signature``): a real reader worker on a
mock reader committing to a real outbox; what the event says was checked, and the anomaly
when the check fails. A failed read never costs the tap."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.emulated.chip import EmulatedTag, Fault
from drivers.mock import bench
from nfcbridge.config import ReaderSettings
from nfcbridge.events import TapEvent
from nfcbridge.outbox import Outbox
from nfcbridge.pipeline import TapPipeline
from nfcbridge.tap_checks import accepted
from nfcbridge.worker import Presentation, ReaderWorker


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Outbox]:
    outbox = Outbox.open(tmp_path / "o.db")
    yield outbox
    outbox.close()


def tap_once(box: Outbox, tag: EmulatedTag, *, check: bool) -> TapEvent:
    """Start a worker on a fresh mock reader, present *tag* once, return the committed event."""
    name = f"door-{uuid.uuid4().hex[:8]}"
    worker = ReaderWorker(
        ReaderSettings(name=name, url=f"mock:{name}", check_signature=check),
        TapPipeline("st", box, clock_synced=lambda: True),
    )
    committed: list[TapEvent] = []
    seen = threading.Event()

    def on_presentation(outcome: Presentation) -> None:
        if outcome.event is not None:
            committed.append(outcome.event)
        seen.set()

    worker.presentation_listeners.append(on_presentation)
    worker.start()
    try:
        bench(name).place(tag)
        assert seen.wait(10), "the worker never saw the tag"
    finally:
        worker.stop()
        worker.join(10)
    (event,) = committed
    assert box.events()[-1].payload == event.to_json()  # what the event says is what is stored
    return event


def test_with_the_check_off_nothing_is_read_and_the_event_says_so(box: Outbox):
    tag = EmulatedTag("NTAG213")
    event = tap_once(box, tag, check=False)
    assert event.to_dict()["tag"] == {
        "uid": tag.uid.hex().upper(),
        "product": None,
        "genuine": None,
        "signature": None,
    }
    assert not [c for c in tag.log if c[:1] in (b"\x60", b"\x3c")]  # no GET_VERSION, READ_SIG


def test_with_the_check_on_an_emulated_tag_on_a_simulated_reader_passes(box: Outbox):
    event = tap_once(box, EmulatedTag("NTAG215"), check=True)
    assert (event.tag.product, event.tag.signature, event.tag.genuine) == (
        "NTAG215",
        "test-key",
        True,
    )
    assert event.anomalies == ()


def test_a_clone_with_a_bad_signature_is_flagged_not_genuine(box: Outbox):
    event = tap_once(box, EmulatedTag("NTAG213", signature=os.urandom(32)), check=True)
    assert (event.tag.signature, event.tag.genuine) == ("invalid", False)
    assert event.anomalies == ("not_genuine",)


def test_a_clone_with_a_foreign_vendor_byte_is_unsupported_and_not_genuine(box: Outbox):
    clone = EmulatedTag("NTAG213")
    clone.version = b"\x00\x53" + clone.version[2:]
    event = tap_once(box, clone, check=True)
    assert (event.tag.product, event.tag.signature, event.tag.genuine) == (
        None,
        "unsupported",
        False,
    )
    assert event.anomalies == ("not_genuine",)


def test_a_tag_leaving_before_its_signature_is_read_is_still_one_committed_tap(box: Outbox):
    tag = EmulatedTag("NTAG213", faults=[Fault("remove", 1)])  # gone at GET_VERSION
    event = tap_once(box, tag, check=True)
    assert event.tag.uid == tag.uid.hex().upper()
    assert (event.tag.signature, event.tag.genuine) == (None, None)
    assert event.anomalies == ()


def test_the_emulator_test_key_is_never_genuine_on_a_real_reader():
    assert accepted("nxp", "reader") and accepted("nxp", "simulated")
    assert accepted("test-key", "simulated") and not accepted("test-key", "reader")
    assert not accepted("invalid", "simulated") and not accepted("unsupported", "reader")
