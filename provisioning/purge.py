"""Retention: ended customers' pseudonyms leave the registry, the counts and the chain stay.

A customer has ended when ``customer end`` recorded an end date (``customers.ended_on``)
before the cut-off (``[registry] keep_ended_days``; Nacka keeps such records two years) and
no tag is active on it any more. Purging it, in one transaction:

- its row goes from ``customers`` (spot checks keep their result, not the customer); its
  tags stay (a UID is never reused) with no customer,
  so stock, issued-per-month and invoicing counts do not change;
- every audit row naming it (or a pseudonym it had before a key rotation) gets the
  pseudonym replaced by a random token (``purged:<hex>``, the same in all its rows so the
  trail still reads as one customer's history) and ``purged = 1``; the row keeps its
  original ``hash``, so the chain's links are untouched;
- one ``customer.purged`` audit row records, for each rewritten row, the hash of its new
  content: ``audit verify`` checks a purged row against that record instead of against its
  original hash, so a purged row edited later is still found.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, or_, select, update

from provisioning import audit
from provisioning.schema import audit as audit_table
from provisioning.schema import customers, spot_checks, tags
from provisioning.store import Store


@dataclass(frozen=True)
class PurgeResult:
    customers: int
    audit_rows: int
    dry_run: bool

    def as_dict(self) -> dict[str, Any]:
        return {"customers": self.customers, "audit_rows": self.audit_rows, "dry_run": self.dry_run}


def ended_customers(conn: Connection, before: dt.datetime) -> list[tuple[str, str]]:
    """(ref, provider) of customers that ended before *before* and hold no active tag."""
    active = exists().where(and_(tags.c.customer_ref == customers.c.ref, tags.c.state == "active"))
    query = (
        select(customers.c.ref, customers.c.provider_id)
        .where(~active, customers.c.ended_on.is_not(None), customers.c.ended_on < before.date())
        .order_by(customers.c.ref)
    )
    return [(row.ref, row.provider_id) for row in conn.execute(query)]


def _former_refs(conn: Connection, ref: str) -> set[str]:
    """*ref* and the pseudonyms it had before key rotations (``customer.rekeyed``)."""
    found, todo = {ref}, [ref]
    while todo:
        current = todo.pop()
        for details in conn.execute(
            select(audit_table.c.details).where(
                audit_table.c.action == "customer.rekeyed",
                audit_table.c.subject == f"customer:{current}",
            )
        ).scalars():
            old = json.loads(details).get("from")
            if old and old not in found:
                found.add(old)
                todo.append(old)
    return found


def _redact(conn: Connection, refs: set[str], token: str) -> dict[str, str]:
    """Replace *refs* by *token* in every audit row naming them; {seq: new content hash}."""
    naming = or_(
        *(audit_table.c.subject == f"customer:{r}" for r in refs),
        *(audit_table.c.details.contains(f'"{r}"', autoescape=True) for r in refs),
    )
    rewritten: dict[str, str] = {}
    for row in conn.execute(select(audit_table).where(naming).order_by(audit_table.c.seq)).all():
        subject, details = row.subject, row.details
        for r in sorted(refs, key=len, reverse=True):
            subject = subject.replace(r, token)
            details = details.replace(f'"{r}"', f'"{token}"')
        conn.execute(
            update(audit_table)
            .where(audit_table.c.seq == row.seq)
            .values(subject=subject, details=details, purged=1)
        )
        rewritten[str(row.seq)] = audit.row_hash(
            seq=row.seq, at=row.at, operator=row.operator, action=row.action, subject=subject,
            details=details, reason=row.reason, prev_hash=row.prev_hash, os_user=row.os_user,
        )  # fmt: skip
    return rewritten


class PurgeMixin:
    store: Store

    def purge_customers(
        self, *, before: dt.datetime, operator: str, dry_run: bool = False
    ) -> PurgeResult:
        """Purge the customers that ended before *before* (see the module docstring)."""
        with self.store.write() as conn:
            ended = ended_customers(conn, before)
            rows = 0
            for ref, provider in ended:
                refs = _former_refs(conn, ref)
                if dry_run:
                    continue
                token = f"purged:{secrets.token_hex(6)}"
                rewritten = _redact(conn, refs, token)
                rows += len(rewritten)
                conn.execute(
                    update(tags).where(tags.c.customer_ref.in_(refs)).values(customer_ref=None)
                )
                conn.execute(
                    update(spot_checks)
                    .where(spot_checks.c.customer_ref.in_(refs))
                    .values(customer_ref=None)
                )
                conn.execute(delete(customers).where(customers.c.ref.in_(refs)))
                audit.append(
                    conn,
                    operator=operator,
                    action="customer.purged",
                    subject=f"customer:{token}",
                    details={"provider": provider, "rows": rewritten},
                )
        if rows:
            self.store.compact_wal()
        return PurgeResult(len(ended), rows, dry_run)
