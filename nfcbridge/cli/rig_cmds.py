"""Test rig commands: ``rig`` (generate, validate, seed and replay scenarios) and ``demo``.

The reference webhook receiver the rig delivers to is ``receiver_cmds``.

Heavy imports stay inside the commands so that ``nfcbridge --help`` stays fast.
"""

from __future__ import annotations

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app
from nfcbridge.cli.demo_cmd import demo
from nfcbridge.cli.params import OutputPath
from nfcbridge.cli.rig_config_cmd import rig_config
from nfcbridge.config import ForwarderSettings, ReaderSettings
from nfcbridge.limits import MAX_CUSTOMERS, MAX_STAFF, MAX_VISITS_PER_CUSTOMER


@click.group("rig", short_help="Simulated door taps: scenarios and their replay.")
def rig() -> None:
    """Simulated door taps: write or generate a scenario, validate it, replay it.

    \b
    Scenario files are JSON lines (see the README, "For integrators"):
      nfcbridge rig generate --customers 500 --staff 120 --seed 7 --out day.jsonl
      nfcbridge rig validate day.jsonl
      nfcbridge rig seed day.jsonl --registry sqlite:///rig-registry.db
      nfcbridge rig run day.jsonl --speed 100                 (into the running daemon)
      nfcbridge rig run day.jsonl --speed 100 --standalone \\
          --forward-to http://127.0.0.1:8080/ --secret-file whsec.txt
    """


@rig.command("generate")
@click.option(
    "--customers",
    type=click.IntRange(1, MAX_CUSTOMERS),
    default=500,
    show_default=True,
    help="Customers in the district, each with a tag on the door.",
)
@click.option(
    "--staff",
    type=click.IntRange(2, MAX_STAFF),
    default=120,
    show_default=True,
    help="Staff members, each with one phone (one mock reader).",
)
@click.option(
    "--visits-per-customer",
    type=click.FloatRange(0, MAX_VISITS_PER_CUSTOMER),
    default=3.0,
    show_default=True,
    help="Visits per customer in the day, on average.",
)
@click.option(
    "--double-staffing",
    type=click.FloatRange(0, 1),
    default=0.05,
    show_default=True,
    help="Share of visits with a second staff member.",
)
@click.option(
    "--anomalies",
    type=click.FloatRange(0, 1),
    default=0.02,
    show_default=True,
    help="Share of visits with a planted anomaly (missed end, held tag, unknown or retired tag).",
)
@click.option(
    "--cohabitants",
    type=click.FloatRange(0, 1),
    default=0.1,
    show_default=True,
    help="Share of customers living with another customer.",
)
@click.option(
    "--providers",
    type=click.IntRange(0),
    default=0,
    help="Number of providers (default: one per 100 customers).",
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="Random seed: the same seed gives the same day.",
)
@click.option(
    "--start",
    default="2026-11-24T06:00:00Z",
    show_default=True,
    help="Wall-clock moment of scenario time 0.",
)
@click.option(
    "--out",
    "out",
    type=OutputPath(),
    required=True,
    help="Scenario file to write (JSON lines).",
)
@click.option(
    "--truth",
    "truth_path",
    type=OutputPath(),
    help="Also write the ground truth (the report a correct receiver gives) as JSON.",
)
@click.option(
    "--implausible",
    is_flag=True,
    help="Also plant one of each implausible pattern (provider P-IMPL; see receiver report).",
)
@json_option
def generate(
    customers: int,
    staff: int,
    visits_per_customer: float,
    double_staffing: float,
    anomalies: float,
    cohabitants: float,
    providers: int,
    seed: int,
    start: str,
    out: str,
    truth_path: str | None,
    implausible: bool,
    as_json: bool,
) -> None:
    """Generate a realistic district day with its ground truth."""
    import json
    from pathlib import Path

    from nfcbridge.rig.generator import DayParameters, generate_day
    from nfcbridge.rig.scenario import ScenarioError, scenario_lines
    from nfcbridge.rig.truth import expected_report

    try:
        params = DayParameters(
            customers,
            staff,
            visits_per_customer,
            double_staffing,
            anomalies,
            cohabitants,
            providers,
            seed,
            start,
        )
        scenario = generate_day(params)
        if implausible:
            from nfcbridge.rig.implausible import plant_implausible

            plant_implausible(scenario)
    except ValueError as exc:
        raise ScenarioError(f"cannot generate: {exc}") from None
    Path(out).write_text("\n".join(scenario_lines(scenario)) + "\n", encoding="utf-8")
    truth = expected_report(scenario)
    if truth_path:
        Path(truth_path).write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    emit(_summary(scenario, truth, out), as_json)


@rig.command("validate", short_help="Check a scenario file (exit 3 on a fault).")
@click.argument("file", type=click.Path(dir_okay=False))
@json_option
def validate(file: str, as_json: bool) -> None:
    """Check a scenario file; a fault is one line naming the line and field (exit 3)."""
    from nfcbridge.rig.scenario_parser import load_scenario
    from nfcbridge.rig.truth import expected_report

    scenario = load_scenario(file)
    emit(_summary(scenario, expected_report(scenario), file), as_json)


@rig.command("truth", short_help="Print a scenario's ground truth as JSON.")
@click.argument("file", type=click.Path(dir_okay=False))
def truth(file: str) -> None:
    """Print a scenario's ground truth as JSON (what `receiver report` must match)."""
    from nfcbridge.rig.scenario_parser import load_scenario
    from nfcbridge.rig.truth import expected_report

    emit(expected_report(load_scenario(file)), True)


@rig.command("run", short_help="Replay a scenario into the daemon or standalone.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--speed",
    type=click.FloatRange(min=0.001),
    default=1.0,
    show_default=True,
    help="Time acceleration (100: a day in about 15 minutes before idle skipping).",
)
@click.option(
    "--max-idle",
    type=click.FloatRange(min=0),
    default=None,
    help="Longest real pause between two taps, in seconds (skips idle stretches).",
)
@click.option(
    "--min-hold",
    type=click.FloatRange(min=0.01),
    default=0.1,
    show_default=True,
    help="Shortest real time a tag stays on the reader.",
)
@click.option(
    "--retap-gap",
    type=click.FloatRange(min=0),
    default=2.5,
    show_default=True,
    help="Real seconds between two taps on one tag by one reader (above the "
    "daemon's re-tap window).",
)
@click.option(
    "--clock",
    type=click.Choice(["scenario", "daemon"]),
    default="scenario",
    show_default=True,
    help="occurred_at from the scenario (exact durations at any "
    "speed) or from the daemon's clock (real-time demos).",
)
@click.option(
    "--control",
    "control_path",
    type=click.Path(),
    help="The daemon's control socket (default: from the config).",
)
@click.option(
    "--standalone",
    is_flag=True,
    help="No daemon running: the daemon's own pipeline in-process, on a temporary outbox.",
)
@click.option("--forward-to", help="With --standalone: webhook URL of a receiver.")
@click.option(
    "--secret-file",
    type=click.Path(dir_okay=False),
    help="With --forward-to: the webhook secret (whsec_...).",
)
@click.option(
    "--jsonl",
    "jsonl_path",
    type=OutputPath(),
    help="With --standalone: append the events to this JSON lines file.",
)
@click.option(
    "--run-id",
    help="This replay's id, carried by every event (default: the scenario name and the "
    "UTC time); `receiver report --run ID` selects it.",
)
@json_option
@pass_app
def run(
    app: AppContext,
    file: str,
    speed: float,
    max_idle: float | None,
    min_hold: float,
    retap_gap: float,
    clock: str,
    control_path: str | None,
    standalone: bool,
    forward_to: str | None,
    secret_file: str | None,
    jsonl_path: str | None,
    run_id: str | None,
    as_json: bool,
) -> None:
    """Replay a scenario into the running daemon, or standalone into a receiver; every
    event carries the replay's run id."""
    from nfcbridge.control import ControlError, parse_run
    from nfcbridge.rig.replay import ControlSink, ReplayFailed, replay
    from nfcbridge.rig.scenario_parser import load_scenario

    scenario = load_scenario(file)
    run_id = run_id or new_run_id(scenario.name)
    try:
        parse_run(run_id)
    except ControlError:
        raise click.BadParameter("1-64 letters, digits, _ . : -", param_hint="--run-id") from None
    options = dict(
        speed=speed,
        max_idle=max_idle,
        min_hold=min_hold,
        retap_gap=retap_gap,
        stamp=clock == "scenario",
    )
    if not standalone:
        if forward_to or jsonl_path:
            raise click.UsageError("--forward-to and --jsonl need --standalone")
        from nfcbridge.rig.control_client import ControlClient

        path = control_path or app.settings.control_socket
        if path is None:
            raise click.UsageError("the control socket is off in the config; pass --control")
        client = ControlClient(path)
        client.request({"op": "ping"})
        try:
            result = replay(scenario, ControlSink(client, run_id), **options)  # type: ignore[arg-type]
        finally:
            client.close()
    else:
        from nfcbridge.rig.standalone import Station

        forwarder = _forwarder(forward_to, secret_file, jsonl_path)
        # The station's re-tap window stays below the replay's gap between two taps of a
        # tag, so every planned tap is its own presentation (a daemon's config decides it).
        window = min(ReaderSettings.retap_window, retap_gap / 2)
        with Station(scenario, forwarder, run=run_id, retap_window=window) as station:
            result = replay(scenario, station, **options)  # type: ignore[arg-type]
    emit(
        {
            "run": run_id,
            "taps": result.taps,
            "seconds": round(result.real_seconds, 1),
            "errors": result.errors,
        },
        as_json,
    )
    if result.errors:
        raise ReplayFailed(f"replay stopped: {result.errors[0]}")


@rig.command("seed", short_help="Load a scenario's world into a test-rig registry.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--registry",
    "registry_url",
    help="Registry URL (default: the configured one). Use a separate SQLite file for the "
    "rig, e.g. sqlite:///rig-registry.db: never a desk's registry.",
)
@json_option
@pass_app
def seed(app: AppContext, file: str, registry_url: str | None, as_json: bool) -> None:
    """Load a scenario's providers, customers and tags into a test-rig registry.

    Customers become ext:<id>; tags are recorded in batch rig:<scenario name>, picked up
    and attached (retired ones retired, unknown ones not loaded), each step audited.
    Running it again skips what is there and refuses what contradicts the scenario.
    """
    from nfcbridge.cli.registry_access import open_registry
    from nfcbridge.rig.scenario_parser import load_scenario
    from nfcbridge.rig.seed import seed_registry

    scenario = load_scenario(file)
    with open_registry(app, registry_url) as reg:
        result = seed_registry(
            reg, scenario, operator=app.operator, progress=None if as_json else click.echo
        )
    if as_json:
        emit(result.as_dict(), True)
    elif not result.changed:
        click.echo(f"nothing to do: the registry already holds scenario {scenario.name!r}")


def new_run_id(name: str) -> str:
    """``<scenario name as a slug>-<UTC time>``: tells replays apart and sorts by time."""
    import re
    from datetime import UTC, datetime

    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:40] or "run"
    return f"{slug}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S.%fZ')[:-4]}Z"


def _forwarder(
    forward_to: str | None, secret_file: str | None, jsonl_path: str | None
) -> ForwarderSettings:
    """The standalone station's one forwarder, configured as the daemon's would be."""
    from nfcbridge.rig.standalone import jsonl, webhook

    if bool(forward_to) == bool(jsonl_path):
        raise click.UsageError("--standalone needs exactly one of --forward-to URL or --jsonl FILE")
    if forward_to:
        if not secret_file:
            raise click.UsageError("--forward-to needs --secret-file")
        return webhook(forward_to, secret_file)
    assert jsonl_path is not None
    return jsonl(jsonl_path)


def _summary(scenario, truth, file: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from collections import Counter

    planted = Counter(p["kind"] for p in truth["planted"])
    return {
        "file": file,
        "name": scenario.name,
        "start": scenario.start.isoformat(),
        "providers": len(scenario.providers),
        "customers": len(scenario.customers),
        "households": len({c.household for c in scenario.customers.values()}),
        "staff": len(scenario.staff),
        "tags": len(scenario.tags),
        "visits": len(truth["visits"]),
        "taps": len(scenario.taps()),
        "double_staffing": len(truth["double_staffing"]),
        "planted": dict(sorted(planted.items())),
    }


rig.add_command(rig_config)

COMMANDS: list[click.Command] = [rig, demo]
