"""``nfcbridge tag history UID``: a tag's life from the audit trail, in words.

Failed provisioning attempts are in the audit trail even when the tag never made it into
the registry, so a UID with only failed attempts has a history too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app, printable
from nfcbridge.cli.registry_access import open_registry

if TYPE_CHECKING:
    from provisioning.audit import AuditEntry
    from provisioning.records import TagRecord


def _steps(d: dict[str, Any]) -> str:
    done = ", ".join(d.get("steps") or []) or "nothing"
    return f"done: {done}"


ACTIONS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "tag.provisioned": (
        "provisioned",
        lambda d: (
            f"in batch {d.get('batch')}, {d.get('product')}, written, locked, verified"
            + (f", signature {d['verdict']}" if d.get("verdict") else "")
            + (" (finished an earlier attempt)" if d.get("retried") else "")
        ),
    ),
    "tag.attempt_failed": (
        "failed attempt",
        lambda d: (
            f"in batch {d.get('batch')}"
            + (f": {d['error']}" if d.get("error") else "")
            + f"; nothing irreversible ({_steps(d)})"
        ),
    ),
    "tag.spoiled": (
        "spoiled",
        lambda d: (
            f"in batch {d.get('batch')}: a permanent lock had begun, never usable ({_steps(d)})"
        ),
    ),
    "tag.issued": ("picked up", lambda d: f"by provider {d.get('provider')}"),
    "tag.attached": (
        "put on a door",
        lambda d: f"customer {d.get('customer')} (provider {d.get('provider')})",
    ),
    "tag.provider_changed": (
        "customer moved",
        lambda d: f"from provider {d.get('from')} to {d.get('to')}, the tag stays on the door",
    ),
    "tag.retired": (
        "retired",
        lambda d: (
            f"was {str(d.get('from', '')).replace('_', ' ')}"
            + (f" on customer {d['customer']}" if d.get("customer") else "")
        ),
    ),
}


def describe(entry: AuditEntry) -> str:
    """One line: when, who, what happened in words, why."""
    name, detail = ACTIONS.get(entry.action, (entry.action, lambda d: ""))
    when = entry.at.replace("T", " ")[:19]
    text = f"{name}: {detail(entry.details)}" if detail(entry.details) else name
    why = f" (why: {entry.reason})" if entry.reason else ""
    # stored text through printable(): no forged lines or terminal escapes (the OS user
    # beside the operator is in --json)
    return printable(f"  {when}  {entry.operator:<14} {text}{why}")


def headline(uid: str, record: TagRecord | None, attempts: int) -> str:
    if record is None:
        return (
            f"tag {uid}: not in the registry; {attempts} failed provisioning attempt(s), "
            "nothing irreversible: it may be presented again"
        )
    where = [f"provider {record.provider}"] if record.provider else []
    where += [f"customer {record.customer}"] if record.customer else []
    state = record.state.replace("_", " ")
    return f"tag {record.uid}: {state}" + (f" ({', '.join(where)})" if where else "")


@click.command("history", short_help="Every change of one tag, in words.")
@click.argument("uid")
@json_option
@pass_app
def tag_history(app: AppContext, uid: str, as_json: bool) -> None:
    """Every change of one tag (failed provisioning attempts included), with who, when and
    why."""
    from provisioning.errors import UnknownEntity
    from provisioning.records import uid_hex

    with open_registry(app) as reg:
        record = reg.tag_status(uid)
        entries = reg.history(uid)
    if record is None and not entries:
        raise UnknownEntity(f"no tag {uid_hex(uid)} in the registry, and no attempt recorded")
    if as_json:
        tag = None if record is None else record.as_dict()
        emit({"tag": tag, "history": [e.as_dict() for e in entries]}, True)
        return
    attempts = sum(e.action == "tag.attempt_failed" for e in entries)
    click.echo(printable(headline(uid_hex(uid), record, attempts)))
    for e in entries:
        click.echo(describe(e))
