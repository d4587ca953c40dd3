"""How the CLI reaches the registry: the front-end-neutral ``nfcbridge.registry_open`` with
the command's settings.

The operator for the audit trail comes from ``--operator`` or the login name
(``AppContext.operator``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nfcbridge import registry_open
from nfcbridge.cli.context import AppContext

if TYPE_CHECKING:
    from provisioning.keys import KeyRing
    from provisioning.registry import Registry


def open_registry(app: AppContext, url: str | None = None, *, existing: bool = False) -> Registry:
    """The registry at *url* (default: the configured one) with the configured quota;
    *existing*: never create or migrate it."""
    return registry_open.open_registry(app.settings, url, existing=existing)


def pseudonymizer(app: AppContext, reg: Registry | None = None) -> KeyRing:
    """The configured key ring, checked against the registry (see ``registry_open``)."""
    return registry_open.pseudonymizer(app.settings, reg, operator=app.operator)


def named_customer(app: AppContext, ref: str | None, personnummer: str | None) -> str:
    """The customer reference a command was given: *ref* (``psn:...`` or a prefix of at least
    8 hex digits, ``ext:ID``) or the pseudonym of ``--personnummer`` (hidden prompt).

    A personnummer typed where a reference belongs is refused without echoing it.
    """
    import click

    from nfcbridge.cli.params import read_personnummer
    from provisioning.errors import InvalidIdentity
    from provisioning.identity import normalise_personnummer

    if ref and personnummer:
        raise click.UsageError("name the customer once: a reference or --personnummer, not both")
    if personnummer:
        return named_customer_by_personnummer(app, read_personnummer(personnummer))
    if not ref:
        raise click.UsageError(
            "name the customer: a reference (psn:..., ext:ID) or --personnummer (hidden prompt)"
        )
    try:
        normalise_personnummer(ref)
    except InvalidIdentity:
        return ref.strip()
    raise InvalidIdentity(
        "that is a personnummer, not a customer reference: give --personnummer without a "
        "value and type it at the hidden prompt"
    )


def named_customer_by_personnummer(app: AppContext, personnummer: str) -> str:
    """The reference of the person: under the current key, or the previous one while a
    rotation is under way (both resolve); the current key's pseudonym if not registered."""
    with open_registry(app) as reg:
        ring = pseudonymizer(app, reg)
        refs = ring.refs(personnummer)
        found = reg.find_customer(refs)
    return found.ref if found is not None else refs[0]
