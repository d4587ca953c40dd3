"""A customer's life around the tag: home care ends, a digital lock replaces the tag,
cohabitants share a door.

- ``end_customer``: the customer stops counting for quota; the tag on the door is retired
  (final, with the end reason) or, when a cohabitant of the same household goes on using
  the door and has no tag of their own, passes to that cohabitant's record.
- ``set_lock``: a digital lock (trygghetslås) gives the receipt; the customer needs no tag
  and does not count for quota. A tag still on that door is listed for collection
  (``to_collect``). Attaching a tag to such a customer is refused unless forced with a reason.
- ``link_household``: cohabitants (sammanboende) each keep their own tag; linked as one
  household, the desk sees which doors carry two tags and their labels or colours.

Every change is dated (``--on``/``--installed``/``--removed``), refused when the date falls in
a closed month, audited, and takes the provider's lock so quota never sees half of it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, select, update
from sqlalchemy.engine import Row

from provisioning import audit
from provisioning.errors import TransitionRefused
from provisioning.schema import customers, tags

if TYPE_CHECKING:
    from collections.abc import Iterable

    from provisioning.store import Store

END_REASONS = ("died", "moved_away", "care_home", "declined", "other")


def check_attach_allowed(person: Row[Any], force_reason: str) -> None:
    """Refuse a tag for an ended customer, and for one with a lock unless forced with why."""
    if person.ended_on is not None:
        raise TransitionRefused(
            f"customer {person.ref} ended on {person.ended_on} ({person.end_reason}); "
            "no tag is attached to an ended customer"
        )
    has_lock = person.lock_installed_on is not None and person.lock_removed_on is None
    if has_lock and not force_reason.strip():
        raise TransitionRefused(
            f"customer {person.ref} has a digital lock since {person.lock_installed_on} "
            "and needs no tag (force with a reason if the lock cannot be used)"
        )


class CustomerLifeMixin:
    store: Store

    if TYPE_CHECKING:  # provided by Registry, LookupMixin and PeriodMixin

        def resolve_customer(self, ref: str) -> str: ...
        def _lock_providers(self, conn: Connection, ids: Iterable[str]) -> dict[str, Row[Any]]: ...
        def _retire_in(self, conn: Connection, key: str, *, reason: str, operator: str) -> None: ...
        def _check_open(self, conn: Connection, day: dt.date, what: str) -> None: ...

    def end_customer(
        self,
        ref: str,
        *,
        reason: str,
        on: dt.date,
        operator: str,
        keep_tag_for: str | None = None,
        note: str = "",
    ) -> dict[str, Any]:
        """End home care for a customer; returns what happened to the tag on the door."""
        if reason not in END_REASONS:
            raise TransitionRefused(
                f"end reason {reason!r} unknown (one of {', '.join(END_REASONS)})"
            )
        ref = self.resolve_customer(ref)
        heir = self.resolve_customer(keep_tag_for) if keep_tag_for else None
        with self.store.write() as conn:
            person = self._customer_row(conn, ref)
            other = self._customer_row(conn, heir) if heir else None
            self._lock_providers(
                conn, [person.provider_id] + ([other.provider_id] if other else [])
            )
            person = self._customer_row(conn, ref, lock=True)
            other = self._customer_row(conn, heir, lock=True) if heir else None
            if person.ended_on is not None:
                raise TransitionRefused(f"customer {ref} already ended on {person.ended_on}")
            self._check_open(conn, on, f"ending customer {ref}")
            conn.execute(
                update(customers)
                .where(customers.c.ref == ref)
                .values(ended_on=on, end_reason=reason)
            )
            tag = conn.execute(
                select(tags.c.uid).where(tags.c.customer_ref == ref, tags.c.state == "active")
            ).scalar()
            audit.append(
                conn,
                operator=operator,
                action="customer.ended",
                subject=f"customer:{ref}",
                details={"on": on.isoformat(), "reason": reason, "tag": tag},
                reason=note.strip() or reason,
            )
            outcome = None
            if other is not None:
                if tag is None:
                    raise TransitionRefused(f"customer {ref} has no tag to keep for {heir}")
                self._pass_tag(conn, tag, person, other, operator)
                outcome = f"kept for {heir}"
            elif tag is not None:
                self._retire_in(conn, tag, reason=f"customer ended: {reason}", operator=operator)
                outcome = "retired"
        return {
            "customer": ref,
            "ended_on": on.isoformat(),
            "reason": reason,
            "tag": tag,
            "tag_outcome": outcome,
        }

    def set_lock(
        self,
        ref: str,
        *,
        installed: dt.date | None = None,
        removed: dt.date | None = None,
        operator: str,
    ) -> dict[str, Any]:
        """Record a digital lock installed or removed; returns the tag to collect, if any."""
        if (installed is None) == (removed is None):
            raise TransitionRefused("give the date the lock was installed or removed")
        ref = self.resolve_customer(ref)
        with self.store.write() as conn:
            person = self._customer_row(conn, ref)
            self._lock_providers(conn, [person.provider_id])
            person = self._customer_row(conn, ref, lock=True)
            if person.ended_on is not None:
                raise TransitionRefused(f"customer {ref} ended on {person.ended_on}")
            has_lock = person.lock_installed_on is not None and person.lock_removed_on is None
            day = installed or removed
            assert day is not None
            if installed is not None and has_lock:
                raise TransitionRefused(
                    f"customer {ref} already has a lock since {person.lock_installed_on}"
                )
            if removed is not None:
                if not has_lock:
                    raise TransitionRefused(f"customer {ref} has no digital lock on record")
                if removed < person.lock_installed_on:
                    raise TransitionRefused(
                        f"the lock was installed on {person.lock_installed_on}, after {removed}"
                    )
            self._check_open(conn, day, f"the lock of customer {ref}")
            values = (
                {"lock_installed_on": installed, "lock_removed_on": None}
                if installed is not None
                else {"lock_removed_on": removed}
            )
            conn.execute(update(customers).where(customers.c.ref == ref).values(**values))
            tag = conn.execute(
                select(tags.c.uid).where(tags.c.customer_ref == ref, tags.c.state == "active")
            ).scalar()
            action = "customer.lock_installed" if installed else "customer.lock_removed"
            audit.append(
                conn,
                operator=operator,
                action=action,
                subject=f"customer:{ref}",
                details={"on": day.isoformat(), "tag": tag},
            )
        return {
            "customer": ref,
            "lock": "installed" if installed else "removed",
            "on": day.isoformat(),
            "tag_to_collect": tag if installed else None,
        }

    def link_household(self, refs: list[str], *, operator: str) -> str:
        """Link cohabitants as one household (keeps an existing household's id)."""
        full = sorted({self.resolve_customer(r) for r in refs})
        if len(full) < 2:
            raise TransitionRefused("a household links at least two different customers")
        with self.store.write() as conn:
            rows = [self._customer_row(conn, r, lock=True) for r in full]
            existing = sorted({r.household for r in rows if r.household})
            if len(existing) > 1:
                raise TransitionRefused(
                    f"these customers are in different households ({', '.join(existing)})"
                )
            household = existing[0] if existing else f"h-{uuid.uuid4().hex[:10]}"
            conn.execute(
                update(customers).where(customers.c.ref.in_(full)).values(household=household)
            )
            audit.append(
                conn,
                operator=operator,
                action="household.linked",
                subject=f"household:{household}",
                details={"customers": full},
            )
        return household

    def to_collect(self, provider: str | None = None) -> list[dict[str, Any]]:
        """Active tags on doors that now have a digital lock: to be taken down and retired."""
        query = (
            select(tags.c.uid, tags.c.provider_id, customers.c.ref, customers.c.lock_installed_on)
            .select_from(tags.join(customers, customers.c.ref == tags.c.customer_ref))
            .where(
                tags.c.state == "active",
                and_(
                    customers.c.lock_installed_on.is_not(None),
                    customers.c.lock_removed_on.is_(None),
                ),
            )
            .order_by(tags.c.provider_id, customers.c.lock_installed_on, tags.c.uid)
        )
        if provider is not None:
            query = query.where(tags.c.provider_id == provider)
        with self.store.read() as conn:
            return [
                {
                    "uid": r.uid,
                    "provider": r.provider_id,
                    "customer": r.ref,
                    "lock_installed_on": r.lock_installed_on.isoformat(),
                }
                for r in conn.execute(query)
            ]

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _customer_row(conn: Connection, ref: str, *, lock: bool = False) -> Row[Any]:
        query = select(customers).where(customers.c.ref == ref)
        return conn.execute(query.with_for_update() if lock else query).one()

    @staticmethod
    def _pass_tag(
        conn: Connection, tag: str, person: Row[Any], other: Row[Any], operator: str
    ) -> None:
        if not person.household or person.household != other.household:
            raise TransitionRefused(
                f"customer {other.ref} is not in customer {person.ref}'s household "
                "(link them first: customer household)"
            )
        if other.ended_on is not None:
            raise TransitionRefused(f"customer {other.ref} ended on {other.ended_on}")
        has = conn.execute(
            select(tags.c.uid).where(tags.c.customer_ref == other.ref, tags.c.state == "active")
        ).scalar()
        if has is not None:
            raise TransitionRefused(
                f"customer {other.ref} already has active tag {has} (one tag per customer)"
            )
        conn.execute(
            update(tags)
            .where(tags.c.uid == tag)
            .values(customer_ref=other.ref, provider_id=other.provider_id)
        )
        audit.append(
            conn,
            operator=operator,
            action="tag.kept_for_cohabitant",
            subject=f"tag:{tag}",
            details={"from": person.ref, "to": other.ref, "provider": other.provider_id},
        )
