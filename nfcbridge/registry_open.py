"""How a front end (the CLI, the web app) reaches the registry: opened from the settings,
and the pseudonym key.

The registry is opened from the settings (``[registry] url`` with the password from
``password_file``, quota defaults). A personnummer is turned into a pseudonym with the
configured key at once and never printed; the key is checked against the one the registry
recorded for its id (``provisioning.keys``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nfcbridge.config import Settings
from nfcbridge.errors import ConfigError

if TYPE_CHECKING:
    from provisioning.keys import KeyRing
    from provisioning.registry import Registry


def open_registry(
    settings: Settings, url: str | None = None, *, existing: bool = False
) -> Registry:
    """The registry at *url* (default: the configured one) with the configured quota and
    municipal rules (locking date, order lead time); *existing*: never create or migrate it
    (``provisioning.store.open_store``)."""
    from nfcbridge.config import registry_connect_url
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
        url or registry_connect_url(settings),
        policy=QuotaPolicy(quota.per_customer, quota.spare),
        rules=MunicipalRules(
            locking_working_days=municipal.locking_working_days,
            order_lead_working_days=municipal.order_lead_working_days,
        ),
        existing=existing,
    )


def pseudonymizer(
    settings: Settings, reg: Registry | None = None, *, operator: str = "nfcbridge"
) -> KeyRing:
    """The configured key (and the previous one in a rotation), checked against the registry
    *reg* (default: opened here). ``.pseudonym(text)`` gives the current key's pseudonym.

    A missing, different or world-readable key is a configuration error (exit 3).
    """
    from provisioning.errors import PseudonymKeyError
    from provisioning.identity import Pseudonymizer
    from provisioning.keys import KeyRing, open_key

    if reg is None:
        with open_registry(settings) as opened:
            return pseudonymizer(settings, opened, operator=operator)
    conf = settings.registry
    key_name = "registry.pseudonym_key_file"
    default = None if conf.pseudonym_key_file else settings.pseudonym_key_path
    try:
        reference = conf.pseudonym_key_file or str(settings.pseudonym_key_path)
        current = open_key(
            reg.store, reference, conf.pseudonym_key_id, operator=operator, create_at=default
        )
        previous: tuple[Pseudonymizer, ...] = ()
        if conf.previous_key_id:
            key_name = "registry.previous_key_file"
            previous = (
                open_key(
                    reg.store, conf.previous_key_file, conf.previous_key_id, operator=operator
                ),
            )
        return KeyRing(current, previous)
    except PseudonymKeyError as exc:
        message = str(exc)
        legacy = settings.data_dir / "pseudonym.key"  # the default before it moved out
        if default is not None and legacy.exists() and not default.exists():
            message += f"; the default moved out of the data directory: move {legacy} to {default}"
        raise ConfigError(message, file=settings.source, key=key_name) from None
