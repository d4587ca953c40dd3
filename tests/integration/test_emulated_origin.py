"""A door reader that is really pcscd's virtual reader (vpcd, which listens on all
interfaces: anyone on the network could play the card) produces ``origin: simulated``, unless
the configuration says otherwise; found by the PC/SC name pcscd gives it, not by the URL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.emulated.chip import EmulatedTag
from drivers.emulated.field import Field
from drivers.emulated.vpcd import VirtualCard
from nfcbridge.config import ReaderSettings
from nfcbridge.events import TapEvent
from nfcbridge.outbox import Outbox
from nfcbridge.pipeline import TapPipeline
from nfcbridge.worker import ReaderWorker, origin_for
from tests.support.vpcd_backend import PcscdUnavailable, start_card

pytestmark = pytest.mark.pcscd

UID = bytes.fromhex("04E10CDA993C81")


@pytest.fixture
def card() -> Iterator[tuple[Field, VirtualCard]]:
    field = Field("origin-test")
    try:
        with start_card(field) as card:
            yield field, card
    except PcscdUnavailable as exc:
        pytest.skip(str(exc))


def tap_once(card: tuple[Field, VirtualCard], tmp_path: Path, **settings: str) -> TapEvent:
    field, vcard = card
    slot = vcard.reader_name.removeprefix("Virtual PCD ")  # "00 03": the name's tail only
    box = Outbox.open(tmp_path / f"o-{len(settings)}.db")
    pipeline = TapPipeline("st", box)
    events: list[TapEvent] = []
    pipeline.subscribe(events.append)
    worker = ReaderWorker(
        ReaderSettings(name="door", url=f"pcsc:{slot}", **settings),  # type: ignore[arg-type]
        pipeline,
    )
    worker.start()
    try:
        field.place(EmulatedTag("NTAG213", uid=UID))
        deadline = time.monotonic() + 20
        while not events and time.monotonic() < deadline:
            time.sleep(0.05)
        field.remove()
    finally:
        worker.stop()
        worker.join(10)
        box.close()
    assert events, "no tap committed"
    return events[0]


def test_a_vpcd_reader_taps_as_simulated_even_when_its_url_hides_it(
    card: tuple[Field, VirtualCard], tmp_path: Path
) -> None:
    assert tap_once(card, tmp_path).origin == "simulated"


def test_the_configuration_can_say_it_is_a_real_reader(
    card: tuple[Field, VirtualCard], tmp_path: Path
) -> None:
    assert tap_once(card, tmp_path, origin="reader").origin == "reader"


@pytest.mark.parametrize(
    ("url", "name", "origin"),
    [
        ("pcsc:ACR122U", "ACS ACR122U PICC Interface 00 00", "reader"),
        ("pcsc:00 00", "Virtual PCD 00 00", "simulated"),
        ("serial:/dev/pts/4", "", "simulated"),
        ("nfcpy:tty:pts/4:pn532", "", "simulated"),
        ("nfcpy:usb:072f:2200", "", "reader"),
        ("mock:desk", "", "simulated"),
    ],
)
def test_origin_by_url_and_opened_name(url: str, name: str, origin: str) -> None:
    assert origin_for(url, name) == origin
    assert origin_for(url, name, "simulated") == "simulated"
    assert origin_for(url, name, "reader") == ("simulated" if url.startswith("mock:") else "reader")
