"""The monthly invoice: tags picked up per provider in a calendar month in Swedish time.

Private providers are invoiced per tag picked up, at the price per tag in force at the
pickup (kept on the tag, so a later price change never alters a past month); municipal
providers are listed with their count and no amount. Pickups count for the provider that
picked the tag up (``issued_to``), whatever happened to the tag later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from provisioning.lookups import format_sek
from provisioning.months import STOCKHOLM, month_bounds_utc
from provisioning.schema import providers, tags

if TYPE_CHECKING:
    from provisioning.registry import Registry


def _in_month(month: str) -> Any:
    start, end = month_bounds_utc(month)
    return (tags.c.issued_at >= start) & (tags.c.issued_at < end)


def invoice_totals(conn: Connection, month: str) -> dict[str, int]:
    """Tags picked up per provider in *month*: the figures a closed month freezes."""
    rows = conn.execute(
        select(tags.c.issued_to, func.count())
        .where(tags.c.issued_to.is_not(None), _in_month(month))
        .group_by(tags.c.issued_to)
        .order_by(tags.c.issued_to)
    )
    return {pid: int(n) for pid, n in rows}


def invoice(registry: Registry, month: str) -> list[dict[str, Any]]:
    """One entry per provider with pickups in *month*: kind, tags (uid, date, operator)..."""
    with registry.store.read() as conn:
        provs = {r.id: r for r in conn.execute(select(providers))}
        picked = conn.execute(
            select(
                tags.c.issued_to,
                tags.c.uid,
                tags.c.issued_at,
                tags.c.issued_by,
                tags.c.issued_price_ore,
            )
            .where(tags.c.issued_to.is_not(None), _in_month(month))
            .order_by(tags.c.issued_to, tags.c.issued_at, tags.c.uid)
        ).all()
    out: dict[str, dict[str, Any]] = {}
    ore: dict[str, list[int]] = {}
    for pid, uid, at, by, price in picked:
        prow = provs[pid]
        entry = out.setdefault(
            pid,
            {
                "provider": pid,
                "name": prow.name,
                "kind": prow.kind,
                "price_per_tag": None,
                "count": 0,
                "amount": None,
                "tags": [],
            },
        )
        local = at.astimezone(STOCKHOLM)
        entry["tags"].append(
            {"uid": uid, "picked_up": local.isoformat(timespec="minutes"), "operator": by}
        )
        entry["count"] += 1
        if price is not None:
            ore.setdefault(pid, []).append(price)
            entry["tags"][-1]["price"] = format_sek(price)
    for pid, prices in ore.items():
        entry = out[pid]
        entry["kind"] = "private"  # it was, when these tags were picked up
        if len(set(prices)) == 1:
            entry["price_per_tag"] = format_sek(prices[0])
        entry["amount"] = format_sek(sum(prices))
    return [out[k] for k in sorted(out)]


def invoice_rows(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flat rows (one per tag) for CSV: provider, kind, uid, picked up, operator, price."""
    return [
        {
            "provider": e["provider"],
            "kind": e["kind"],
            "uid": t["uid"],
            "picked_up": t["picked_up"],
            "operator": t["operator"],
            "price": t.get("price", ""),
        }
        for e in entries
        for t in e["tags"]
    ]
