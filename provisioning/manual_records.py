"""Manual registrations in the registry's audit trail (``nfcbridge.manual`` makes them).

A manual registration is attributable to a staff member and a time like every change the
registry records; the audit row carries the note's reference and salted hash, never the
note, so purging the note later changes nothing that is hashed. Refused for an unknown
customer, a customer whose care had ended by then, and a time in a closed month.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from provisioning import audit
from provisioning.errors import TransitionRefused
from provisioning.months import today_in_sweden
from provisioning.records import TapContext
from provisioning.schema import customers

if TYPE_CHECKING:
    from provisioning.store import Store


class ManualMixin:
    store: Store

    if TYPE_CHECKING:

        def resolve_customer(self, ref: str) -> str: ...
        def _check_open(self, conn: Connection, day: dt.date, what: str) -> None: ...

    def record_manual(
        self,
        *,
        event_id: str,
        at: dt.datetime,
        kind: str,
        staff: str,
        customer: str,
        reason: str,
        note_ref: str,
        note_sha256: str,
    ) -> TapContext:
        """Audit one manual registration; returns the customer and its provider."""
        ref = self.resolve_customer(customer)
        day = today_in_sweden(at)
        with self.store.write() as conn:
            row = conn.execute(select(customers).where(customers.c.ref == ref)).one()
            if row.ended_on is not None and row.ended_on < day:
                raise TransitionRefused(
                    f"customer {ref} ended on {row.ended_on}; no visit on {day} can be registered"
                )
            self._check_open(conn, day, f"a manual registration for customer {ref}")
            details: dict[str, Any] = {
                "event_id": event_id,
                "kind": kind,
                "staff": staff,
                "at": audit.format_at(at),
                "provider": row.provider_id,
                "note_ref": note_ref,
                "note_sha256": note_sha256,
            }
            audit.append(
                conn,
                operator=f"staff:{staff}",
                action="registration.manual",
                subject=f"customer:{ref}",
                details=details,
                reason=reason,
            )
        return TapContext(state="active", customer=ref, provider=row.provider_id)

    def void_manual(self, *, event_id: str, staff: str, customer: str, why: str) -> None:
        """Record that the manual registration audited as *event_id* was never stored (the
        station's outbox refused it): the trail is append-only, so the earlier row stays and
        this one says it counts for nothing. The person is told and registers again.
        *customer* is the reference ``record_manual`` returned."""
        with self.store.write() as conn:
            audit.append(
                conn,
                operator=f"staff:{staff}",
                action="registration.manual.voided",
                subject=f"customer:{customer}",
                details={"event_id": event_id},
                reason=why[:200],
            )
