"""``nfcbridge demo``: the whole path working on one machine, in under a minute.

Everything runs on embedded defaults in one fresh directory, on loopback, and is stopped at
the end; nothing outside the directory is touched. The steps are the real ones, through the
same code a desk, a coordinator, a station and a backend use:

1. provision a roll of emulated NTAG213 tags on ``mock:demo-desk?roll=ntag213&count=N`` into
   a SQLite registry with the batch runner (write, lock, verify, record);
2. add a provider and N customers (external ids), pick up N tags within the quota and
   attach one to each customer's door;
3. write a small scenario over those real UIDs: a morning of visits by three staff,
   including a double-staffed visit, a missed end tap and a tap on an unknown tag;
4. start the reference receiver (a whsec secret in a 0600 file) and the daemon, in this
   process, with one mock reader per staff member, the registry for enrichment and a
   signed webhook forwarder to the receiver;
5. replay the scenario through the daemon's control socket at 100x;
6. wait for the outbox to drain, then compare the receiver's report with the scenario's
   ground truth (``nfcbridge.rig.truth``).

``Demo.run`` reports each step through a callback (the CLI prints it, or collects it for
``--json``) and returns the figures; the CLI turns a mismatch into exit code 10.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROVIDER = "P-DEMO"
STAFF = ("anna", "bo", "cecilia")  # reader phone-<name>
SPEED = 100.0
MAX_IDLE = 0.05  # real seconds: quiet stretches of the morning are skipped
MIN = 60.0

Say = Callable[[str, str], None]  # (step, line)


@dataclass
class DemoResult:
    directory: Path
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.report) and not self.differences


class Demo:
    def __init__(self, directory: Path, customers: int, operator: str, say: Say) -> None:
        self.dir = directory
        self.customers = customers
        self.operator = operator
        self.say = say
        self.result = DemoResult(directory)
        self._closers: list[Callable[[], None]] = []

    # -- the run --------------------------------------------------------------------------
    def run(self) -> DemoResult:
        began = time.monotonic()
        try:
            from provisioning.registry import Registry

            with Registry.open(f"sqlite:///{self.dir / 'registry.db'}") as reg:
                uids = self.provision(reg)
                refs = self.hand_out(reg, uids)
                unknown = self._unknown_uid(reg)
            scenario = self.write_scenario(list(zip(refs, uids, strict=True)), unknown)
            url = self.start_receiver()
            daemon = self.start_daemon(scenario, url)
            self.replay(daemon, scenario)
            self.check(daemon, scenario)
        finally:
            self.close()
        self.result.seconds = round(time.monotonic() - began, 1)
        return self.result

    def close(self) -> None:
        """Stop everything started, newest first; safe to call twice."""
        while self._closers:
            closer = self._closers.pop()
            try:
                closer()
            except Exception:  # one failing stop must not leave the others running
                import logging

                logging.getLogger("nfcbridge.demo").exception("demo: stopping failed")

    # -- 1. provisioning ------------------------------------------------------------------
    def provision(self, reg: Any) -> list[str]:
        from drivers.table import open_reader
        from provisioning.batch import BatchSettings, run_batch

        n = self.customers
        url = f"mock:demo-desk?roll=ntag213&count={n}"
        batch = f"demo-{datetime.now(UTC):%Y-%m-%d}"
        with open_reader(url) as reader:
            runner = run_batch(
                reader,
                reg,
                batch,
                operator=self.operator,
                count=n,
                settings=BatchSettings(tag_timeout=5.0),
            )
            results = list(runner)
        good = [r.uid for r in results if r.outcome == "provisioned"]
        counts = {k: sum(r.outcome == k for r in results) for k in ("provisioned", "refused")}
        spoiled = sum(r.outcome == "spoiled" for r in results)
        seconds = sum(r.elapsed for r in results)
        self._step(
            "provision",
            f"{len(good)} NTAG213 tags on {url}: written, locked, verified and recorded in "
            f"batch {batch} ({counts['refused']} refused, {spoiled} spoiled, {seconds:.1f} s)",
            tags=len(good),
            refused=counts["refused"],
            spoiled=spoiled,
            batch=batch,
            registry=str(self.dir / "registry.db"),
        )
        if len(good) != n:
            from nfcbridge.errors import VerificationFailed

            raise VerificationFailed(f"only {len(good)} of {n} demo tags were provisioned")
        return good

    # -- 2. coordinator -------------------------------------------------------------------
    def hand_out(self, reg: Any, uids: list[str]) -> list[str]:
        reg.add_provider(PROVIDER, "Demo home care", operator=self.operator)
        refs = [f"ext:demo-{i:02d}" for i in range(1, len(uids) + 1)]
        for ref in refs:
            reg.add_customer(ref, PROVIDER, operator=self.operator)
        pickup = reg.pickup_tags(PROVIDER, uids, operator=self.operator)
        for ref, uid in zip(refs, uids, strict=True):
            reg.attach(uid, ref, operator=self.operator)
        self._step(
            "registry",
            f"provider {PROVIDER} with {len(refs)} customers ({refs[0]} .. {refs[-1]}); "
            f"picked up {len(uids)} tags (allowance {pickup.allowance_before} -> "
            f"{pickup.allowance_after}), attached one to each door; audit chain "
            + ("verified" if reg.verify_audit().ok else "BROKEN"),
            provider=PROVIDER,
            customers=len(refs),
            allowance_before=pickup.allowance_before,
            allowance_after=pickup.allowance_after,
            attached=len(uids),
        )
        return refs

    @staticmethod
    def _unknown_uid(reg: Any) -> str:
        while True:  # a tag no registry knows: the stray sticker of the demo
            uid = "04" + secrets.token_hex(6).upper()
            if reg.tag_status(uid) is None:
                return uid

    # -- 3. scenario ----------------------------------------------------------------------
    def write_scenario(self, doors: list[tuple[str, str]], unknown: str) -> Any:
        from nfcbridge.rig.scenario_parser import load_scenario
        from nfcbridge.rig.truth import expected_report

        path = self.dir / "scenario.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in morning(doors, unknown)) + "\n")
        scenario = load_scenario(path)  # the same checks as any scenario file
        truth = expected_report(scenario)
        visits = len(scenario.visits)
        self._step(
            "scenario",
            f"a morning: {len(STAFF)} staff, {visits} visits to {len(doors)} doors "
            f"({len(truth['double_staffing'])} double-staffed, {len(truth['missing_end'])} "
            f"missed end tap, {len(truth['anomalies'])} tap on an unknown tag): "
            f"{len(scenario.taps())} taps in {path.name}",
            file=str(path),
            staff=len(STAFF),
            visits=visits,
            taps=len(scenario.taps()),
            double_staffing=len(truth["double_staffing"]),
            missing_end=len(truth["missing_end"]),
            anomalies=len(truth["anomalies"]),
        )
        return scenario

    # -- 4. receiver and daemon -----------------------------------------------------------
    def start_receiver(self) -> str:
        import base64

        from nfcbridge.receiver.server import ReceiverHTTPServer
        from nfcbridge.receiver.store import EventStore
        from nfcbridge.signing import decode_secret

        secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        fd = os.open(self.dir / "whsec.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secret + "\n")
        self.store = EventStore(self.dir / "receiver.db")
        self._closers.append(self.store.close)
        server = ReceiverHTTPServer(("127.0.0.1", 0), decode_secret(secret), self.store)
        server.start_background()
        self._closers.append(server.stop)
        return server.url

    def start_daemon(self, scenario: Any, receiver_url: str) -> Any:
        from nfcbridge.config import load_settings
        from nfcbridge.daemon import Daemon
        from nfcbridge.sdnotify import SdNotify

        readers = [s.reader for s in scenario.staff.values()]
        config = self.dir / "nfcbridge.toml"
        config.write_text(demo_config(self.dir, readers, receiver_url))
        daemon = Daemon(load_settings(config), notify=SdNotify(""), drain_timeout=5.0)
        failure: list[BaseException] = []

        def serve() -> None:
            try:
                daemon.run(install_signals=False)
            except BaseException as exc:  # reported by the main thread
                failure.append(exc)
                daemon.ready.set()

        thread = threading.Thread(target=serve, name="demo-daemon", daemon=True)
        thread.start()

        def stop() -> None:
            daemon.request_stop()
            thread.join(30)

        self._closers.append(stop)
        if not daemon.ready.wait(30) or failure:
            raise failure[0] if failure else TimeoutError("the demo daemon did not start")
        self._step(
            "start",
            f"receiver on {receiver_url} (secret in whsec.txt, mode 0600); daemon "
            f"{daemon.settings.station.name!r} with {len(readers)} mock readers "
            f"({', '.join(readers)}), registry enrichment, webhook forwarder to the receiver",
            receiver=receiver_url,
            config=str(config),
            readers=readers,
            control_socket=str(daemon.settings.control_socket),
        )
        return daemon

    # -- 5. replay ------------------------------------------------------------------------
    def replay(self, daemon: Any, scenario: Any) -> None:
        from nfcbridge.rig.control_client import ControlClient
        from nfcbridge.rig.replay import ControlSink, ReplayFailed, replay

        client = ControlClient(daemon.settings.control_socket)
        try:
            result = replay(
                scenario,
                ControlSink(client),
                speed=SPEED,
                max_idle=MAX_IDLE,
                min_hold=0.1,
                retap_gap=0.3,
            )
        finally:
            client.close()
        if result.errors:
            raise ReplayFailed(f"replay stopped: {result.errors[0]}")
        span = scenario.taps()[-1].t - scenario.taps()[0].t
        self._step(
            "replay",
            f"{result.taps} taps through the control socket in {result.real_seconds:.1f} s "
            f"(a {span / 3600:.1f} h morning at {SPEED:g}x, quiet stretches skipped); "
            "each event is stamped with its scenario time and marked origin: simulated",
            taps=result.taps,
            seconds=round(result.real_seconds, 2),
        )

    # -- 6. delivery and the comparison ---------------------------------------------------
    def check(self, daemon: Any, scenario: Any) -> None:
        from nfcbridge.receiver.report import build_report
        from nfcbridge.rig.truth import compare, expected_report

        began = time.monotonic()
        box = daemon.status()["outbox"]
        while any(f["pending"] for f in box["forwarders"]) and time.monotonic() - began < 30:
            time.sleep(0.05)
            box = daemon.status()["outbox"]
        pending = sum(f["pending"] for f in box["forwarders"])
        dead = sum(f["dead_letters"] for f in box["forwarders"])
        committed = box["events"]
        self._step(
            "delivery",
            f"taps committed {committed}, delivered {committed - pending - dead}, "
            f"pending {pending}, dead letters {dead}",
            committed=committed,
            delivered=committed - pending - dead,
            pending=pending,
            dead_letters=dead,
        )
        report = build_report(self.store.events())
        self.result.report = report
        self.result.differences = compare(expected_report(scenario), report, tolerance=1.0)
        if pending or dead:
            self.result.differences.insert(
                0, f"not all delivered: {pending} pending, {dead} dead letters"
            )

    def _step(self, name: str, line: str, **figures: Any) -> None:
        self.result.steps[name] = figures
        self.say(name, line)


# -- embedded defaults ------------------------------------------------------------------------
def morning(doors: list[tuple[str, str]], unknown: str) -> list[dict[str, Any]]:
    """Scenario records: three staff visit every door once from 07:00 (one visit each, 20-40
    minutes, 10 minutes of travel). The first visit is double-staffed, the last one has no
    end tap, and the third staff member first taps a stray sticker no registry knows."""
    day = datetime.now(UTC).strftime("%Y-%m-%dT06:00:00Z")
    records: list[dict[str, Any]] = [
        {"kind": "scenario", "version": 1, "name": "demo morning", "start": day, "station": "demo"},
        {"kind": "provider", "id": PROVIDER},
    ]
    for ref, uid in doors:
        customer = ref.removeprefix("ext:")  # the registry's ext:<id> is the scenario's <id>
        records.append({"kind": "customer", "id": customer, "provider": PROVIDER})
        records.append({"kind": "tag", "uid": uid, "customer": customer})
    records.append({"kind": "tag", "uid": unknown, "state": "unknown"})
    staff = [f"S-{name}" for name in STAFF]
    for sid, name in zip(staff, STAFF, strict=True):
        records.append(
            {"kind": "staff", "id": sid, "provider": PROVIDER, "reader": f"phone-{name}"}
        )
    h = 3600.0
    first = doors[0][1]
    visit = {"kind": "visit"}
    records.append({**visit, "staff": staff[0], "tag": first, "start": h, "end": h + 40 * MIN})
    records.append(
        {**visit, "staff": staff[1], "tag": first, "start": h + 3 * MIN, "end": h + 37 * MIN}
    )
    records.append({"kind": "tap", "staff": staff[2], "tag": unknown, "t": h + 10 * MIN})
    clock = [h + 50 * MIN, h + 47 * MIN, h + 15 * MIN]
    for j in range(1, len(doors)):
        s = j % len(staff)
        start, length = clock[s], (20 + (j * 7) % 21) * MIN
        end = None if j == len(doors) - 1 else start + length
        records.append({**visit, "staff": staff[s], "tag": doors[j][1], "start": start, "end": end})
        clock[s] = start + length + 10 * MIN
    return records


def demo_config(directory: Path, readers: list[str], receiver_url: str) -> str:
    def q(value: object) -> str:
        return json.dumps(str(value))  # a TOML basic string

    lines = [
        "# written by `nfcbridge demo`",
        "[station]",
        'name = "demo"',
        f"data_dir = {q(directory)}",
        "[registry]",
        "url = " + q("sqlite:///" + str(directory / "registry.db")),
        "[logging]",
        'level = "warning"',
    ]
    for name in readers:
        lines += ["[[readers]]", f"name = {q(name)}", f"url = {q('mock:' + name)}"]
        lines += ["retap_window = 0.1"]
    lines += [
        "[[forwarders]]",
        'type = "webhook"',
        'name = "receiver"',
        f"url = {q(receiver_url)}",
        f"secret_file = {q(directory / 'whsec.txt')}",
        "max_backoff = 1.0",
        "timeout = 5.0",
    ]
    return "\n".join(lines) + "\n"
