"""``nfcbridge manual start|end``: a visit start or end registered without a receipt.

Sent to the running daemon over its control socket (``nfcbridge.manual`` has the rules): it
becomes an event with ``origin: manual`` forwarded like any tap; the note stays at the
station and is purged after ``[municipal] manual_note_keep_days``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app

REASONS = ("technical_fault", "started_outside", "ended_outside")


@click.group("manual", short_help="Manual registrations (no receipt), the exception.")
def manual() -> None:
    """Manual registrations (no receipt): the exception, with a reason and a note."""


def _options(f: Any) -> Any:
    for option in reversed(
        [
            click.option("--staff", required=True, help="The staff member's id."),
            click.option("--customer", required=True, help="psn:... or ext:ID."),
            click.option(
                "--at",
                help="When (ISO 8601; without a zone: Swedish time). Default: now.",
            ),
            click.option(
                "--reason",
                type=click.Choice(REASONS),
                required=True,
                help="Why there was no receipt.",
            ),
            click.option("--note", help="Why (kept at the station only; prompted if left out)."),
            click.option("--provider", help="Only for a station without a registry."),
            json_option,
        ]
    ):
        f = option(f)
    return f


def _send(app: AppContext, kind: str, options: dict[str, Any]) -> None:
    from nfcbridge import control
    from nfcbridge.errors import StoreUnavailable
    from provisioning.errors import TransitionRefused
    from provisioning.months import STOCKHOLM

    as_json = options.pop("as_json")
    note = options.pop("note") or click.prompt("Note", err=True)
    moment = dt.datetime.now(dt.UTC)
    if options["at"]:
        try:
            moment = dt.datetime.fromisoformat(options["at"].strip().replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter("not an ISO 8601 time", param_hint="--at") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=STOCKHOLM)
    request = {
        "op": "manual",
        "kind": kind,
        **{k: v for k, v in options.items() if v is not None},
        "note": note,
        "at": moment.isoformat(),
    }
    path = app.settings.control_socket
    if path is None:
        raise StoreUnavailable("the control socket is disabled ([control] socket = off)")
    try:
        answer = control.request(path, request, timeout=15.0)
    except (OSError, control.ControlError, ValueError) as exc:
        raise StoreUnavailable(
            f"cannot reach the daemon at {path}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    if not answer.get("ok"):
        raise TransitionRefused(str(answer.get("error")))
    emit(
        answer,
        as_json,
        f"manual {kind} registered: event {answer['event_id']} (seq {answer['seq']})",
    )


@manual.command("start")
@_options
@pass_app
def manual_start(app: AppContext, /, **options: Any) -> None:
    """Register a visit start without a receipt."""
    _send(app, "start", options)


@manual.command("end")
@_options
@pass_app
def manual_end(app: AppContext, /, **options: Any) -> None:
    """Register a visit end without a receipt."""
    _send(app, "end", options)


COMMANDS: list[click.Command] = [manual]
