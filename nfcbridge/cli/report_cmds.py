"""``nfcbridge report`` (stock, providers, issued per month, batches) and ``nfcbridge audit``
(verify the hash-chained audit trail, optionally against an anchor kept with an invoice).
"""

from __future__ import annotations

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app, printable
from nfcbridge.cli.registry_access import open_registry
from nfcbridge.cli.tables import print_rows
from nfcbridge.errors import VerificationFailed


@click.command("report")
@click.argument("kind", type=click.Choice(["stock", "providers", "issued", "batches", "checks"]))
@click.option("--month", help="With issued: only this month; with checks: required (YYYY-MM).")
@click.option("--list", "listing", is_flag=True, help="With checks: every spot check.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV for spreadsheets and invoicing.")
@json_option
@pass_app
def report(
    app: AppContext, kind: str, month: str | None, listing: bool, as_csv: bool, as_json: bool
) -> None:
    """Stock by state, providers' allowance and holdings, tags issued per provider per month,
    batches, and spot checks (`tag check`) per provider with the failure rate."""
    from provisioning.reports import REPORTS, issued_report
    from provisioning.spot_check import checks_report

    if month is not None and kind not in ("issued", "checks"):
        raise click.UsageError("--month goes with the issued and checks reports")
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


@click.group("audit")
def audit_group() -> None:
    """The hash-chained audit trail."""


@audit_group.command("verify")
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
