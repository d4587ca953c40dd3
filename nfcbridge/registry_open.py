"""How a front end (the CLI, the web app) reaches the registry: opened from the settings,
and the pseudonym key.

The registry is opened from the settings (``[registry] url``, quota defaults). A
personnummer is turned into a pseudonym with the configured key at once and never printed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nfcbridge.config import Settings
from nfcbridge.errors import ConfigError

if TYPE_CHECKING:
    from provisioning.identity import Pseudonymizer
    from provisioning.registry import Registry


def open_registry(settings: Settings, url: str | None = None) -> Registry:
    """The registry at *url* (default: the configured one) with the configured quota and
    municipal rules (locking date, order lead time)."""
    from provisioning.months import MunicipalRules
    from provisioning.quota import QuotaPolicy
    from provisioning.registry import Registry

    if url is None and settings.registry.url == "none":
        raise ConfigError(
            'is "none" (the daemon runs without a registry): this command needs one',
            file=settings.source,
            key="registry.url",
        )
    quota, municipal = settings.quota, settings.municipal
    return Registry.open(
        url or settings.registry_url,
        policy=QuotaPolicy(quota.per_customer, quota.spare),
        rules=MunicipalRules(
            locking_working_days=municipal.locking_working_days,
            order_lead_working_days=municipal.order_lead_working_days,
        ),
    )


def pseudonymizer(settings: Settings) -> Pseudonymizer:
    """The key from the configured file (or credential), created only at the default path."""
    from nfcbridge.config import read_secret
    from provisioning.errors import PseudonymKeyError
    from provisioning.identity import Pseudonymizer, load_key

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
