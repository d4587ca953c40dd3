"""A tag's life after provisioning: ``pickup`` (to a provider), ``attach`` (on a customer's
door) and ``retire`` (out of use for good); ``tag history`` is in ``tag_history``.

``pickup`` either takes tags from stock (``--count``) or issues each tag scanned on a
reader, so that the registry records exactly the tags handed over.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app
from nfcbridge.cli.params import READER_URL, personnummer_option, timeout_option
from nfcbridge.cli.registry_access import named_customer, open_registry

if TYPE_CHECKING:
    from drivers.url import ReaderURL
    from provisioning.registry import Registry


@click.command("pickup", short_help="Hand tags to a provider within its allowance.")
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
            fulfilled = result.orders_fulfilled
        else:
            fulfilled = []
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
    if fulfilled:
        data["orders_fulfilled"] = fulfilled
    emit(
        data,
        as_json,
        f"provider {provider_id}: {len(uids)} tag(s) issued\n"
        + "".join(f"  {u}\n" for u in uids)
        + f"allowance before {before}, after {after}"
        + (f"\norder(s) fulfilled: {', '.join(map(str, fulfilled))}" if fulfilled else ""),
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

    def say(text: str) -> None:  # stdout stays for the result
        click.echo(text, err=True)

    say(f"put each tag for {provider_id} on {url}; Enter or {timeout:g} s idle stops")
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
            if not reader.wait_for_removal(0.2):
                say("take the tag off the reader")
                if not reader.wait_for_removal(timeout):
                    say(f"the tag stayed on the reader for {timeout:g} s: scan stopped")
                    break
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


@click.command("attach", short_help="Put an issued tag on a customer's door.")
@click.option("--tag", "uid", help="The tag's UID (hex); or --reader to scan it.")
@click.option(
    "--reader",
    "reader_url",
    type=READER_URL,
    help="Read the tag in hand from this reader; its registry state and chip are checked "
    "before anything is recorded.",
)
@timeout_option
@click.option(
    "--customer",
    "ref",
    help="psn:... (or a unique prefix of at least 8 hex digits) or ext:ID.",
)
@personnummer_option
@click.option("--label", help="Name label or colour telling cohabitants' tags apart.")
@click.option("--force-reason", default="", help="Attach although the door has a digital lock.")
@json_option
@pass_app
def attach(
    app: AppContext,
    uid: str | None,
    reader_url: ReaderURL | None,
    timeout: float | None,
    ref: str | None,
    personnummer: str | None,
    label: str | None,
    force_reason: str,
    as_json: bool,
) -> None:
    """Record that an issued tag is now on the customer's door: the tag by --tag UID or
    scanned with --reader, the customer by --customer or --personnummer."""
    from nfcbridge.cli.attach_scan import scan_for_attach

    if (uid is None) == (reader_url is None):
        raise click.UsageError("give the tag: --tag UID, or --reader URL to scan it")
    ref = named_customer(app, ref, personnummer)
    with open_registry(app) as reg:
        if reader_url is not None:
            uid = scan_for_attach(app, reg, reader_url, ref, timeout)
        assert uid is not None
        reg.attach(uid, ref, operator=app.operator, label=label, force_reason=force_reason)
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
        before = reg.tag(uid)
        reg.retire(uid, reason=reason, operator=app.operator)
        record = reg.tag(uid)
    human = f"tag {record.uid} retired"
    if before.state == "active" and before.customer:  # the customer still needs a tag
        human += (
            f"\ncustomer {before.customer} still counts for quota; if care ended, run "
            f"`nfcbridge customer end {before.customer} --reason ... --on DATE`"
        )
    emit(record.as_dict(), as_json, human)


COMMANDS: list[click.Command] = [pickup, attach, retire]
