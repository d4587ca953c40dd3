"""Issue 5's end-to-end check: a generated district day (about 500 customers, 120 staff,
1,500 visits) replayed at 100x, and the receiver's report equals the scenario's ground truth:
every visit, durations within one second, every planted anomaly, nothing extra.

At 100x a whole day is about 10 real minutes; idle stretches are skipped (``max_idle``) so
the run takes a few minutes, and durations stay exact because every tap carries its
scenario moment (see ``nfcbridge.rig.replay``).

``test_district_day_standalone`` replays through in-process mock readers (the rig's own
station) and posts signed webhooks to a real receiver. ``test_district_day_through_daemon``
is the same day through ``nfcbridge run``'s control channel, enriched from a registry
seeded with ``nfcbridge.rig.seed``.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nfcbridge.control import request as control_request
from nfcbridge.receiver.report import build_report
from nfcbridge.rig.control_client import ControlClient
from nfcbridge.rig.generator import DayParameters, generate_day
from nfcbridge.rig.replay import ControlSink, replay
from nfcbridge.rig.scenario import Scenario
from nfcbridge.rig.seed import seed_registry
from nfcbridge.rig.standalone import Station, webhook
from nfcbridge.rig.truth import compare, expected_report
from provisioning.registry import Registry
from tests.support.harness import (
    start_daemon,
    stop_daemon,
    wait_ready,
    webhook_forwarder,
)
from tests.support.receiver_events import start_receiver, stop_receiver

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
    server, secret_file = start_receiver(tmp_path)
    store = server.store
    try:
        with Station(day, webhook(server.url, secret_file), retap_window=0.0) as station:
            result = replay(day, station, speed=100, max_idle=0.03, retap_gap=0.3)
        assert result.errors == []
        events = store.events()
    finally:
        stop_receiver(server)
    assert len(events) == len(day.taps())
    assert {e["origin"] for e in events} == {"simulated"}
    report = build_report(events)
    assert report["gaps"] == []
    assert compare(truth, report, tolerance=1.0) == []
    planted = {p["kind"] for p in truth["planted"]}
    assert planted == {"missed_end", "held", "unknown", "retired"}


@pytest.mark.slow
def test_district_day_through_daemon(tmp_path: Path) -> None:
    """The same day through ``nfcbridge run`` (a subprocess): the scenario seeded into a fresh
    SQLite registry the daemon enriches from, one mock reader per staff member, taps injected
    through the control socket with their scenario moments, a webhook forwarder to the
    reference receiver. That the socket refuses other users is proven in
    tests/unit/test_control.py (test_a_peer_of_another_uid_is_refused and, as root,
    test_another_real_user_is_refused_even_with_a_loosened_mode); here: it is owner-only."""
    day = generate_day(DAY)
    truth = expected_report(day)
    with Registry.open(f"sqlite:///{tmp_path / 'rig-registry.db'}") as reg:
        seeded = seed_registry(reg, day, operator="rig-e2e")
    assert seeded.added["active"] == len(day.customers)
    server, secret_file = start_receiver(tmp_path)
    store = server.store
    config = _daemon_config(tmp_path, day, server.url, secret_file)
    sock = tmp_path / "control.sock"
    proc = start_daemon(config, tmp_path / "daemon.log")
    try:
        wait_ready(proc, sock, timeout=60)
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
        client = ControlClient(sock)
        try:
            result = replay(day, ControlSink(client), speed=100, max_idle=0.03, retap_gap=0.3)
        finally:
            client.close()
        assert result.errors == []
        assert all(r["event_id"] for r in result.replies)  # no tap merged or missed
        _wait_until(lambda: store.count() >= len(day.taps()), timeout=60)

        def forwarders() -> list[tuple[int, int]]:
            outbox = control_request(sock, {"op": "status"})["status"]["outbox"]
            return [(f["pending"], f["dead_letters"]) for f in outbox["forwarders"]]

        # the receiver stores an event before the forwarder records its 200 reply
        _wait_until(lambda: forwarders() == [(0, 0)], timeout=30)
        assert forwarders() == [(0, 0)]
    finally:
        code = stop_daemon(proc)
        events = store.events()
        stop_receiver(server)
    assert code == 0
    assert len(events) == len(day.taps())
    assert {e["origin"] for e in events} == {"simulated"}
    report = build_report(events)
    assert report["gaps"] == []
    assert compare(truth, report, tolerance=1.0) == []
    planted = {p["kind"] for p in truth["planted"]}
    assert planted == {"missed_end", "held", "unknown", "retired"}
    # unknown and retired come from the daemon's registry; the truth uses its vocabulary
    lone = {(a["uid"], a["kind"]) for a in truth["anomalies"]}
    assert {kind for _, kind in lone} == {"unknown_tag", "retired_tag"}
    flagged = {(e["tag"]["uid"], tuple(e["anomalies"])) for e in events if e["anomalies"]}
    assert flagged == {(uid, (kind,)) for uid, kind in lone}
    visit_tags = {v["uid"]: v["customer"] for v in truth["visits"]}
    for e in events:
        if e["tag"]["uid"] in visit_tags:
            assert e["registry"]["customer"] == f"ext:{visit_tags[e['tag']['uid']]}"
            assert e["registry"]["state"] == "active"


def _daemon_config(directory: Path, day: Scenario, url: str, secret_file: Path) -> Path:
    readers = "".join(
        f'[[readers]]\nname = "{s.reader}"\nurl = "mock:{s.reader}"\nretap_window = 0.0\n'
        for s in day.staff.values()
    )
    path = directory / "rig.toml"
    path.write_text(
        f"""[station]
name = "rig-e2e"
data_dir = "{directory}"
[registry]
url = "sqlite:///{directory / "rig-registry.db"}"
[logging]
format = "json"
level = "warning"
{readers}
{webhook_forwarder(url, secret_file)}"""
    )
    return path


def _wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.1)
