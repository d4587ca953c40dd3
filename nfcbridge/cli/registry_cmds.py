"""Registry commands: provider, customer, pickup, attach, retire, tag history, report, audit.

The registry is opened from the settings (``[registry] url``, quota defaults, pseudonym key);
the operator for the audit trail comes from ``--operator`` or the login name. A personnummer
is read from a hidden prompt unless given, turned into a pseudonym at once and never printed.
"""

from __future__ import annotations

import csv
import io
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app
from nfcbridge.cli.params import READER_URL
from nfcbridge.cli.provision_cmd import provision
from nfcbridge.errors import ConfigError, VerificationFailed

if TYPE_CHECKING:
    from drivers.url import ReaderURL
    from provisioning.identity import Pseudonymizer
    from provisioning.registry import Registry


def open_registry(app: AppContext) -> Registry:
    from provisioning.quota import QuotaPolicy
    from provisioning.registry import Registry

    quota = app.settings.quota
    return Registry.open(
        app.settings.registry_url, policy=QuotaPolicy(quota.per_customer, quota.spare)
    )


def pseudonymizer(app: AppContext) -> Pseudonymizer:
    """The key from the configured file (or credential), created only at the default path."""
    from nfcbridge.config import read_secret
    from provisioning.errors import PseudonymKeyError
    from provisioning.identity import Pseudonymizer, load_key

    settings = app.settings
    configured = settings.registry.pseudonym_key_file
    key_name = "registry.pseudonym_key_file"
    try:
        if configured.startswith("credential:"):
            raw = read_secret(configured, file=settings.source, key=key_name)
            key = bytes.fromhex(raw.decode()) if _is_hex(raw) else raw
        else:
            key = load_key(settings.pseudonym_key_path, create=not configured)
        return Pseudonymizer(key, settings.registry.pseudonym_key_id)
    except PseudonymKeyError as exc:
        raise ConfigError(str(exc), file=settings.source, key=key_name) from None


def _is_hex(raw: bytes) -> bool:
    try:
        bytes.fromhex(raw.decode())
    except ValueError:
        return False
    return len(raw) >= 32


def _table(rows: list[dict[str, Any]], as_json: bool, as_csv: bool = False) -> None:
    if as_json:
        emit(rows, True)
        return
    if not rows:
        click.echo("(none)")
        return
    columns = list(rows[0])
    if as_csv:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        click.echo(out.getvalue(), nl=False)
        return
    cells = [[("" if r[c] is None else str(r[c])) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


# -- providers ------------------------------------------------------------------------------
@click.group("provider")
def provider() -> None:
    """Provider units (utförare): their quota policy, allowance and holdings."""


@provider.command("add")
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
@click.option("--per-customer", type=click.IntRange(min=0))
@click.option("--spare", type=click.IntRange(min=0))
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
    _table(rows, as_json)


@provider.command("show")
@click.argument("provider_id")
@json_option
@pass_app
def provider_show(app: AppContext, provider_id: str, as_json: bool) -> None:
    """One provider: policy, customers, tags held, allowance."""
    with open_registry(app) as reg:
        status = reg.provider(provider_id)
    emit(status.as_dict(), as_json)


# -- customers ------------------------------------------------------------------------------
@click.group("customer")
def customer() -> None:
    """Customers (brukare), known only by pseudonym or municipal id."""


@customer.command("add")
@click.option(
    "--personnummer",
    help="Personnummer or samordningsnummer (better: leave out and type it at the hidden "
    "prompt, so it stays out of the shell history).",
)
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
    if external_id:
        ref = external_ref(external_id)
    else:
        if not personnummer:
            personnummer = click.prompt("Personnummer", hide_input=True, err=True)
        ref = pseudonymizer(app).pseudonym(personnummer or "")
    with open_registry(app) as reg:
        reg.add_customer(ref, provider_id, operator=app.operator)
    emit({"customer": ref, "provider": provider_id}, as_json, ref)


@customer.command("move")
@click.argument("ref")
@click.option("--to", "to_provider", required=True, help="The new provider.")
@click.option("--reason", default="", help="Why, for the audit trail.")
@json_option
@pass_app
def customer_move(app: AppContext, ref: str, to_provider: str, reason: str, as_json: bool) -> None:
    """The customer changes provider; the tag on the door stays and now counts for the new one."""
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
    _table(rows, as_json)


# -- the lifecycle --------------------------------------------------------------------------
@click.command("pickup")
@click.option("--provider", "provider_id", required=True, help="The provider picking up.")
@click.option(
    "--count", type=click.IntRange(min=1), help="How many tags (from stock, oldest first)."
)
@click.option(
    "--reader",
    "reader_url",
    type=READER_URL,
    help="Scan each tag handed over on this reader instead.",
)
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="With --reader: stop after this many "
    "seconds without a tag (default [provisioning] tag_timeout). Enter stops too.",
)
@json_option
@pass_app
def pickup(
    app: AppContext,
    provider_id: str,
    count: int | None,
    reader_url: ReaderURL | None,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Hand tags to a provider within its allowance; prints the allowance before and after."""
    if reader_url is None and count is None:
        raise click.UsageError("give --count N, or --reader URL to scan the tags handed over")
    with open_registry(app) as reg:
        if reader_url is None:
            assert count is not None
            result = reg.pickup(provider_id, count, operator=app.operator)
            uids, before, after = result.uids, result.allowance_before, result.allowance_after
        else:
            before = reg.provider(provider_id).allowance
            wait = timeout if timeout is not None else app.settings.provisioning.tag_timeout
            uids = _scan_pickup(app, reg, provider_id, reader_url, count, wait)
            after = reg.provider(provider_id).allowance
    data = {
        "provider": provider_id,
        "uids": uids,
        "allowance_before": before,
        "allowance_after": after,
    }
    emit(
        data,
        as_json,
        f"provider {provider_id}: {len(uids)} tag(s) issued\n"
        + "".join(f"  {u}\n" for u in uids)
        + f"allowance before {before}, after {after}",
    )


def _scan_pickup(
    app: AppContext,
    reg: Registry,
    provider_id: str,
    url: ReaderURL,
    count: int | None,
    timeout: float,
) -> list[str]:
    """Issue each tag presented until --count, Enter, or *timeout* seconds without a tag."""
    from drivers import open_reader
    from drivers.errors import NoTag
    from provisioning.errors import QuotaExceeded, RegistryError

    issued: list[str] = []
    say = lambda text: click.echo(text, err=True)  # noqa: E731 - stdout stays for the result
    say(f"present each tag for {provider_id} on {url}; Enter or {timeout:g} s idle stops")
    with open_reader(url) as reader:
        idle_until = time.monotonic() + timeout
        while count is None or len(issued) < count:
            if _enter_pressed():
                break
            try:
                target = reader.wait_for_tag(timeout=0.2)
            except NoTag:
                if time.monotonic() >= idle_until:
                    break
                continue
            try:
                result = reg.pickup_tags(provider_id, [target.uid], operator=app.operator)
            except QuotaExceeded:
                if issued:
                    say(f"issued before the refusal: {', '.join(issued)}")
                raise
            except RegistryError as exc:
                say(f"refused {target.uid_hex}: {exc}")
                reader.signal(False)
            else:
                issued.extend(result.uids)
                reader.signal(True)
                say(f"issued {target.uid_hex} (allowance now {result.allowance_after})")
            reader.wait_for_removal(timeout)
            idle_until = time.monotonic() + timeout
    return issued


def _enter_pressed() -> bool:
    if not sys.stdin.isatty():
        return False
    import select

    ready, _, _ = select.select([sys.stdin], [], [], 0)
    if ready:
        sys.stdin.readline()
        return True
    return False


@click.command("attach")
@click.option("--tag", "uid", required=True, help="The tag's UID (hex).")
@click.option("--customer", "ref", required=True, help="psn:... (or a unique prefix) or ext:ID.")
@json_option
@pass_app
def attach(app: AppContext, uid: str, ref: str, as_json: bool) -> None:
    """Record that an issued tag is now on the customer's door."""
    with open_registry(app) as reg:
        reg.attach(uid, ref, operator=app.operator)
        record = reg.tag(uid)
    emit(record.as_dict(), as_json, f"tag {record.uid} active on {record.customer}")


@click.command("retire")
@click.option("--tag", "uid", required=True, help="The tag's UID (hex).")
@click.option("--reason", required=True, help="Lost, damaged, customer gone, ...")
@json_option
@pass_app
def retire(app: AppContext, uid: str, reason: str, as_json: bool) -> None:
    """Take a tag out of use for good; its UID is never used again."""
    with open_registry(app) as reg:
        reg.retire(uid, reason=reason, operator=app.operator)
        record = reg.tag(uid)
    emit(record.as_dict(), as_json, f"tag {record.uid} retired")


@click.command("history")
@click.argument("uid")
@json_option
@pass_app
def tag_history(app: AppContext, uid: str, as_json: bool) -> None:
    """Every state change of one tag, with who, when and why."""
    with open_registry(app) as reg:
        record = reg.tag(uid)
        entries = reg.history(uid)
    if as_json:
        emit({"tag": record.as_dict(), "history": [e.as_dict() for e in entries]}, True)
        return
    click.echo(
        f"tag {record.uid}: {record.state}"
        + (f", provider {record.provider}" if record.provider else "")
        + (f", customer {record.customer}" if record.customer else "")
    )
    for e in entries:
        extra = ", ".join(f"{k}={v}" for k, v in e.details.items() if v is not None)
        why = f" ({e.reason})" if e.reason else ""
        click.echo(f"  {e.seq:>6} {e.at} {e.operator}: {e.action}{why} {extra}".rstrip())


@click.command("report")
@click.argument("kind", type=click.Choice(["stock", "providers", "issued", "batches"]))
@click.option("--month", help="With issued: only this month (YYYY-MM).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV for spreadsheets and invoicing.")
@json_option
@pass_app
def report(app: AppContext, kind: str, month: str | None, as_csv: bool, as_json: bool) -> None:
    """Stock by state, providers' allowance and holdings, tags issued per provider per month."""
    from provisioning.reports import REPORTS, issued_report

    if month is not None and kind != "issued":
        raise click.UsageError("--month goes with the issued report")
    with open_registry(app) as reg:
        rows = issued_report(reg, month) if kind == "issued" else REPORTS[kind](reg)
    _table(rows, as_json, as_csv)


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
    """Recompute the chain; exit 10 at the first modified, missing or truncated row."""
    parsed = None
    if anchor:
        seq, _, digest = anchor.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise click.BadParameter("expected SEQ:HASH (64 hex digits)", param_hint="--anchor")
        parsed = (int(seq), digest.lower())
    with open_registry(app) as reg:
        result = reg.verify_audit(parsed)
    if as_json:
        emit(result.as_dict(), True)
    if not result.ok:
        raise VerificationFailed(
            f"audit chain broken at seq {result.first_bad_seq}: {result.problem}"
        )
    if not as_json:
        click.echo(f"audit chain ok: {result.rows} rows, head {result.head_seq}:{result.head_hash}")


COMMANDS: list[click.Command] = [provider, customer, pickup, attach, retire, report, audit_group]
COMMANDS.append(provision)
