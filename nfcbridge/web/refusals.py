"""A registry refusal said in the page's language.

The rules live in the registry and raise in English for the CLI; the web app names the
refusals a person meets in their own words, with the figures the exception carries, and
keeps the registry's own sentence for the rest (prefixed, never dropped).
"""

from __future__ import annotations

from nfcbridge.web.i18n import gettext as _
from provisioning.errors import PeriodClosed, QuotaExceeded, RegistryError


def explain(exc: RegistryError) -> str:
    if isinstance(exc, PeriodClosed):
        return _(
            "Month %(month)s is closed: nothing dated in it can change any more. Use a date in an open month.",  # noqa: E501
            month=exc.month,
        )
    if isinstance(exc, QuotaExceeded):
        return _(
            "Refused: %(requested)s tags asked for, %(allowance)s allowed.",
            requested=exc.requested,
            allowance=max(exc.allowance, 0),
        )
    return _("Refused: %(reason)s", reason=str(exc).splitlines()[0])
