"""A tap of a SUN tag carries its message; the receiver verifies it (issue 14).

Real parts: the mock reader with the NTAG 424 DNA chip model, a real registry (SQLite and
PostgreSQL), the outbox, the tap pipeline and the receiver's report. A genuine tap pairs
without anomaly; a replayed message, a clone of the UID without SUN and an opened tamper
loop each show as an anomaly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers import open_reader
from drivers.base import Reader
from drivers.url import parse_reader_url
from nfcbridge.events import SUN_MISSING, TapEvent
from nfcbridge.outbox import Outbox
from nfcbridge.pipeline import Enricher, TapPipeline
from nfcbridge.receiver.report import build_report
from nfcbridge.receiver.sun_check import SunChecker
from nfcbridge.worker import read_sun
from provisioning.registry import Registry
from tests.support.sun_tags import MASTER, provision_test_sun_tag


@pytest.fixture(autouse=True)
def two_customers(registry: Registry) -> None:
    """Every test's registry (tests/conftest.py) has a provider and two customers."""
    registry.add_provider("P-1", "Hemtjänst Syd", operator="t")
    registry.add_customer("ext:c1", "P-1", operator="t")
    registry.add_customer("ext:c2", "P-1", operator="t")


@pytest.fixture
def pipeline(tmp_path: Path, registry: Registry) -> Iterator[tuple[TapPipeline, list[TapEvent]]]:
    box = Outbox.open(tmp_path / "o.db")
    enricher = Enricher(registry, budget=5.0)
    pipe = TapPipeline("st", box, enricher=enricher, clock_synced=lambda: True)
    seen: list[TapEvent] = []
    pipe.subscribe(seen.append)
    yield pipe, seen
    enricher.close()
    box.close()


def door(registry: Registry, name: str, chip: str, customer: str) -> tuple[Reader, str]:
    reader = open_reader(parse_reader_url(f"mock:{name}?tag={chip}"))
    reader.open()
    reader.wait_for_tag(1)
    done = provision_test_sun_tag(reader, registry, batch="b1")
    registry.pickup("P-1", 1, operator="t")
    registry.attach(done.record.uid, customer, operator="t")
    return reader, done.record.uid


def tap(pipe: TapPipeline, reader: Reader, uid: str) -> TapEvent:
    target = reader.reselect()  # a new presentation at the door
    return pipe.tap(reader.url.target or "door", uid, "simulated", sun=read_sun(reader, target))


def report_of(events: list[TapEvent]) -> dict[str, object]:
    dicts = [json.loads(e.to_json()) for e in events]
    return build_report(dicts, sun_checker=SunChecker(MASTER, (1,)))


def kinds(report: dict[str, object]) -> list[tuple[str, str]]:
    return sorted((a["kind"], a["event_id"]) for a in report["anomalies"])  # type: ignore[attr-defined,index]


def test_genuine_taps_carry_a_sun_message_and_verify_without_anomaly(
    registry: Registry, pipeline: tuple[TapPipeline, list[TapEvent]]
) -> None:
    pipe, _ = pipeline
    reader, uid = door(registry, "d1", "ntag424", "ext:c1")
    try:
        first, second = tap(pipe, reader, uid), tap(pipe, reader, uid)
    finally:
        reader.close()
    assert first.tag.sun is not None and first.tag.sun["url"].startswith("https://tap.example/t?p=")
    assert json.loads(first.to_json())["tag"]["sun"] == first.tag.sun
    assert first.anomalies == () and second.anomalies == ()
    report = report_of([first, second])
    assert kinds(report) == []
    assert report["visits"]  # the two taps pair into a visit


def test_replay_clone_and_opened_tamper_loop_are_anomalies(
    registry: Registry, pipeline: tuple[TapPipeline, list[TapEvent]]
) -> None:
    pipe, _ = pipeline
    reader, uid = door(registry, "d2", "ntag424", "ext:c1")
    tt_reader, tt_uid = door(registry, "d3", "ntag424tt", "ext:c2")
    try:
        genuine = tap(pipe, reader, uid)
        replay = pipe.tap("d2", uid, "simulated", sun=genuine.tag.sun)  # the same message again
        clone = pipe.tap("d2", uid, "reader")  # the UID copied onto another chip: no SUN
        tt_ok = tap(pipe, tt_reader, tt_uid)
        from drivers import mock

        mock.bench("d3").tag.open_tamper_loop()  # type: ignore[union-attr]
        tt_open = tap(pipe, tt_reader, tt_uid)
    finally:
        reader.close()
        tt_reader.close()
    assert clone.anomalies == (SUN_MISSING,)
    found = kinds(report_of([genuine, replay, clone, tt_ok, tt_open]))
    assert found == sorted(
        [
            ("sun_replayed", replay.event_id),
            ("sun_missing", clone.event_id),
            ("tamper_open", tt_open.event_id),
        ]
    )


def test_a_message_with_one_bit_changed_is_invalid(
    registry: Registry, pipeline: tuple[TapPipeline, list[TapEvent]]
) -> None:
    pipe, _ = pipeline
    reader, uid = door(registry, "d4", "ntag424", "ext:c1")
    try:
        genuine = tap(pipe, reader, uid)
    finally:
        reader.close()
    assert genuine.tag.sun is not None
    url = genuine.tag.sun["url"]
    forged = pipe.tap(
        "d4", uid, "simulated", sun={"url": url[:-1] + ("0" if url[-1] != "0" else "1")}
    )
    assert kinds(report_of([forged])) == [("sun_invalid", forged.event_id)]


def test_the_checker_passes_over_a_manual_registration_without_a_tag() -> None:
    assert SunChecker(MASTER).check({"tag": None, "origin": "manual"}) == []
