"""Issue 5's end-to-end check: a generated district day (about 500 customers, 120 staff,
1,500 visits) replayed at 100x, and the receiver's report equals the scenario's ground truth:
every visit, durations within one second, every planted anomaly, nothing extra.

At 100x a whole day is about 10 real minutes; idle stretches are skipped (``max_idle``) so
the run takes a few minutes, and durations stay exact because every tap carries its
scenario moment (see ``nfcbridge.rig.replay``).

``test_district_day_standalone`` replays through in-process mock readers (the rig's own
station) and posts signed webhooks to a real receiver. ``test_district_day_through_daemon``
is the same day through ``nfcbridge run``'s control channel; it needs two things the
daemon does not offer yet (see its skip reason).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from nfcbridge.receiver.report import build_report
from nfcbridge.receiver.server import ReceiverHTTPServer
from nfcbridge.receiver.signature import decode_secret
from nfcbridge.receiver.store import EventStore
from nfcbridge.rig.generator import DayParameters, generate_day
from nfcbridge.rig.replay import replay
from nfcbridge.rig.standalone import Station, WebhookDelivery
from nfcbridge.rig.truth import compare, expected_report

DAY = DayParameters(
    customers=500,
    staff=120,
    visits_per_customer=3.0,
    double_staffing=0.05,
    anomalies=0.02,
    seed=2026,
)


@pytest.mark.slow
def test_district_day_standalone(tmp_path: Path) -> None:
    day = generate_day(DAY)
    truth = expected_report(day)
    assert 1450 <= len(truth["visits"]) - len(truth["double_staffing"]) <= 1550
    key = decode_secret("whsec_" + base64.b64encode(os.urandom(32)).decode())
    store = EventStore(tmp_path / "rx.db")
    server = ReceiverHTTPServer(("127.0.0.1", 0), key, store)
    server.start_background()
    deliver = WebhookDelivery(server.url, key)
    try:
        with Station(day, deliver) as station:
            result = replay(day, station, speed=100, max_idle=0.03, retap_gap=0.3)
        assert result.errors == []
        events = store.events()
    finally:
        deliver.close()
        server.stop()
        store.close()
    assert len(events) == len(day.taps())
    assert {e["origin"] for e in events} == {"simulated"}
    report = build_report(events)
    assert report["gaps"] == []
    assert compare(truth, report, tolerance=1.0) == []
    planted = {p["kind"] for p in truth["planted"]}
    assert planted == {"missed_end", "held", "unknown", "retired"}


@pytest.mark.slow
@pytest.mark.skip(
    reason="needs the daemon to stamp a control-channel tap with its scenario time "
    "({'op': 'tap', ..., 'at': ISO} -> occurred_at) and a way to load the scenario's "
    "providers/customers/tags into the registry the daemon enriches from"
)
def test_district_day_through_daemon(tmp_path: Path) -> None:  # pragma: no cover
    raise AssertionError("see the skip reason")
