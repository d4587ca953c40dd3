"""Reports: stock, providers (allowance and holdings), issued per provider per month, batches.

Each report is a list of flat dicts (one per row) so the CLI can print it as a table, JSON
or CSV without knowing what is in it. "Issued" counts pickups by the provider that picked
the tag up (``issued_to``) in the month of the pickup: what some municipalities invoice,
unaffected by later moves, attachments or retirements.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import func, or_, select

from provisioning.errors import UnknownEntity
from provisioning.registry import Registry
from provisioning.schema import STATES, tags

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def check_month(month: str) -> None:
    """``UnknownEntity`` unless *month* is YYYY-MM."""
    if not _MONTH.match(month):
        raise UnknownEntity(f"month must be YYYY-MM, not {month!r}")


def stock_report(registry: Registry) -> list[dict[str, Any]]:
    """How many tags are in each state."""
    with registry.store.read() as conn:
        counts: dict[str, int] = dict(
            conn.execute(select(tags.c.state, func.count()).group_by(tags.c.state)).all()
        )
    return [{"state": state, "tags": counts.get(state, 0)} for state in STATES]


def providers_report(registry: Registry) -> list[dict[str, Any]]:
    return [p.as_dict() for p in registry.providers()]


def issued_report(registry: Registry, month: str | None = None) -> list[dict[str, Any]]:
    """Tags issued per provider per month (YYYY-MM), oldest month first."""
    query = (
        select(tags.c.issued_month, tags.c.issued_to, func.count())
        .where(tags.c.issued_month.is_not(None))
        .group_by(tags.c.issued_month, tags.c.issued_to)
        .order_by(tags.c.issued_month, tags.c.issued_to)
    )
    if month is not None:
        check_month(month)
        query = query.where(tags.c.issued_month == month)
    with registry.store.read() as conn:
        return [
            {"month": m, "provider": provider, "issued": n}
            for m, provider, n in conn.execute(query)
        ]


def stock_history(registry: Registry, months: int = 12) -> list[dict[str, Any]]:
    """Tags in stock at the end of each of the last *months* months (UTC), from the tags'
    own dates: provisioned (``created_at``) and not yet issued or ended by then."""
    now = dt.datetime.now(dt.UTC)
    ends: list[tuple[str, dt.datetime]] = []
    year, month = now.year, now.month
    for _ in range(months):
        label = f"{year:04d}-{month:02d}"
        nxt = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=dt.UTC)
        ends.append((label, min(nxt, now)))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    rows = []
    with registry.store.read() as conn:
        for label, end in reversed(ends):
            in_stock = conn.execute(
                select(func.count())
                .select_from(tags)
                .where(
                    tags.c.state != "spoiled",
                    tags.c.created_at < end,
                    or_(tags.c.issued_at.is_(None), tags.c.issued_at >= end),
                    or_(tags.c.ended_at.is_(None), tags.c.ended_at >= end),
                )
            ).scalar_one()
            rows.append({"month": label, "in_stock": in_stock})
    return rows


def batches_report(registry: Registry) -> list[dict[str, Any]]:
    return [{k: v for k, v in b.as_dict().items() if k != "resumed"} for b in registry.batches()]


REPORTS = {
    "stock": stock_report,
    "providers": providers_report,
    "issued": issued_report,
    "batches": batches_report,
}
