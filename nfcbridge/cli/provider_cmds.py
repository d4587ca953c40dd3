"""``nfcbridge provider``: provider units (utförare), their quota policy and allowance.

The allowance is how many more unattached tags a provider may pick up, from its quota
policy (``[quota]`` or its own, see ``provisioning.quota``) and the tags it already holds.
"""

from __future__ import annotations

from typing import Any

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app
from nfcbridge.cli.registry_access import open_registry
from nfcbridge.cli.tables import print_rows


@click.group("provider", short_help="Providers (utförare): quota, allowance, holdings.")
def provider() -> None:
    """Provider units (utförare): their quota policy, allowance and holdings."""


@provider.command("add", short_help="Add a provider (optionally with its own quota).")
@click.argument("provider_id")
@click.option("--name", required=True, help="The provider's name.")
@click.option("--per-customer", type=click.IntRange(min=0), help="Own policy: tags per customer.")
@click.option("--spare", type=click.IntRange(min=0), help="Own policy: spare tags.")
@json_option
@pass_app
def provider_add(
    app: AppContext,
    provider_id: str,
    name: str,
    per_customer: int | None,
    spare: int | None,
    as_json: bool,
) -> None:
    """Add a provider (default quota policy from [quota] unless --per-customer/--spare)."""
    with open_registry(app) as reg:
        status = reg.add_provider(
            provider_id, name, operator=app.operator, per_customer=per_customer, spare=spare
        )
    emit(status.as_dict(), as_json, f"provider {status.id} added (allowance {status.allowance})")


@provider.command("policy")
@click.argument("provider_id")
@click.option(
    "--per-customer",
    type=click.IntRange(min=0),
    help="Tags the provider may hold per customer without an active tag.",
)
@click.option("--spare", type=click.IntRange(min=0), help="Tags it may hold on top, as spares.")
@click.option("--default", "use_default", is_flag=True, help="Back to the [quota] default.")
@click.option("--reason", default="", help="Why, for the audit trail.")
@json_option
@pass_app
def provider_policy(
    app: AppContext,
    provider_id: str,
    per_customer: int | None,
    spare: int | None,
    use_default: bool,
    reason: str,
    as_json: bool,
) -> None:
    """Set a provider's own quota policy (audited)."""
    if use_default == (per_customer is not None or spare is not None):
        raise click.UsageError("give --per-customer and/or --spare, or --default")
    with open_registry(app) as reg:
        status = reg.set_policy(
            provider_id,
            per_customer=per_customer,
            spare=spare,
            operator=app.operator,
            reason=reason,
        )
    emit(status.as_dict(), as_json)


@provider.command("list")
@json_option
@pass_app
def provider_list(app: AppContext, as_json: bool) -> None:
    """Every provider with customers, holdings and allowance."""
    with open_registry(app) as reg:
        rows = [p.as_dict() for p in reg.providers()]
    print_rows(rows, as_json)


@provider.command("show", short_help="One provider: policy, holdings, allowance.")
@click.argument("provider_id")
@json_option
@pass_app
def provider_show(app: AppContext, provider_id: str, as_json: bool) -> None:
    """One provider: policy, customers, tags held, and how the allowance comes about."""
    with open_registry(app) as reg:
        status = reg.provider(provider_id)
    emit(status.as_dict(), as_json, explain_allowance(status.as_dict()))


def explain_allowance(s: dict[str, Any]) -> str:
    """The allowance as the desk explains it: who needs a tag, the rate, spare, tags held
    (the terms from ``provisioning.quota.explain_allowance``, as the web app shows them)."""
    from nfcbridge.cli.process_cmds import describe_billing
    from provisioning.quota import explain_allowance as terms_of

    t = terms_of(s)
    policy = "own policy" if t.own_policy else "default policy"
    lines = [
        f"provider {s['id']} ({s['name']}), {describe_billing(s)}",
        f"customers            {t.customers}: {t.needing} need a tag, "
        f"{t.with_lock} with a digital lock, {t.ended} ended",
        f"tags on doors        {t.on_doors}"
        + (f" ({t.to_collect} on doors with a lock: to collect)" if t.to_collect else ""),
        f"allowance            {t.needing_without} needing a tag without one x "
        f"{t.per_customer} per customer",
        f"                     + {t.spare} spare ({policy})",
        f"                     - {t.held} held unattached",
        f"                     = {t.allowance}",
    ]
    return "\n".join(lines)


COMMANDS: list[click.Command] = [provider]
