"""Reading dates and months from forms; today as the municipality counts it (Sweden)."""

from __future__ import annotations

import datetime as dt

from flask import flash, request

from nfcbridge.web.i18n import gettext as _
from provisioning.errors import UnknownEntity
from provisioning.months import month_of, parse_month, today_in_sweden


def today() -> dt.date:
    return today_in_sweden(dt.datetime.now(dt.UTC))


def form_date(name: str) -> dt.date | None:
    """The date in form field *name* (YYYY-MM-DD), or None with a message."""
    try:
        return dt.date.fromisoformat(request.form.get(name, "").strip())
    except ValueError:
        flash(_("A date is written YYYY-MM-DD."), "error")
        return None


def chosen_month(default: str | None = None) -> str | None:
    """The month in the ``month`` field or argument (YYYY-MM); this month when absent."""
    text = request.values.get("month", "").strip() or default or month_of(today())
    try:
        year, month = parse_month(text)
    except UnknownEntity:
        flash(_("A month is written YYYY-MM."), "error")
        return None
    return f"{year:04d}-{month:02d}"
