"""Daemon commands: run, status, outbox list / retry / prune."""

from __future__ import annotations

from typing import Any

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app
from nfcbridge.timefmt import timestamp_iso


@click.command("run", short_help="Run the tap daemon: readers, outbox, forwarders.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="TOML configuration file (same as the global --config).",
)
@pass_app
def run(app: AppContext, config_path: str | None) -> None:
    """Run the tap daemon: readers -> outbox -> forwarders (systemd Type=notify).

    Everything is validated before anything starts; SIGTERM drains and exits 0.
    """
    from nfcbridge.daemon import Daemon
    from nfcbridge.logs import configure_logging

    if config_path:
        app.config_path = config_path
        app._settings = None
    settings = app.settings
    configure_logging(settings=settings)
    code = Daemon(settings, own_process=True).run()
    raise SystemExit(code)


def _open_outbox(app: AppContext) -> Any:
    from nfcbridge.errors import StoreUnavailable
    from nfcbridge.outbox import Outbox, OutboxError

    path = app.settings.outbox_path
    if not path.exists():
        raise StoreUnavailable(f"no outbox at {path} (has the daemon ever run?)")
    try:
        return Outbox.open(path)
    except OutboxError as exc:
        raise StoreUnavailable(str(exc)) from None


@click.command("status", short_help="Readers' health, outbox depth, dead letters.")
@json_option
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Readers' health, outbox depth, oldest undelivered age, last delivery, dead letters.

    Exits 0 when the daemon runs and is healthy, 11 when it is not running or has problems
    (a reader down, a forwarder failing or dead-lettering, open dead letters)."""
    from nfcbridge import control
    from nfcbridge.errors import DaemonUnhealthy
    from nfcbridge.status import outbox_status, render

    socket_path = app.settings.control_socket
    data: dict[str, Any] | None = None
    reason = "control socket disabled"
    if socket_path is not None:
        try:
            answer = control.request(socket_path, {"op": "status"}, timeout=5.0)
        except (OSError, control.ControlError, ValueError) as exc:
            reason = f"cannot reach {socket_path}: {getattr(exc, 'strerror', None) or exc}"
        else:  # it answered: it is running, whatever the answer says
            data = answer.get("status") if answer.get("ok") else None
            if not isinstance(data, dict):
                data = {
                    "running": True,
                    "healthy": False,
                    "problems": [f"status failed: {answer.get('error')}"],
                }
    if data is None:
        outbox = _open_outbox(app)
        try:
            data = {
                "running": False,
                "reason": reason,
                "outbox": outbox_status(outbox, [f.name for f in app.settings.forwarders]),
            }
        finally:
            outbox.close()
    emit(data, as_json, None if as_json else render(data))
    if not data.get("running"):
        raise DaemonUnhealthy(f"daemon not running ({reason})")
    if not data.get("healthy", False):
        raise DaemonUnhealthy("daemon unhealthy: " + "; ".join(data.get("problems", [])))


@click.group("outbox", short_help="The local outbox: list, retry, prune, forget.")
def outbox() -> None:
    """Inspect the local outbox, re-send dead letters, prune delivered history."""


_iso = timestamp_iso


@outbox.command("list", short_help="Undelivered events, or the dead letters.")
@click.option("--dead", is_flag=True, help="Dead letters (permanent rejections) instead.")
@click.option("--limit", default=50, show_default=True, help="At most this many rows.")
@json_option
@pass_app
def outbox_list(app: AppContext, dead: bool, limit: int, as_json: bool) -> None:
    """Undelivered events per forwarder, or the dead letters with their reasons."""
    box = _open_outbox(app)
    try:
        rows: list[dict[str, Any]] = []
        if dead:
            for d in box.dead_letters()[:limit]:
                rows.append(
                    {
                        "event_id": d.event_id,
                        "forwarder": d.forwarder,
                        "reader": d.reader,
                        "seq": d.seq,
                        "reason": d.reason,
                        "dead_at": _iso(d.dead_at),
                    }
                )
        else:
            names = sorted(set(box.forwarders()) | {f.name for f in app.settings.forwarders})
            for name in names:
                for e in box.pending(name, limit):
                    rows.append(
                        {
                            "forwarder": name,
                            "event_id": e.event_id,
                            "reader": e.reader,
                            "seq": e.seq,
                            "committed_at": _iso(e.committed_at),
                        }
                    )
    finally:
        box.close()
    if as_json:
        emit(rows, True)
        return
    if not rows:
        click.echo("no dead letters" if dead else "nothing pending")
    for r in rows:
        tail = r.get("reason") or r.get("committed_at")
        click.echo(f"{r['forwarder']}  {r['event_id']}  {r['reader']} #{r['seq']}  {tail}")


@outbox.command("retry", short_help="Send dead letters again.")
@click.argument("event_id", required=False)
@click.option("--all-dead", is_flag=True, help="Every open dead letter.")
@json_option
@pass_app
def outbox_retry(app: AppContext, event_id: str | None, all_dead: bool, as_json: bool) -> None:
    """Send dead letters again (the dead-letter rows are kept, stamped as retried).

    A running daemon picks them up within a second."""
    if bool(event_id) == all_dead:
        raise click.UsageError("give an EVENT_ID or --all-dead (one of them)")
    box = _open_outbox(app)
    try:
        count = box.retry_dead(None if all_dead else event_id)
    finally:
        box.close()
    if event_id and count == 0:
        raise click.BadParameter(f"no open dead letter for event {event_id}", param_hint="EVENT_ID")
    emit({"retried": count}, as_json, f"{count} dead letter(s) queued again")


@outbox.command("prune", short_help="Remove delivered events older than keep_days.")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; change nothing.")
@json_option
@pass_app
def outbox_prune(app: AppContext, dry_run: bool, as_json: bool) -> None:
    """Remove events every forwarder confirmed more than [outbox] keep_days ago.

    Undelivered events and dead letters stay, however old; the output says how many were
    kept and why. A running daemon does this hourly; this runs it now (safe beside it)."""
    from nfcbridge.errors import StoreUnavailable
    from nfcbridge.outbox import OutboxError
    from nfcbridge.retention import prune

    settings = app.settings
    box = _open_outbox(app)
    try:
        report = prune(
            box,
            [f.name for f in settings.forwarders],
            settings.outbox.keep_days,
            dry_run=dry_run,
        )
    except OutboxError as exc:
        raise StoreUnavailable(str(exc)) from None
    finally:
        box.close()
    emit(report.as_dict(), as_json, report.summary())


@outbox.command("forget", short_help="Forget a forwarder no longer configured.")
@click.argument("forwarder")
@click.option("--yes", is_flag=True, help="Confirm when it still has undelivered events.")
@json_option
@pass_app
def outbox_forget(app: AppContext, forwarder: str, yes: bool, as_json: bool) -> None:
    """Forget a forwarder removed from the configuration, so it stops holding events back
    from pruning. Its dead letters are kept; events it never delivered are not sent to it."""
    from nfcbridge.errors import ConfirmationRequired
    from nfcbridge.retention import forget_forwarder

    if forwarder in {f.name for f in app.settings.forwarders}:
        raise click.BadParameter(
            f"{forwarder!r} is still in {app.settings.source}: remove it there first",
            param_hint="FORWARDER",
        )
    box = _open_outbox(app)
    try:
        if forwarder not in box.forwarders():
            raise click.BadParameter(
                f"the outbox has no forwarder {forwarder!r} (known: "
                f"{', '.join(box.forwarders()) or 'none'})",
                param_hint="FORWARDER",
            )
        pending = box.progress(forwarder).pending
        if pending and not yes:
            raise ConfirmationRequired(
                f"forwarder {forwarder!r} has {pending} undelivered event(s) that would never "
                "be sent to it; nothing was changed. Re-run with --yes"
            )
        forget_forwarder(box, forwarder)
    finally:
        box.close()
    emit(
        {"forgotten": forwarder, "undelivered": pending},
        as_json,
        f"forgot forwarder {forwarder} ({pending} undelivered event(s) not sent to it; "
        "its dead letters are kept)",
    )


COMMANDS: list[click.Command] = [run, status, outbox]
