"""A manual registration travels daemon -> webhook forwarder -> receiver with its reason; its
note stays at the station, and after the retention period (a moved clock) the note is gone
while the registry's audit chain still verifies. Budget: one daemon start, ~5 s."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from pathlib import Path

from click.testing import CliRunner

from nfcbridge.cli.main import cli
from nfcbridge.control import request as control_request
from nfcbridge.manual import NoteStore
from nfcbridge.receiver.report import build_report
from provisioning import audit
from provisioning.months import month_of
from provisioning.registry import Registry
from tests.support.harness import (
    start_daemon,
    stop_daemon,
    wait_ready,
    webhook_forwarder,
)
from tests.support.receiver_events import start_receiver, stop_receiver

NOTE = "Telefonen startade inte i trapphuset, besöket började 07:58"
UID = "04C0FFEE000001"


def _config(directory: Path, url: str, secret_file: Path) -> Path:
    path = directory / "station.toml"
    path.write_text(
        f"""[station]
name = "st-manual"
data_dir = "{directory}"
[registry]
url = "sqlite:///{directory / "registry.db"}"
[logging]
format = "json"
level = "warning"
[[readers]]
name = "s001"
url = "mock:s001-manual"
retap_window = 0.1
{webhook_forwarder(url, secret_file)}"""
    )
    return path


def _wait(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_manual_registration_travels_with_its_reason_and_the_note_stays_then_goes(
    tmp_path: Path,
) -> None:
    with Registry.open(f"sqlite:///{tmp_path / 'registry.db'}") as reg:
        reg.open_batch("b", operator="desk")
        reg.add_provider("P-1", "Omsorg Ett AB", operator="desk")
        reg.add_customer("ext:4711", "P-1", operator="desk")
        reg.record_provisioned(bytes.fromhex(UID), "NTAG213", os.urandom(8).hex(), "b", "desk")
        reg.pickup_tags("P-1", [UID], operator="desk")
        reg.attach(UID, "ext:4711", operator="desk")
    server, secret_file = start_receiver(tmp_path)
    store = server.store
    config = _config(tmp_path, server.url, secret_file)
    sock = tmp_path / "control.sock"
    proc = start_daemon(config, tmp_path / "daemon.log")
    try:
        wait_ready(proc, sock, timeout=60)
        tap = control_request(sock, {"op": "tap", "reader": "s001", "uid": UID, "hold": 0.1})
        assert tap["event_id"]
        result = CliRunner().invoke(
            cli,
            [
                *("--config", str(config), "manual", "end", "--staff", "S-001"),
                *("--customer", "ext:4711", "--at", "2026-11-24T08:31:00"),
                *("--reason", "ended_outside", "--note", NOTE),
            ],
        )
        assert result.exit_code == 0, result.output
        refused = CliRunner().invoke(
            cli,
            [
                *("--config", str(config), "manual", "start", "--staff", "S-001"),
                *("--customer", "ext:9999", "--reason", "technical_fault", "--note", "x"),
            ],
        )
        assert refused.exit_code == 7 and "no customer ext:9999" in refused.output
        _wait(lambda: store.count() >= 2)
    finally:
        code = stop_daemon(proc)
        events = store.events()
        stop_receiver(server)
    assert code == 0
    manual = [e for e in events if e["origin"] == "manual"]
    assert len(manual) == 1
    m = manual[0]
    assert (m["tag"], m["clock_synced"], m["reader"]) == (None, False, "manual")
    assert m["occurred_at"] == "2026-11-24T07:31:00.000Z"  # 08:31 Swedish time
    assert {k: m["manual"][k] for k in ("kind", "staff", "customer", "reason")} == {
        "kind": "end",
        "staff": "S-001",
        "customer": "ext:4711",
        "reason": "ended_outside",
    }
    assert m["registry"]["provider"] == "P-1"
    # the note is nowhere but the station's note store
    for path in (tmp_path / "rx.db", tmp_path / "outbox.db", tmp_path / "registry.db"):
        assert NOTE.encode() not in path.read_bytes(), path
    notes = NoteStore(tmp_path / "notes.db")
    assert notes.get(m["manual"]["note_ref"]) == NOTE
    assert m["manual"]["note_sha256"] != hashlib.sha256(NOTE.encode()).hexdigest()  # salted
    report = build_report(events)
    assert report["manual"][0]["reason"] == "ended_outside"
    tap_month = month_of(dt.datetime.now(dt.UTC))  # the tap is stamped by the station clock
    shares = {
        (r["month"], r["provider"]): (r["manual"], r["registrations"])
        for r in report["manual_share"]
    }
    if tap_month == "2026-11":
        assert shares == {("2026-11", "P-1"): (1, 2)}
    else:
        assert shares == {("2026-11", "P-1"): (1, 1), (tap_month, "P-1"): (0, 1)}
    with Registry.open(f"sqlite:///{tmp_path / 'registry.db'}") as reg:
        with reg.store.read() as conn:
            audited = [e for e in audit.entries(conn) if e.action == "registration.manual"]
        assert [a.details["note_ref"] for a in audited] == [m["manual"]["note_ref"]]
        # a moved clock: 181 days later the note is purged, the chain is untouched
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=181)
        assert notes.purge(180, now=later - dt.timedelta(days=2)) == 0
        assert notes.purge(180, now=later) == 1
        assert notes.get(m["manual"]["note_ref"]) is None
        notes.close()
        assert reg.verify_audit().ok
    leftovers = [p for p in tmp_path.glob("notes.db*") if NOTE.encode() in p.read_bytes()]
    assert leftovers == []
