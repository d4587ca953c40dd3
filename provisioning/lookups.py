"""Read-only questions to the registry: tags, providers with their allowance, customers.

Each runs in one read transaction (deferred on SQLite: it never waits for the write lock).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, func, select
from sqlalchemy.engine import Row

from provisioning import audit
from provisioning.errors import UnknownEntity
from provisioning.identity import is_customer_ref
from provisioning.quota import QuotaPolicy
from provisioning.records import CustomerRecord, ProviderStatus, TagRecord, TapContext, uid_hex
from provisioning.schema import customers, providers, tags
from provisioning.store import Store


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
    pid = row.id
    n_customers = conn.execute(
        select(func.count()).select_from(customers).where(customers.c.provider_id == pid)
    ).scalar_one()
    by_state: dict[str, int] = dict(
        conn.execute(
            select(tags.c.state, func.count())
            .where(tags.c.provider_id == pid, tags.c.state.in_(("issued", "active")))
            .group_by(tags.c.state)
        ).all()
    )
    return _status(row, default, n_customers, by_state.get("issued", 0), by_state.get("active", 0))


def _status(
    row: Row[Any], default: QuotaPolicy, n_customers: int, unattached: int, active: int
) -> ProviderStatus:
    policy, source = policy_for(row, default)
    without = n_customers - active
    return ProviderStatus(
        id=row.id,
        name=row.name,
        per_customer=policy.per_customer,
        spare=policy.spare,
        policy_source=source,
        customers=n_customers,
        customers_without_tag=without,
        unattached=unattached,
        active=active,
        allowance=policy.allowance(customers_without_tag=without, unattached=unattached),
    )


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
        """State, customer and provider of a tapped tag: one primary-key read."""
        key = uid.hex().upper()
        with self.store.read() as conn:
            row = conn.execute(
                select(tags.c.state, tags.c.customer_ref, tags.c.provider_id).where(
                    tags.c.uid == key
                )
            ).first()
        if row is None:
            return None
        return TapContext(state=row.state, customer=row.customer_ref, provider=row.provider_id)

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
        """Every provider with counts, in three grouped queries whatever their number."""
        with self.store.read() as conn:
            rows = conn.execute(select(providers).order_by(providers.c.id)).all()
            n_customers: dict[str, int] = dict(
                conn.execute(
                    select(customers.c.provider_id, func.count()).group_by(customers.c.provider_id)
                ).all()
            )
            held: dict[tuple[str, str], int] = {
                (pid, state): n
                for pid, state, n in conn.execute(
                    select(tags.c.provider_id, tags.c.state, func.count())
                    .where(tags.c.state.in_(("issued", "active")))
                    .group_by(tags.c.provider_id, tags.c.state)
                )
            }
        return [
            _status(
                row,
                self.policy,
                n_customers.get(row.id, 0),
                held.get((row.id, "issued"), 0),
                held.get((row.id, "active"), 0),
            )
            for row in rows
        ]

    def resolve_customer(self, ref: str) -> str:
        """A full customer reference from itself or a unique prefix (at least 8 hex digits)."""
        ref = ref.strip()
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
                    return found[0]
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
            select(customers, tags.c.uid)
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
                )
                for row in conn.execute(query)
            ]
