"""The municipal process around the tags (rules in ``provisioning``; this only renders):

- ``customer end|lock|household``: a customer's life (end of care, digital lock, cohabitants);
- ``period close|list``: closing a month after its locking date (spärrdatum);
- ``order add|due|cancel``: tags ordered ahead, listed at the desk on the pickup day;
- ``provider billing``: municipal, or private with a price per tag (invoicing).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app
from nfcbridge.cli.params import personnummer_option
from nfcbridge.cli.registry_access import named_customer, open_registry
from nfcbridge.cli.tables import print_rows

END_REASONS = ("died", "moved_away", "care_home", "declined", "other")


class DateParam(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """A calendar date, YYYY-MM-DD (a day in Sweden)."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a date (YYYY-MM-DD)", param, ctx)


DATE = DateParam()


# -- customer end | lock | household ------------------------------------------------------------
@click.command("end", short_help="End a customer; the tag is retired or kept.")
@click.argument("ref", required=False)
@personnummer_option
@click.option("--reason", type=click.Choice(END_REASONS), required=True, help="Why care ended.")
@click.option("--on", "on", type=DATE, required=True, help="The day care ended (YYYY-MM-DD).")
@click.option(
    "--keep-tag-for",
    metavar="REF",
    help="A cohabitant (same household, no tag) who goes on using the door keeps the tag.",
)
@click.option("--note", default="", help="For the audit trail (no care details).")
@json_option
@pass_app
def customer_end(
    app: AppContext,
    ref: str | None,
    personnummer: str | None,
    reason: str,
    on: dt.date,
    keep_tag_for: str | None,
    note: str,
    as_json: bool,
) -> None:
    """End a customer (REF, or --personnummer): stops counting for quota; the door's tag is
    retired (or kept)."""
    ref = named_customer(app, ref, personnummer)
    with open_registry(app) as reg:
        done = reg.end_customer(
            ref, reason=reason, on=on, operator=app.operator, keep_tag_for=keep_tag_for, note=note
        )
    tag = f"; tag {done['tag']} {done['tag_outcome']}" if done["tag"] else "; no tag on the door"
    emit(done, as_json, f"customer {done['customer']} ended on {on} ({reason}){tag}")


@click.command("lock", short_help="Record a digital lock (trygghetslås).")
@click.argument("ref", required=False)
@personnummer_option
@click.option("--installed", type=DATE, help="The day a digital lock was installed.")
@click.option("--removed", type=DATE, help="The day the digital lock was removed.")
@json_option
@pass_app
def customer_lock(
    app: AppContext,
    ref: str | None,
    personnummer: str | None,
    installed: dt.date | None,
    removed: dt.date | None,
    as_json: bool,
) -> None:
    """Record a digital lock (trygghetslås): with one, the customer needs no tag."""
    if (installed is None) == (removed is None):
        raise click.UsageError("give --installed DATE or --removed DATE")
    ref = named_customer(app, ref, personnummer)
    with open_registry(app) as reg:
        done = reg.set_lock(ref, installed=installed, removed=removed, operator=app.operator)
    human = f"customer {done['customer']}: lock {done['lock']} on {done['on']}"
    if done["tag_to_collect"]:
        human += f"; tag {done['tag_to_collect']} to collect (report collect)"
    emit(done, as_json, human)


@click.command("household", short_help="Link cohabitants as one household.")
@click.argument("refs", nargs=-1, required=True)
@json_option
@pass_app
def customer_household(app: AppContext, refs: tuple[str, ...], as_json: bool) -> None:
    """Link cohabitants (sammanboende) as one household: one door, a tag each."""
    with open_registry(app) as reg:
        household = reg.link_household(list(refs), operator=app.operator)
        members = [c for c in reg.customers() if c.household == household]
    rows = [
        {"household": household, "customer": c.ref, "tag": c.active_tag, "label": c.label}
        for c in members
    ]
    print_rows(rows, as_json)


# -- provider billing ---------------------------------------------------------------------------
@click.command("billing")
@click.argument("provider_id")
@click.option(
    "--kind",
    type=click.Choice(["municipal", "private"]),
    required=True,
    help="A municipal or a private provider.",
)
@click.option("--price", help="Private: price per tag in SEK (e.g. 25 or 25.50).")
@json_option
@pass_app
def provider_billing(
    app: AppContext, provider_id: str, kind: str, price: str | None, as_json: bool
) -> None:
    """Municipal (no invoice) or private (invoiced per tag picked up)."""
    if kind == "private" and price is None:
        raise click.UsageError("a private provider needs --price")
    with open_registry(app) as reg:
        status = reg.set_billing(
            provider_id, kind=kind, price_ore=parse_sek(price), operator=app.operator
        )
    emit(status.as_dict(), as_json, f"provider {status.id}: {describe_billing(status.as_dict())}")


def parse_sek(text: str | None) -> int | None:
    if text is None:
        return None
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise click.BadParameter(f"{text!r} is not in SEK", param_hint="--price") from None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise click.BadParameter("0 or more, at most two decimals", param_hint="--price")
    return int(value * 100)


def describe_billing(status: dict[str, Any]) -> str:
    if status["kind"] == "private":
        return f"private, invoiced {status['price_per_tag']} SEK per tag"
    return "municipal, not invoiced"


# -- period close | list ------------------------------------------------------------------------
@click.group("period", short_help="Months: closed after their locking date.")
def period() -> None:
    """Months: closed after their locking date (spärrdatum), then nothing dated in them changes."""


@period.command("close", short_help="Close a month after its locking date.")
@click.argument("month")
@json_option
@pass_app
def period_close(app: AppContext, month: str, as_json: bool) -> None:
    """Close MONTH (YYYY-MM) after its locking date; prints the audit anchor to keep."""
    with open_registry(app) as reg:
        done = reg.close_period(month, operator=app.operator)
    figures = ", ".join(f"{p} {n}" for p, n in done["issued"].items()) or "none"
    emit(
        done,
        as_json,
        f"month {month} closed (locking date {done['locking_date']}); tags picked up: "
        f"{figures}\naudit anchor {done['anchor']}  (keep it with the invoice; "
        "audit verify --anchor)",
    )


@period.command("list")
@json_option
@pass_app
def period_list(app: AppContext, as_json: bool) -> None:
    """Closed months with their anchors."""
    with open_registry(app) as reg:
        rows = reg.closed_periods()
    print_rows(rows, as_json)


# -- order add | due | cancel -------------------------------------------------------------------
@click.group("order", short_help="Tags ordered ahead by a coordinator.")
def order() -> None:
    """Tags ordered ahead by a provider's coordinator, picked up at the desk."""


@order.command("add")
@click.option("--provider", "provider_id", required=True, help="The provider ordering.")
@click.option(
    "--count", type=click.IntRange(min=1), required=True, help="How many tags are ordered."
)
@click.option("--pickup-on", type=DATE, required=True, help="The pickup day (YYYY-MM-DD).")
@json_option
@pass_app
def order_add(
    app: AppContext, provider_id: str, count: int, pickup_on: dt.date, as_json: bool
) -> None:
    """Order tags; refused now if beyond the allowance or too soon."""
    with open_registry(app) as reg:
        placed = reg.add_order(provider_id, count, pickup_on, operator=app.operator)
    emit(
        placed,
        as_json,
        f"order {placed['order']}: {count} tag(s) for {provider_id}, pickup on {pickup_on}",
    )


@order.command("due")
@click.option("--on", "on", type=DATE, help="Orders due by this day (default: today).")
@click.option("--all", "show_all", is_flag=True, help="Every open order, whatever its day.")
@json_option
@pass_app
def order_due(app: AppContext, on: dt.date | None, show_all: bool, as_json: bool) -> None:
    """The desk's list: open orders to hand out by today (or --on)."""
    from provisioning import audit
    from provisioning.months import today_in_sweden

    day = None if show_all else (on or today_in_sweden(audit.utc_now()))
    with open_registry(app) as reg:
        rows = reg.orders_due(day)
    print_rows(rows, as_json)


@order.command("cancel")
@click.argument("order_id", type=int)
@click.option("--reason", default="", help="Why, for the audit trail.")
@pass_app
def order_cancel(app: AppContext, order_id: int, reason: str) -> None:
    """Cancel an open order (frees the allowance it reserved)."""
    with open_registry(app) as reg:
        reg.cancel_order(order_id, operator=app.operator, reason=reason)
    click.echo(f"order {order_id} cancelled")


CUSTOMER_COMMANDS: list[click.Command] = [customer_end, customer_lock, customer_household]
PROVIDER_COMMANDS: list[click.Command] = [provider_billing]
COMMANDS: list[click.Command] = [period, order]
