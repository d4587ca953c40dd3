"""The rig's scenario format describes manual registrations, ended customers and lock
installations; seeded into a registry and replayed through the daemon, the receiver's report
equals the scenario's ground truth for them. Budget: one daemon, a few seconds."""

# ruff: noqa: E501 (the scenario's JSON lines)

from __future__ import annotations

import time
from pathlib import Path

from nfcbridge import events as ev
from nfcbridge.receiver.report import build_report
from nfcbridge.rig.control_client import ControlClient
from nfcbridge.rig.replay import ControlSink, replay
from nfcbridge.rig.scenario_parser import parse_scenario
from nfcbridge.rig.seed import seed_registry
from nfcbridge.rig.truth import compare, expected_report
from provisioning.registry import Registry
from tests.support.harness import (
    start_daemon,
    stop_daemon,
    wait_ready,
    webhook_forwarder,
)
from tests.support.receiver_events import start_receiver, stop_receiver

SCENARIO = """\
{"kind": "scenario", "version": 1, "name": "life", "start": "2026-11-24T06:00:00Z", "station": "rig-life"}
{"kind": "provider", "id": "P-01"}
{"kind": "customer", "id": "C-1", "provider": "P-01"}
{"kind": "customer", "id": "C-2", "provider": "P-01", "end_reason": "died", "ended_on": "2026-11-20"}
{"kind": "customer", "id": "C-3", "provider": "P-01", "lock_installed": "2026-10-01"}
{"kind": "tag", "uid": "04AA000000C001", "customer": "C-1"}
{"kind": "tag", "uid": "04AA000000C002", "customer": "C-2"}
{"kind": "tag", "uid": "04AA000000C003", "customer": "C-3"}
{"kind": "staff", "id": "S-1", "provider": "P-01", "reader": "s1"}
{"kind": "staff", "id": "S-2", "provider": "P-01", "reader": "s2"}
{"kind": "visit", "staff": "S-1", "tag": "04AA000000C001", "start": "00:10", "end": "00:40"}
{"kind": "visit", "staff": "S-2", "tag": "04AA000000C003", "start": "00:20", "end": "00:50"}
{"kind": "tap", "staff": "S-1", "tag": "04AA000000C002", "t": "01:00"}
{"kind": "manual", "staff": "S-2", "customer": "C-1", "side": "start", "t": "02:00", "reason": "technical_fault", "note": "reader would not wake"}
{"kind": "manual", "staff": "S-2", "customer": "C-1", "side": "end", "t": "02:30", "reason": "ended_outside", "note": "ended on the street"}
"""


def test_ended_customers_locks_and_manual_registrations_match_the_ground_truth(
    tmp_path: Path,
) -> None:
    scenario = parse_scenario(SCENARIO, "life.jsonl")
    truth = expected_report(scenario)
    assert [a["kind"] for a in truth["anomalies"]] == [ev.RETIRED_TAG]  # the events' name
    assert [m["kind"] for m in truth["manual"]] == ["start", "end"]
    assert {(f["kind"], f["uid"]) for f in truth["plausibility"]} == {
        ("digital_lock", "04AA000000C003"),
        ("customer_ended", "04AA000000C002"),
        ("after_retired", "04AA000000C002"),
    }
    with Registry.open(f"sqlite:///{tmp_path / 'rig-registry.db'}") as reg:
        seed_registry(reg, scenario, operator="rig")
        assert reg.customer("ext:C-2").status == "ended"
        assert reg.tag("04AA000000C002").state == "retired"
        assert [r["uid"] for r in reg.to_collect()] == ["04AA000000C003"]
        assert reg.provider("P-01").customers_needing_tag == 1
        again = seed_registry(reg, scenario, operator="rig")  # idempotent
        assert not again.changed
    server, secret_file = start_receiver(tmp_path)
    store = server.store
    config = tmp_path / "rig.toml"
    readers = "".join(
        f'[[readers]]\nname = "{r}"\nurl = "mock:life-{r}"\nretap_window = 0.1\n'
        for r in ("s1", "s2")
    )
    config.write_text(
        f'[station]\nname = "rig-life"\ndata_dir = "{tmp_path}"\n'
        f'[registry]\nurl = "sqlite:///{tmp_path / "rig-registry.db"}"\n'
        f'[logging]\nformat = "json"\nlevel = "warning"\n{readers}'
        + webhook_forwarder(server.url, secret_file)
    )
    proc = start_daemon(config, tmp_path / "daemon.log")
    try:
        wait_ready(proc, tmp_path / "control.sock", timeout=60)
        client = ControlClient(tmp_path / "control.sock")
        try:
            result = replay(scenario, ControlSink(client), speed=1000, max_idle=0.05)
        finally:
            client.close()
        assert result.errors == []
        expected = len(scenario.taps()) + len(scenario.manual)
        deadline = time.monotonic() + 30
        while store.count() < expected and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        code = stop_daemon(proc)
        events = store.events()
        stop_receiver(server)
    assert code == 0
    report = build_report(events)
    assert compare(truth, report, tolerance=1.0) == []
    statuses = {e["tag"]["uid"]: e["registry"].get("customer_status") for e in events if e["tag"]}
    assert statuses == {
        "04AA000000C001": "active",
        "04AA000000C002": "ended",
        "04AA000000C003": "lock",
    }
    assert [(r["manual"], r["registrations"]) for r in report["manual_share"]] == [(2, 6)]
