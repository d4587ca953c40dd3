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
    from provisioning.identity import Pseudonymizer
    from provisioning.registry import Registry


def open_registry(app: AppContext, url: str | None = None) -> Registry:
    """The registry at *url* (default: the configured one) with the configured quota."""
    return registry_open.open_registry(app.settings, url)


def pseudonymizer(app: AppContext) -> Pseudonymizer:
    """The key from the configured file (or credential), created only at the default path."""
    return registry_open.pseudonymizer(app.settings)
