"""How the CLI reaches the registry: opened from the settings, and the pseudonym key.

The registry is opened from the settings (``[registry] url``, quota defaults); the operator
for the audit trail comes from ``--operator`` or the login name (``AppContext.operator``).
A personnummer is turned into a pseudonym with the configured key at once and never printed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nfcbridge.cli.context import AppContext
from nfcbridge.errors import ConfigError

if TYPE_CHECKING:
    from provisioning.identity import Pseudonymizer
    from provisioning.registry import Registry


def open_registry(app: AppContext, url: str | None = None) -> Registry:
    """The registry at *url* (default: the configured one) with the configured quota."""
    from provisioning.quota import QuotaPolicy
    from provisioning.registry import Registry

    quota = app.settings.quota
    return Registry.open(
        url or app.settings.registry_url, policy=QuotaPolicy(quota.per_customer, quota.spare)
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
        return pseudonymizer(app).pseudonym(read_personnummer(personnummer))
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
