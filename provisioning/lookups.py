"""Read-only questions to the registry: tags, providers with their allowance, customers.

Each runs in one read transaction (deferred on SQLite: it never waits for the write lock).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select
from sqlalchemy.engine import Row

from provisioning import audit
from provisioning.errors import UnknownEntity
from provisioning.identity import is_customer_ref
from provisioning.quota import QuotaPolicy
from provisioning.records import CustomerRecord, ProviderStatus, TagRecord, TapContext, uid_hex
from provisioning.schema import customers, providers, sun_tags, tags
from provisioning.store import Store


def customer_status(row: Any) -> str:
    """ "ended", "lock" or "active" from a row with the customer's life columns."""
    if row.ended_on is not None:
        return "ended"
    if row.lock_installed_on is not None and row.lock_removed_on is None:
        return "lock"
    return "active"


def tag_record(row: Row[Any]) -> TagRecord:
    return TagRecord(
        uid=row.uid,
        state=row.state,
        product=row.product,
        batch=row.batch,
        provider=row.provider_id,
        customer=row.customer_ref,
        issued_to=row.issued_to,
        created_at=row.created_at,
        issued_at=row.issued_at,
        attached_at=row.attached_at,
        ended_at=row.ended_at,
        token=row.token,
        ndef_sha256=row.ndef_sha256,
    )


def policy_for(row: Row[Any], default: QuotaPolicy) -> tuple[QuotaPolicy, str]:
    if row.per_customer is None and row.spare is None:
        return default, "default"
    return (
        QuotaPolicy(
            per_customer=default.per_customer if row.per_customer is None else row.per_customer,
            spare=default.spare if row.spare is None else row.spare,
        ),
        "provider",
    )


def provider_status(conn: Connection, row: Row[Any], default: QuotaPolicy) -> ProviderStatus:
    """Counts and allowance of one provider, in the caller's transaction."""
    facts = customer_facts(conn, row.id).get(row.id, _NO_FACTS)
    held = tags_held(conn, row.id)
    return _status(row, default, facts, held)


_NO_FACTS = (0, 0, 0, 0, 0)


def _needs_tag() -> Any:
    """A customer needs a tag: not ended and no digital lock in place."""
    return and_(
        customers.c.ended_on.is_(None),
        or_(customers.c.lock_installed_on.is_(None), customers.c.lock_removed_on.is_not(None)),
    )


def _has_lock() -> Any:
    return and_(
        customers.c.ended_on.is_(None),
        customers.c.lock_installed_on.is_not(None),
        customers.c.lock_removed_on.is_(None),
    )


def customer_facts(
    conn: Connection, provider_id: str | None = None
) -> dict[str, tuple[int, int, int, int, int]]:
    """Per provider: customers, ended, with a lock, needing a tag, needing one without one."""

    def count_if(cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    query = (
        select(
            customers.c.provider_id,
            func.count(),
            count_if(customers.c.ended_on.is_not(None)),
            count_if(_has_lock()),
            count_if(_needs_tag()),
            count_if(and_(_needs_tag(), tags.c.uid.is_(None))),
        )
        .select_from(
            customers.outerjoin(
                tags, and_(tags.c.customer_ref == customers.c.ref, tags.c.state == "active")
            )
        )
        .group_by(customers.c.provider_id)
    )
    if provider_id is not None:
        query = query.where(customers.c.provider_id == provider_id)
    return {
        pid: (int(n), int(ended), int(lock), int(need), int(without))
        for pid, n, ended, lock, need, without in conn.execute(query)
    }


def tags_held(conn: Connection, provider_id: str | None = None) -> dict[tuple[str, str], int]:
    """(provider, "issued" | "active" | "collect") -> tags; "collect": active on a locked door."""
    query = (
        select(tags.c.provider_id, tags.c.state, func.count())
        .where(tags.c.state.in_(("issued", "active")))
        .group_by(tags.c.provider_id, tags.c.state)
    )
    collect = (
        select(tags.c.provider_id, func.count())
        .select_from(tags.join(customers, customers.c.ref == tags.c.customer_ref))
        .where(tags.c.state == "active", _has_lock())
        .group_by(tags.c.provider_id)
    )
    if provider_id is not None:
        query = query.where(tags.c.provider_id == provider_id)
        collect = collect.where(tags.c.provider_id == provider_id)
    held = {(pid, state): n for pid, state, n in conn.execute(query)}
    held.update({(pid, "collect"): n for pid, n in conn.execute(collect)})
    return held


def _status(
    row: Row[Any],
    default: QuotaPolicy,
    facts: tuple[int, int, int, int, int],
    held: dict[tuple[str, str], int],
) -> ProviderStatus:
    policy, source = policy_for(row, default)
    n_customers, ended, lock, needing, without = facts
    unattached = held.get((row.id, "issued"), 0)
    return ProviderStatus(
        id=row.id,
        name=row.name,
        per_customer=policy.per_customer,
        spare=policy.spare,
        policy_source=source,
        customers=n_customers,
        customers_without_tag=without,
        unattached=unattached,
        active=held.get((row.id, "active"), 0),
        allowance=policy.allowance(customers_without_tag=without, unattached=unattached),
        customers_ended=ended,
        customers_with_lock=lock,
        customers_needing_tag=needing,
        to_collect=held.get((row.id, "collect"), 0),
        kind=row.kind,
        price_per_tag=None if row.price_ore is None else format_sek(row.price_ore),
    )


def format_sek(ore: int) -> str:
    return f"{ore // 100}.{ore % 100:02d}"


class LookupMixin:
    store: Store
    policy: QuotaPolicy

    def tag_status(self, uid: bytes | str) -> TagRecord | None:
        key = uid_hex(uid)
        with self.store.read() as conn:
            row = conn.execute(select(tags).where(tags.c.uid == key)).first()
        return None if row is None else tag_record(row)

    def tag(self, uid: bytes | str) -> TagRecord:
        record = self.tag_status(uid)
        if record is None:
            raise UnknownEntity(f"no tag {uid_hex(uid)} in the registry")
        return record

    def tap_context(self, uid: bytes) -> TapContext | None:
        """State, customer, provider and the customer's status (ended, lock) of a tapped tag:
        one primary-key read joined to its customer."""
        key = uid.hex().upper()
        with self.store.read() as conn:
            row = conn.execute(
                select(
                    tags.c.state,
                    tags.c.customer_ref,
                    tags.c.provider_id,
                    customers.c.ref,
                    customers.c.ended_on,
                    customers.c.lock_installed_on,
                    customers.c.lock_removed_on,
                    sun_tags.c.key_version,
                )
                .select_from(
                    tags.outerjoin(customers, customers.c.ref == tags.c.customer_ref).outerjoin(
                        sun_tags, sun_tags.c.uid == tags.c.uid
                    )
                )
                .where(tags.c.uid == key)
            ).first()
        if row is None:
            return None
        return TapContext(
            state=row.state,
            customer=row.customer_ref,
            provider=row.provider_id,
            customer_status=None if row.ref is None else customer_status(row),
            sun_key_version=row.key_version,
        )

    def history(self, uid: bytes | str) -> list[audit.AuditEntry]:
        key = uid_hex(uid)
        with self.store.read() as conn:
            return list(audit.entries(conn, subject=f"tag:{key}"))

    def provider(self, provider_id: str) -> ProviderStatus:
        with self.store.read() as conn:
            row = conn.execute(select(providers).where(providers.c.id == provider_id)).first()
            if row is None:
                raise UnknownEntity(f"no provider {provider_id}")
            return provider_status(conn, row, self.policy)

    def providers(self) -> list[ProviderStatus]:
        """Every provider with counts, in a few grouped queries whatever their number."""
        with self.store.read() as conn:
            rows = conn.execute(select(providers).order_by(providers.c.id)).all()
            facts = customer_facts(conn)
            held = tags_held(conn)
        return [_status(row, self.policy, facts.get(row.id, _NO_FACTS), held) for row in rows]

    def resolve_customer(self, ref: str) -> str:
        """A full customer reference from itself or a unique prefix (at least 8 hex digits)."""
        ref = ref.strip()
        digits = ref.rsplit(":", 1)[-1]
        if ref.startswith("psn:") and ref.count(":") == 2 and len(digits) < 8:
            raise UnknownEntity(
                f"customer reference {ref} is too short: give at least 8 hex digits of the "
                "pseudonym (as `customer list` shows it), or find the customer by personnummer"
            )
        with self.store.read() as conn:
            if conn.execute(select(customers.c.ref).where(customers.c.ref == ref)).first():
                return ref
            if ref.startswith("psn:") and len(ref.rsplit(":", 1)[-1]) >= 8 and "%" not in ref:
                found = (
                    conn.execute(
                        select(customers.c.ref)
                        .where(customers.c.ref.startswith(ref, autoescape=True))
                        .limit(2)
                    )
                    .scalars()
                    .all()
                )
                if len(found) == 1:
                    return str(found[0])
                if len(found) > 1:
                    raise UnknownEntity(f"customer reference {ref} is ambiguous; give more digits")
        if not (is_customer_ref(ref) or ref.startswith("psn:")):
            # not echoed: a mistaken REF could be a personnummer
            raise UnknownEntity("no such customer: a reference is psn:<key>:<hex> or ext:<id>")
        raise UnknownEntity(f"no customer {ref}")

    def customer(self, ref: str) -> CustomerRecord:
        full = self.resolve_customer(ref)
        found = self._customers(customers.c.ref == full)
        return found[0]

    def customers(self, provider: str | None = None) -> list[CustomerRecord]:
        if provider is not None:
            self.provider(provider)  # UnknownEntity if absent
            return self._customers(customers.c.provider_id == provider)
        return self._customers(None)

    def _customers(self, where: Any) -> list[CustomerRecord]:
        query = (
            select(customers, tags.c.uid, tags.c.label)
            .select_from(
                customers.outerjoin(
                    tags, and_(tags.c.customer_ref == customers.c.ref, tags.c.state == "active")
                )
            )
            .order_by(customers.c.provider_id, customers.c.ref)
        )
        if where is not None:
            query = query.where(where)
        with self.store.read() as conn:
            return [
                CustomerRecord(
                    ref=row.ref,
                    provider=row.provider_id,
                    active_tag=row.uid,
                    created_at=row.created_at,
                    status=customer_status(row),
                    ended_on=row.ended_on,
                    end_reason=row.end_reason,
                    lock_installed_on=row.lock_installed_on
                    if row.lock_removed_on is None
                    else None,
                    household=row.household,
                    label=row.label,
                )
                for row in conn.execute(query)
            ]
