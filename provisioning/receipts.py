"""Pickup receipts, rebuilt from the audit trail so a receipt can be printed again later.

A pickup writes one ``tag.issued`` audit row per tag, all with the same time, operator and
provider. A receipt is named by the sequence number of its first row; it lists the UIDs and
carries the hash of its last row, which ``audit verify`` vouches for: the receipt cannot
claim tags the trail does not show.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from provisioning.errors import UnknownEntity
from provisioning.registry import Registry
from provisioning.schema import audit


@dataclass(frozen=True)
class PickupReceipt:
    first_seq: int
    at: str  # ISO 8601 UTC, as in the audit trail
    operator: str
    provider: str
    uids: tuple[str, ...]
    last_hash: str


def pickup_receipt(registry: Registry, first_seq: int) -> PickupReceipt:
    """The pickup whose first ``tag.issued`` row is *first_seq*."""
    import json

    with registry.store.read() as conn:
        rows = conn.execute(
            select(audit).where(audit.c.seq >= first_seq - 1).order_by(audit.c.seq).limit(10_000)
        )
        found: list[str] = []
        first = None
        last_hash = ""
        before = None
        for row in rows:
            details = json.loads(row.details)
            key = (row.at, row.operator, details.get("provider"))
            if row.seq == first_seq - 1:
                before = key if row.action == "tag.issued" else None
                continue
            if row.action != "tag.issued" or (first is None and key == before):
                break  # not a pickup, or the middle of one
            if first is None:
                first = key
            elif key != first:
                break
            found.append(row.subject.removeprefix("tag:"))
            last_hash = row.hash
    if first is None or first_seq < 1:
        raise UnknownEntity(f"no pickup starts at audit row {first_seq}")
    at, operator, provider = first
    return PickupReceipt(first_seq, at, operator, str(provider), tuple(found), last_hash)


def pickup_seq(registry: Registry, uid: str) -> int:
    """The audit row that issued *uid* (its latest pickup)."""
    seqs = [e.seq for e in registry.history(uid) if e.action == "tag.issued"]
    if not seqs:
        raise UnknownEntity(f"tag {uid} was never picked up")
    return seqs[-1]
