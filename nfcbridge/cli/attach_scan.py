"""``attach --reader``: the tag in hand is read from the reader, and checked before the
registry records it on a door.

Checks, in order, all read-only (nothing is written to the tag, nothing to the registry
until they pass; ``Registry.attach`` then checks the registry state again under its locks):

- the registry knows the UID, it is ``issued`` and to the customer's provider;
- the chip is the one provisioned, by the spot check's chip checks
  (``provisioning.spot_check``): an NXP NTAG21x, a genuine originality signature (the
  emulator's test key only on a mock reader or when ``[provisioning]
  accept_test_signatures``), locked permanently, the NDEF message written at provisioning.

A failed check says what to do with the tag in hand (``TagNotAttachable``, exit 7).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from nfcbridge.cli.context import AppContext
from provisioning.errors import TransitionRefused

if TYPE_CHECKING:
    from drivers.ntag import Ntag21x
    from drivers.url import ReaderURL
    from provisioning.records import TagRecord
    from provisioning.registry import Registry


class TagNotAttachable(TransitionRefused):
    """The tag on the reader may not go on this customer's door (the message says why and
    what to do with it)."""


def scan_for_attach(
    app: AppContext, reg: Registry, url: ReaderURL, ref: str, timeout: float | None
) -> str:
    """The UID of the tag on *url*, once it passed every check for customer *ref*."""
    from drivers import open_reader
    from drivers.ntag import Ntag21x
    from nfcbridge.cli.tag_cmds import wait_saying

    customer = reg.customer(ref)
    wait = app.settings.provisioning.tag_timeout if timeout is None else timeout
    click.echo(
        f"attaching a tag for {customer.ref[:15]}... (provider {customer.provider})", err=True
    )
    with open_reader(url) as reader:
        target = wait_saying(reader, wait)
        record = reg.tag_status(target.uid)
        _check_registry(target.uid_hex, record, customer.provider)
        assert record is not None
        _check_chip(app, Ntag21x(reader, target), record, on_mock=url.scheme == "mock")
    return record.uid


def _check_registry(uid: str, record: TagRecord | None, provider: str) -> None:
    if record is None:
        raise TagNotAttachable(
            f"tag {uid} is not in the registry: it was never provisioned here; put it aside "
            "and take a tag from the provider's picked-up tags"
        )
    if record.state == "in_stock":
        raise TagNotAttachable(
            f"tag {uid} is still in stock: issue it to provider {provider} first "
            f"(`pickup --provider {provider} --reader ...`), then attach it"
        )
    if record.state == "active":
        raise TagNotAttachable(
            f"tag {uid} is already on the door of {record.customer}: it cannot go on a "
            "second door; take another tag"
        )
    if record.state in ("spoiled", "retired"):
        raise TagNotAttachable(
            f"tag {uid} is {record.state} and can never be used again: put it aside for "
            "disposal and take another tag"
        )
    if record.provider != provider:
        raise TagNotAttachable(
            f"tag {uid} was issued to provider {record.provider}, but the customer is with "
            f"provider {provider}: give it back to {record.provider} and take one of "
            f"{provider}'s tags"
        )


CHIP_REFUSALS = (  # the spot check's chip checks, as the reason a tag is not attached
    ("chip", "is not an NXP NTAG21x"),
    ("signature", "is not genuine"),
    ("lock", "is not locked as provisioned tags are (anyone could rewrite it)"),
    ("ndef", "does not hold what was written on it at provisioning"),
)


def _check_chip(app: AppContext, tag: Ntag21x, record: TagRecord, *, on_mock: bool) -> None:
    """The spot check's chip checks (``provisioning.spot_check``), nothing recorded."""
    from provisioning.batch_token import BatchSettings
    from provisioning.spot_check import FAIL, judge, read_chip

    settings = BatchSettings.from_settings(app.settings.provisioning)
    checks = judge(record, read_chip(tag), expected_customer=None, settings=settings,
                   on_mock=on_mock)  # fmt: skip
    failed = {c.name: c.detail for c in checks if c.status == FAIL}
    for name, why in CHIP_REFUSALS:
        if name in failed:
            detail = f" ({failed[name]})" if failed[name] else ""
            raise TagNotAttachable(
                f"tag {record.uid} {why}{detail}: put it aside and tell the service desk"
            )
