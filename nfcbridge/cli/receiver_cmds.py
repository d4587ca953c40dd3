"""``nfcbridge receiver``: the reference webhook receiver (verify, store, report).

It is what an integrator compares their own backend with: ``serve`` checks each Standard
Webhooks signature and stores the events in SQLite, ``report`` turns them into visits and
anomalies and, with ``--expect``, compares them with a rig scenario's ground truth.
Heavy imports stay inside the commands so that ``nfcbridge --help`` stays fast.
"""

from __future__ import annotations

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app


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
    type=click.Path(dir_okay=False),
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
def serve(
    listen: str, secret_file: str, db: str, report_from_anywhere: bool, max_threads: int
) -> None:
    """Receive signed tap events until interrupted."""
    from nfcbridge.receiver.server import ReceiverHTTPServer, parse_listen
    from nfcbridge.receiver.store import open_store
    from nfcbridge.signing import load_secret

    try:
        address = parse_listen(listen)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from None
    key = load_secret(secret_file)
    store = open_store(db)
    try:
        server = ReceiverHTTPServer(
            address,
            key,
            store,
            max_threads=max_threads,
            report_anywhere=report_from_anywhere,
        )
    except OSError as exc:
        store.close()
        raise click.ClickException(f"cannot listen on {listen}: {exc.strerror}") from None
    click.echo(f"receiver listening on {server.url} (events in {db})", err=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        store.close()


@receiver.command("report")
@click.option("--db", "db", type=click.Path(dir_okay=False, exists=True), required=True)
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
    expect: str | None,
    tolerance: float,
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
        limit = manual_limit
        if limit is None:
            limit = app.settings.municipal.manual_limit_percent
        data = build_report(store.events(), limits=limits, manual_limit=limit)
    finally:
        store.close()
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


COMMANDS: list[click.Command] = [receiver]
