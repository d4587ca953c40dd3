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
