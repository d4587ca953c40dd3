"""NTAG 424 DNA and 424 DNA TagTamper on every front door (mock, PN532+nfcpy, vpcd+pyscard).

Each backend provisions the chip (factory key, URL template, diversified keys, SDM, write
restricted, two verifying reads) into a real registry; taps then go through the tap
pipeline (registry enrichment, outbox) to the reference receiver over signed HTTP, which
verifies the SUN messages: a genuine tap has no anomaly; a replayed message, a clone of the
UID without SUN and (TagTamper) an opened tamper loop each show as an anomaly in its report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers.emulated.ntag424 import ATS, Ntag424Chip
from nfcbridge.outbox import Outbox
from nfcbridge.pipeline import Enricher, TapPipeline
from nfcbridge.receiver.server import ReceiverHTTPServer
from nfcbridge.receiver.store import EventStore
from nfcbridge.receiver.sun_check import SunChecker
from nfcbridge.signing import signed_headers
from nfcbridge.worker import read_sun
from provisioning.registry import Registry
from tests.support.backends import TAG_TIMEOUT
from tests.support.loopback_http import LOOPBACK
from tests.support.sun_tags import provision_test_sun_tag

MASTER = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
WEBHOOK_KEY = b"k" * 32


@pytest.mark.parametrize("tagtamper", [False, True], ids=["424", "424tt"])
def test_provision_and_tap_a_424_on_each_front_door(rig, tmp_path: Path, tagtamper: bool):
    chip = rig.place(Ntag424Chip(tagtamper=tagtamper))
    target = rig.reader.wait_for_tag(TAG_TIMEOUT)
    assert target.iso_dep and target.uid == chip.uid
    assert target.ats is not None and ATS.endswith(target.ats)  # pcsc: historical bytes only
    store = EventStore(tmp_path / "rx.db")
    receiver = ReceiverHTTPServer(
        ("127.0.0.1", 0), WEBHOOK_KEY, store, sun_checker=SunChecker(MASTER, (1,))
    )
    receiver.start_background()
    box = Outbox.open(tmp_path / "o.db")
    with Registry.open(f"sqlite:///{tmp_path / 'r.db'}") as registry:
        done = provision_test_sun_tag(
            rig.reader, registry, batch="conf", operator="conformance", master_key=MASTER
        )
        assert done.product == ("NTAG424DNATT" if tagtamper else "NTAG424DNA")
        uid = done.record.uid
        registry.add_provider("P-1", "Hemtjänst", operator="t")
        registry.add_customer("ext:c1", "P-1", operator="t")
        registry.pickup("P-1", 1, operator="t")
        registry.attach(uid, "ext:c1", operator="t")
        enricher = Enricher(registry, budget=5.0)
        pipe = TapPipeline("st", box, enricher=enricher, clock_synced=lambda: True)

        def tap(sun: dict[str, str] | None = None, *, read: bool = True) -> str:
            if read:
                sun = read_sun(rig.reader, rig.reader.reselect())
                assert sun is not None
            event = pipe.tap("door", uid, "simulated", sun=sun)
            body = event.to_json().encode()
            headers = signed_headers(WEBHOOK_KEY, event.event_id, body)
            assert LOOPBACK.post(receiver.url, content=body, headers=headers).status_code == 200
            return event.event_id

        try:
            genuine = tap()
            second = tap()
            assert store.events()[0]["tag"]["sun"]["url"].startswith("https://tap.example/t?p=")
            replay_sun = json.loads(box.events()[0].payload)["tag"]["sun"]
            replay = tap(replay_sun, read=False)
            clone = tap(None, read=False)
            opened = None
            if tagtamper:
                chip.open_tamper_loop()
                opened = tap()
        finally:
            enricher.close()
    try:
        report = LOOPBACK.get(receiver.url + "report").json()
    finally:
        receiver.stop()
        store.close()
        box.close()
    found = {(a["kind"], a["event_id"]) for a in report["anomalies"]}
    expected = {("sun_replayed", replay), ("sun_missing", clone)}
    if opened is not None:
        expected.add(("tamper_open", opened))
    assert found == expected
    assert not {k for k in found if k[1] in (genuine, second)}
