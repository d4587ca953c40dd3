"""The one time format of everything nfcbridge writes: ISO 8601 in UTC with a ``Z``.

Events, control requests, reports and status say ``2026-11-24T07:58:12.345Z`` (milliseconds);
status and outbox listings, which show when something happened to a person, say
``2026-11-24T07:58:12Z``. (The registry's audit trail keeps its own microsecond format in
``provisioning.audit``: it is hashed, so it can never change.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

Precision = Literal["seconds", "milliseconds"]


def utc_iso(moment: datetime, precision: Precision = "milliseconds") -> str:
    """*moment* (aware) in UTC: ``2026-11-24T07:58:12.345Z`` (or without the milliseconds)."""
    text = moment.astimezone(UTC).isoformat(timespec=precision)
    return text.removesuffix("+00:00") + "Z"


def timestamp_iso(ts: float | None, precision: Precision = "seconds") -> str | None:
    """A Unix time as ``utc_iso`` text; None stays None."""
    return None if ts is None else utc_iso(datetime.fromtimestamp(ts, UTC), precision)


def parse_iso(text: str) -> datetime:
    """``...Z`` or ``...+01:00`` -> an aware datetime (a naive one stays naive)."""
    return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
