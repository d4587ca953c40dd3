"""``nfcbridge receiver``: the reference webhook receiver (verify, store, report).

It is what an integrator compares their own backend with: ``serve`` checks each Standard
Webhooks signature and stores the events in SQLite, ``report`` turns them into visits and
anomalies and, with ``--expect``, compares them with a rig scenario's ground truth.
Heavy imports stay inside the commands so that ``nfcbridge --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app
from nfcbridge.cli.params import OutputPath

if TYPE_CHECKING:
    from nfcbridge.receiver.sun_check import SunChecker


def sun_key_options(f: Any) -> Any:
    """--sun-master-key-file and --sun-key-version: how SUN messages are verified."""
    f = click.option(
        "--sun-key-version",
        "sun_key_versions",
        type=click.IntRange(0, 255),
        multiple=True,
        help="Key versions in use (repeatable; default 1).",
    )(f)
    return click.option(
        "--sun-master-key-file",
        default=None,
        help="Verify SUN messages (NTAG 424 DNA) with this master key: 32 hex digits, a file "
        "or credential:NAME.",
    )(f)


def received_db_option(f: Any) -> Any:
    """--db: the database a receiver has written."""
    return click.option(
        "--db",
        "db",
        type=click.Path(dir_okay=False, exists=True),
        required=True,
        help="The receiver's database (as given to `receiver serve --db`).",
    )(f)


@click.group("receiver")
def receiver() -> None:
    """The reference webhook receiver: verify, store, report.

    \b
      nfcbridge receiver serve --listen 127.0.0.1:8080 --secret-file whsec.txt --db rx.db
      nfcbridge receiver report --db rx.db [--json] [--expect day.jsonl]
    """


@receiver.command("serve")
@click.option("--listen", default="127.0.0.1:8080", show_default=True, help="HOST:PORT")
@click.option(
    "--secret-file",
    type=click.Path(dir_okay=False),
    required=True,
    help="Standard Webhooks secret, whsec_<base64>.",
)
@click.option(
    "--db",
    "db",
    type=OutputPath(),
    required=True,
    help="SQLite file for the events (created if missing).",
)
@click.option(
    "--report-from-anywhere",
    is_flag=True,
    help="Serve GET /report to any client (default: loopback clients only).",
)
@click.option(
    "--max-threads",
    type=click.IntRange(1, 1024),
    default=32,
    show_default=True,
    help="Requests served at once; further connections wait.",
)
@sun_key_options
def serve(
    listen: str,
    secret_file: str,
    db: str,
    sun_master_key_file: str | None,
    sun_key_versions: tuple[int, ...],
    report_from_anywhere: bool,
    max_threads: int,
) -> None:
    """Receive signed tap events until interrupted."""
    from nfcbridge.listen import parse_listen
    from nfcbridge.receiver.server import ReceiverHTTPServer
    from nfcbridge.receiver.store import open_store
    from nfcbridge.signing import load_secret

    try:
        address = parse_listen(listen)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from None
    key = load_secret(secret_file)
    checker = sun_checker(sun_master_key_file, sun_key_versions)
    store = open_store(db)
    try:
        server = ReceiverHTTPServer(
            address,
            key,
            store,
            sun_checker=checker,
            max_threads=max_threads,
            report_anywhere=report_from_anywhere,
        )
    except OSError as exc:
        store.close()
        raise click.BadParameter(
            f"cannot listen on {listen}: {exc.strerror}", param_hint="--listen"
        ) from None
    click.echo(f"receiver listening on {server.url} (events in {db})", err=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        store.close()


@receiver.command("prune", short_help="Delete events older than the retention.")
@click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False, exists=True),
    required=True,
    help="The receiver's database (as given to `receiver serve --db`).",
)
@click.option("--keep-days", type=click.IntRange(min=1), required=True, help="Keep this many days.")
@json_option
def prune(db: str, keep_days: int, as_json: bool) -> None:
    """Delete events received more than --keep-days ago (the store's retention)."""
    from datetime import UTC, datetime, timedelta

    from nfcbridge.receiver.store import open_store

    store = open_store(db)
    try:
        removed = store.purge(datetime.now(UTC) - timedelta(days=keep_days))
        left = store.count()
    finally:
        store.close()
    emit({"removed": removed, "kept": left}, as_json, f"removed {removed} events, kept {left}")


@receiver.command("report", short_help="Visits, anomalies and gaps from what was received.")
@received_db_option
@click.option(
    "--expect",
    "expect",
    type=click.Path(dir_okay=False),
    help="Compare with this scenario's ground truth; differences exit 10.",
)
@click.option(
    "--tolerance",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds of difference allowed in times and durations with --expect.",
)
@sun_key_options
@click.option(
    "--min-travel",
    type=click.FloatRange(min=0),
    default=120.0,
    show_default=True,
    help="Implausible: seconds between two doors (or stations) closer than this.",
)
@click.option(
    "--working-day",
    type=click.FloatRange(min=0),
    default=8.0,
    show_default=True,
    help="Implausible: hours a visit start may stay without an end tap.",
)
@click.option(
    "--max-taps-per-day",
    type=click.IntRange(min=1),
    default=24,
    show_default=True,
    help="Implausible: taps on one tag in one day (Europe/Stockholm) above this.",
)
@click.option(
    "--run",
    "run_id",
    help="Only this replay (`rig run` prints its id; `receiver runs` lists them); 'last' for "
    "the latest. Needed with --expect when the database holds several replays.",
)
@click.option(
    "--manual-limit",
    type=click.FloatRange(0, 100),
    help="Percent of manual registrations per provider and month above which it is flagged "
    "(default: [municipal] manual_limit_percent, 10).",
)
@json_option
@pass_app
def report(
    app: AppContext,
    db: str,
    run_id: str | None,
    expect: str | None,
    tolerance: float,
    sun_master_key_file: str | None,
    sun_key_versions: tuple[int, ...],
    min_travel: float,
    working_day: float,
    max_taps_per_day: int,
    manual_limit: float | None,
    as_json: bool,
) -> None:
    """Visits, durations, double staffing, missing end taps, anomalies, sequence gaps,
    implausible taps (a tag at two places at once, a start never ended, more taps than
    visits explain, taps on retired or unattached tags or on ended or locked customers),
    manual registrations and each provider's manual share per month."""
    from nfcbridge.receiver.plausibility import Limits
    from nfcbridge.receiver.report import build_report, render_text
    from nfcbridge.receiver.store import open_store

    limits = Limits(min_travel, working_day * 3600, max_taps_per_day)
    store = open_store(db)
    try:
        run = _select_run(store.runs(), run_id, needed=bool(expect))
        limit = manual_limit
        if limit is None:
            limit = app.settings.municipal.manual_limit_percent
        data = build_report(
            store.events(run),
            limits=limits,
            manual_limit=limit,
            sun_checker=sun_checker(sun_master_key_file, sun_key_versions),
        )
    finally:
        store.close()
    if run is not None:
        data["run"] = run
    differences = None
    if expect:
        from nfcbridge.rig.scenario_parser import load_scenario
        from nfcbridge.rig.truth import compare, expected_report

        truth = expected_report(load_scenario(expect), limits)
        differences = compare(truth, data, tolerance)
        data["differences"] = differences
    if as_json:
        emit(data, True)
    else:
        click.echo(render_text(data))
        if differences is not None:
            click.echo(
                "\nagainst the scenario: "
                + ("equal" if not differences else f"{len(differences)} differences")
            )
            for line in differences[:50]:
                click.echo("  " + line)
    if differences:
        from nfcbridge.errors import VerificationFailed

        raise VerificationFailed(f"report differs from the scenario: {differences[0]}")


def _select_run(runs: list[dict[str, object]], wanted: str | None, *, needed: bool) -> str | None:
    """The replay to report on: *wanted* ('last': the latest), or None for every event;
    with --expect, a database holding several replays needs one chosen."""
    ids = [str(r["run"]) for r in runs if r["run"] is not None]
    if wanted == "last":
        if not ids:
            raise click.UsageError("--run last: the database holds no replay with a run id")
        return ids[-1]
    if wanted is not None:
        if wanted not in ids:
            raise click.UsageError(
                f"no replay {wanted!r} in the database (`receiver runs` lists them)"
            )
        return wanted
    if needed and len(runs) > 1:
        listed = ", ".join(f"{r['run'] or '(no run id)'}: {r['events']} events" for r in runs)
        raise click.UsageError(
            f"the database holds {len(runs)} replays ({listed}): choose one with --run ID "
            "(or --run last)"
        )
    return None


@receiver.command("runs", short_help="The replays the receiver holds.")
@received_db_option
@json_option
def runs(db: str, as_json: bool) -> None:
    """The replays held (one per `rig run`), oldest first: run id, events, first and last
    reception. Events without a run id (real taps, older senders) are one group."""
    from nfcbridge.cli.tables import print_rows
    from nfcbridge.receiver.store import open_store

    store = open_store(db)
    try:
        rows = store.runs()
    finally:
        store.close()
    print_rows(rows, as_json)


def sun_checker(master_key_file: str | None, versions: tuple[int, ...]) -> SunChecker | None:
    """The SUN verifier of the receiver, when it is given the master key (issue 14)."""
    if master_key_file is None:
        return None
    from nfcbridge.receiver.sun_check import SunChecker
    from nfcbridge.sun_keys import read_aes_key

    key = read_aes_key(master_key_file, option="--sun-master-key-file")
    return SunChecker(key, versions or (1,))


COMMANDS: list[click.Command] = [receiver]
