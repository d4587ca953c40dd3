"""``nfcbridge customer``: customers (brukare), known only by pseudonym or municipal id.

A personnummer is read from a hidden prompt unless given, turned into a pseudonym at once
(``registry_access.pseudonymizer``) and never printed or stored.
"""

from __future__ import annotations

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app
from nfcbridge.cli.params import ASK, personnummer_option, read_personnummer
from nfcbridge.cli.registry_access import named_customer, open_registry, pseudonymizer
from nfcbridge.cli.tables import print_rows


@click.group("customer")
def customer() -> None:
    """Customers (brukare), known only by pseudonym or municipal id."""


@customer.command("add", short_help="Register a customer; prints the pseudonym.")
@personnummer_option
@click.option("--external-id", help="The customer's id in the municipal system instead.")
@click.option("--provider", "provider_id", required=True, help="The customer's provider.")
@json_option
@pass_app
def customer_add(
    app: AppContext,
    personnummer: str | None,
    external_id: str | None,
    provider_id: str,
    as_json: bool,
) -> None:
    """Register a customer; prints the pseudonym reference, never the number."""
    from provisioning.identity import external_ref

    if personnummer and external_id:
        raise click.UsageError("give --personnummer or --external-id, not both")
    if not external_id:
        personnummer = read_personnummer(personnummer)
    with open_registry(app) as reg:
        if external_id:
            ref = external_ref(external_id)
            reg.add_customer(ref, provider_id, operator=app.operator)
        else:
            ring = pseudonymizer(app, reg)
            ref = reg.enter_customer(ring.refs(personnummer or ""), provider_id, app.operator)
    emit({"customer": ref, "provider": provider_id}, as_json, ref)


@customer.command("find", short_help="Find a customer by personnummer or municipal id.")
@personnummer_option
@click.option("--external-id", help="Find by the id in the municipal system instead.")
@json_option
@pass_app
def customer_find(
    app: AppContext, personnummer: str | None, external_id: str | None, as_json: bool
) -> None:
    """Find a customer by personnummer (asked at a hidden prompt) or municipal id: prints
    the reference, the provider and the active tag."""
    from provisioning.errors import UnknownEntity
    from provisioning.identity import external_ref

    if personnummer and external_id:
        raise click.UsageError("give --personnummer or --external-id, not both")
    if external_id:
        ref, how = external_ref(external_id), f"municipal id {external_id}"
    else:
        ref, how = named_customer(app, None, personnummer or ASK), "this personnummer"
    with open_registry(app) as reg:
        try:
            record = reg.customer(ref)
        except UnknownEntity:
            raise UnknownEntity(
                f"no customer with {how} in the registry (add one with `customer add`)"
            ) from None
    tag = f"active tag {record.active_tag}" if record.active_tag else "no active tag"
    emit(record.as_dict(), as_json, f"{record.ref}\n  provider {record.provider}, {tag}")


@customer.command("move", short_help="Move a customer to another provider.")
@click.argument("ref", required=False)
@personnummer_option
@click.option("--to", "to_provider", required=True, help="The new provider.")
@click.option("--reason", default="", help="Why, for the audit trail.")
@json_option
@pass_app
def customer_move(
    app: AppContext,
    ref: str | None,
    personnummer: str | None,
    to_provider: str,
    reason: str,
    as_json: bool,
) -> None:
    """The customer (REF, or --personnummer) changes provider; the tag on the door stays
    and now counts for the new one."""
    ref = named_customer(app, ref, personnummer)
    with open_registry(app) as reg:
        reg.move_customer(ref, to_provider, operator=app.operator, reason=reason)
        record = reg.customer(ref)
    emit(
        record.as_dict(),
        as_json,
        f"{record.ref} now with {record.provider}"
        + (f" (tag {record.active_tag} stays)" if record.active_tag else ""),
    )


@customer.command("list")
@click.option("--provider", "provider_id", help="Only this provider's customers.")
@json_option
@pass_app
def customer_list(app: AppContext, provider_id: str | None, as_json: bool) -> None:
    """Customers with their provider and active tag."""
    with open_registry(app) as reg:
        rows = [c.as_dict() for c in reg.customers(provider_id)]
    print_rows(rows, as_json)


@customer.command("purge", short_help="Remove customers ended before the retention.")
@click.option(
    "--keep-days",
    type=click.IntRange(min=1),
    help="Keep ended customers this many days (default [registry] keep_ended_days).",
)
@click.option("--dry-run", is_flag=True, help="Only count the customers that would go.")
@click.option("--yes", is_flag=True, help="Purge: their pseudonyms are gone for good.")
@json_option
@pass_app
def customer_purge(
    app: AppContext, keep_days: int | None, dry_run: bool, yes: bool, as_json: bool
) -> None:
    """Remove customers ended (`customer end`) before the cut-off: their pseudonyms leave
    the tables and the audit trail; tags, counts and the chain stay."""
    import datetime as dt

    from nfcbridge.errors import ConfirmationRequired

    days = keep_days or app.settings.registry.keep_ended_days
    if not days:
        raise click.UsageError("give --keep-days N or set [registry] keep_ended_days")
    if not (yes or dry_run):
        raise ConfirmationRequired(
            "purging removes ended customers' pseudonyms for good: add --yes (--dry-run counts)"
        )
    before = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    with open_registry(app) as reg:
        result = reg.purge_customers(before=before, operator=app.operator, dry_run=dry_run)
    verb = "would purge" if dry_run else "purged"
    emit(
        result.as_dict(),
        as_json,
        f"{verb} {result.customers} ended customer(s); {result.audit_rows} audit row(s) redacted",
    )


COMMANDS: list[click.Command] = [customer]
