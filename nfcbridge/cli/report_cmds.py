"""``nfcbridge report`` (stock, providers, issued per month, batches) and ``nfcbridge audit``
(verify the hash-chained audit trail, optionally against an anchor kept with an invoice).
"""

from __future__ import annotations

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app, printable
from nfcbridge.cli.registry_access import open_registry
from nfcbridge.cli.tables import print_rows
from nfcbridge.errors import VerificationFailed


@click.command("report", short_help="Stock, providers, issued, batches, checks, invoices.")
@click.argument(
    "kind",
    type=click.Choice(["stock", "providers", "issued", "batches", "checks", "invoice", "collect"]),
)
@click.option(
    "--month",
    help="With issued: only this month; with checks and invoice: required (YYYY-MM).",
)
@click.option("--list", "listing", is_flag=True, help="With checks: every spot check.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV for spreadsheets and invoicing.")
@json_option
@pass_app
def report(
    app: AppContext, kind: str, month: str | None, listing: bool, as_csv: bool, as_json: bool
) -> None:
    """Stock by state, providers' allowance and holdings, tags issued per provider per month,
    batches, spot checks (`tag check`) per provider with the failure rate, the month's
    invoice (Swedish calendar month), tags to collect from doors with a lock."""
    from provisioning.reports import REPORTS, issued_report
    from provisioning.spot_check import checks_report

    if kind == "invoice":
        if month is None:
            raise click.UsageError("the invoice report needs --month YYYY-MM")
        _invoice(app, month, as_csv, as_json)
        return
    if kind == "collect":
        with open_registry(app) as reg:
            print_rows(reg.to_collect(), as_json, as_csv)
        return
    if month is not None and kind not in ("issued", "checks"):
        raise click.UsageError("--month goes with the issued, checks and invoice reports")
    if kind == "checks" and month is None:
        raise click.UsageError("report checks needs --month YYYY-MM")
    if listing and kind != "checks":
        raise click.UsageError("--list goes with the checks report")
    with open_registry(app) as reg:
        if kind == "checks":
            assert month is not None
            rows = checks_report(reg, month, listing=listing)
        elif kind == "issued":
            rows = issued_report(reg, month)
        else:
            rows = REPORTS[kind](reg)
    print_rows(rows, as_json, as_csv)


def _invoice(app: AppContext, month: str, as_csv: bool, as_json: bool) -> None:
    """Per provider: tags picked up (UID, time in Sweden, operator), count, amount."""
    from provisioning.invoice import invoice, invoice_rows
    from provisioning.months import parse_month

    parse_month(month)
    with open_registry(app) as reg:
        entries = invoice(reg, month)
    if as_json or as_csv:
        print_rows(entries if as_json else invoice_rows(entries), as_json, as_csv)
        return
    if not entries:
        click.echo(f"invoice {month}: no tags picked up")
    for e in entries:
        if e["amount"] is None:
            money = f"{e['count']} tag(s), {e['kind']}: no amount"
        elif e["price_per_tag"] is not None:
            money = f"{e['count']} x {e['price_per_tag']} SEK = {e['amount']} SEK"
        else:  # the price changed during the month: each tag at its own
            money = f"{e['count']} tags = {e['amount']} SEK"
        click.echo(f"{e['provider']} ({e['name']}): {money}")
        for t in e["tags"]:
            click.echo(f"  {t['uid']}  {t['picked_up']}  {t['operator']}")


@click.group("audit")
def audit_group() -> None:
    """The hash-chained audit trail."""


@audit_group.command("verify", short_help="Check the hash chain; exit 10 where it breaks.")
@click.option(
    "--anchor", help="SEQ:HASH recorded earlier (e.g. with an invoice): must still match."
)
@json_option
@pass_app
def audit_verify(app: AppContext, anchor: str | None, as_json: bool) -> None:
    """Recompute the chain and rebuild the state it describes; exit 10 at the first modified,
    missing or truncated row, or naming each table row that differs from the trail. Never
    creates or migrates a registry."""
    parsed = None
    if anchor:
        seq, _, digest = anchor.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise click.BadParameter("expected SEQ:HASH (64 hex digits)", param_hint="--anchor")
        parsed = (int(seq), digest.lower())
    with open_registry(app, existing=True) as reg:
        result = reg.verify_audit(parsed)
    if as_json:
        emit(result.as_dict(), True)
    if result.differences:
        if not as_json:
            for line in result.differences:
                click.echo(printable(line), err=True)
        raise VerificationFailed(f"audit trail and tables differ: {result.problem}")
    if not result.ok:
        raise VerificationFailed(
            f"audit chain broken at seq {result.first_bad_seq}: {result.problem}"
        )
    if not as_json:
        click.echo(f"audit chain ok: {result.rows} rows, head {result.head_seq}:{result.head_hash}")


COMMANDS: list[click.Command] = [report, audit_group]
