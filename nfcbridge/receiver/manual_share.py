"""Manual registrations in the receiver's report: each one listed, and each provider's share
of manual registrations per calendar month (Swedish time) against a limit (Nacka: 10%).

A registration is a payable tap (one that may be half a visit) or a manual registration;
the share is manual / all registrations of the provider in the month. A provider above the
limit is flagged: one that tends not to use receipts is followed up.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from provisioning.months import month_of

DEFAULT_LIMIT = 10.0  # percent


def manual_entry(event: dict[str, Any], at_iso: str, provider: str) -> dict[str, Any]:
    m = event["manual"]
    return {
        "kind": m["kind"],
        "staff": m["staff"],
        "customer": m["customer"],
        "provider": provider,
        "reason": m["reason"],
        "at": at_iso,
        "note_ref": m["note_ref"],
        "event_id": event["event_id"],
    }


def manual_share(
    registrations: list[tuple[Any, str, bool]], limit: float = DEFAULT_LIMIT
) -> list[dict[str, Any]]:
    """Rows per (month, provider) from (moment, provider, is_manual) triples."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for moment, provider, is_manual in registrations:
        entry = counts[(month_of(moment), provider)]
        entry[0] += 1
        entry[1] += is_manual
    rows = []
    for (month, provider), (total, manual) in sorted(counts.items()):
        share = round(100.0 * manual / total, 1)
        rows.append(
            {
                "month": month,
                "provider": provider,
                "registrations": total,
                "manual": manual,
                "share_percent": share,
                "limit_percent": limit,
                "over_limit": share > limit,
            }
        )
    return rows
