"""The registry: providers, customers and the tag lifecycle.

::

    (blank) --record_provisioned--> in_stock --pickup--> issued(provider)
    issued --attach--> active(customer)
    in_stock | issued | active --retire--> retired           (lost, damaged, customer gone)
    provisioning failed after something irreversible --record_spoiled--> spoiled
    spoiled, retired: final. A UID is never deleted, so it is unique forever.

``in_stock -> retired`` is allowed: a tag lost or damaged at the desk must leave the stock
with a reason, and it can never be provisioned again.

Locks, always in this order so two transactions cannot deadlock: provider rows (sorted by
id), then tag or customer rows, then the audit head. Every write that changes a provider's
counts locks that provider, so the allowance a pickup computes cannot change under it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Self

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from provisioning import audit
from provisioning.customer_life import CustomerLifeMixin, check_attach_allowed
from provisioning.errors import (
    DuplicateEntity,
    InvalidInput,
    TransitionRefused,
    UnknownEntity,
)
from provisioning.identity import is_customer_ref, refuse_personnummer
from provisioning.intake import IntakeMixin
from provisioning.keys import RotationMixin
from provisioning.lookups import LookupMixin, provider_status
from provisioning.manual_records import ManualMixin
from provisioning.months import MunicipalRules, month_of
from provisioning.orders import OrderMixin, fulfil_orders
from provisioning.periods import PeriodMixin
from provisioning.purge import PurgeMixin
from provisioning.quota import QuotaPolicy, check_pickup
from provisioning.records import PickupResult, ProviderStatus, uid_hex
from provisioning.schema import FINAL_STATES, customers, providers, tags
from provisioning.store import Store, open_store
from provisioning.sun_tags import SunTagMixin

_PROVIDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Registry(
    IntakeMixin,
    LookupMixin,
    CustomerLifeMixin,
    PeriodMixin,
    OrderMixin,
    ManualMixin,
    SunTagMixin,
    RotationMixin,
    PurgeMixin,
):
    def __init__(
        self,
        store: Store,
        policy: QuotaPolicy | None = None,
        rules: MunicipalRules | None = None,
    ) -> None:
        self.store = store
        self.policy = policy or QuotaPolicy()
        self.rules = rules or MunicipalRules()

    @classmethod
    def open(
        cls,
        url: str,
        *,
        policy: QuotaPolicy | None = None,
        rules: MunicipalRules | None = None,
        migrate: bool = True,
        existing: bool = False,
    ) -> Self:
        return cls(open_store(url, migrate=migrate, existing=existing), policy, rules)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- providers --------------------------------------------------------------------------
    def add_provider(
        self,
        provider_id: str,
        name: str,
        *,
        operator: str,
        per_customer: int | None = None,
        spare: int | None = None,
    ) -> ProviderStatus:
        refuse_personnummer(provider_id, "the provider id")
        refuse_personnummer(name, "the provider name")
        if not _PROVIDER_ID.match(provider_id):
            raise InvalidInput(
                f"invalid provider id {provider_id!r} (letters, digits, _ . -; at most 64)"
            )
        QuotaPolicy(per_customer or 0, spare or 0)  # InvalidInput on negatives
        try:
            with self.store.write() as conn:
                conn.execute(
                    insert(providers).values(
                        id=provider_id,
                        name=name,
                        per_customer=per_customer,
                        spare=spare,
                        created_at=audit.utc_now(),
                    )
                )
                audit.append(
                    conn,
                    operator=operator,
                    action="provider.added",
                    subject=f"provider:{provider_id}",
                    details={"name": name, "per_customer": per_customer, "spare": spare},
                )
        except IntegrityError:
            raise DuplicateEntity(f"provider {provider_id} already exists") from None
        return self.provider(provider_id)

    def set_policy(
        self,
        provider_id: str,
        *,
        per_customer: int | None,
        spare: int | None,
        operator: str,
        reason: str = "",
    ) -> ProviderStatus:
        """Give a provider its own quota policy; None for both returns it to the default."""
        QuotaPolicy(per_customer or 0, spare or 0)
        with self.store.write() as conn:
            old = self._lock_providers(conn, [provider_id])[provider_id]
            conn.execute(
                update(providers)
                .where(providers.c.id == provider_id)
                .values(per_customer=per_customer, spare=spare)
            )
            audit.append(
                conn,
                operator=operator,
                action="provider.policy",
                subject=f"provider:{provider_id}",
                details={
                    "from": {"per_customer": old.per_customer, "spare": old.spare},
                    "to": {"per_customer": per_customer, "spare": spare},
                },
                reason=reason,
            )
        return self.provider(provider_id)

    def set_billing(
        self, provider_id: str, *, kind: str, price_ore: int | None, operator: str
    ) -> ProviderStatus:
        """Municipal (no invoice) or private with a price per tag in öre (audited)."""
        if kind not in ("municipal", "private"):
            raise TransitionRefused(f"provider kind {kind!r}: municipal or private")
        if kind == "private" and (price_ore is None or price_ore < 0):
            raise TransitionRefused("a private provider needs a price per tag (0 or more)")
        if kind == "municipal":
            price_ore = None
        with self.store.write() as conn:
            old = self._lock_providers(conn, [provider_id])[provider_id]
            conn.execute(
                update(providers)
                .where(providers.c.id == provider_id)
                .values(kind=kind, price_ore=price_ore)
            )
            audit.append(
                conn,
                operator=operator,
                action="provider.billing",
                subject=f"provider:{provider_id}",
                details={
                    "from": {"kind": old.kind, "price_ore": old.price_ore},
                    "to": {"kind": kind, "price_ore": price_ore},
                },
            )
        return self.provider(provider_id)

    # -- customers --------------------------------------------------------------------------
    def add_customer(self, ref: str, provider_id: str, *, operator: str) -> str:
        """Register a customer by reference (``psn:...`` from identity, or ``ext:...``)."""
        if ref.startswith("ext:"):
            refuse_personnummer(ref, "the external customer id")
        if not is_customer_ref(ref):
            raise InvalidInput("not a customer reference (psn:<key>:<hex> or ext:<id>)")
        with self.store.write() as conn:
            self._lock_providers(conn, [provider_id])
            owner = conn.execute(
                select(customers.c.provider_id).where(customers.c.ref == ref)
            ).scalar()
            if owner is not None:
                raise DuplicateEntity(f"customer {ref} already exists (provider {owner})")
            conn.execute(
                insert(customers).values(
                    ref=ref, provider_id=provider_id, created_at=audit.utc_now()
                )
            )
            audit.append(
                conn,
                operator=operator,
                action="customer.added",
                subject=f"customer:{ref}",
                details={"provider": provider_id},
            )
        return ref

    def move_customer(self, ref: str, to_provider: str, *, operator: str, reason: str = "") -> None:
        """The customer changes provider; the tag on the door stays and counts for the new one."""
        ref = self.resolve_customer(ref)
        with self.store.write() as conn:
            current = conn.execute(
                select(customers.c.provider_id).where(customers.c.ref == ref)
            ).scalar_one()
            self._lock_providers(conn, [current, to_provider])
            row = conn.execute(
                select(customers.c.provider_id).where(customers.c.ref == ref).with_for_update()
            ).one()
            if row.provider_id != current:
                raise TransitionRefused(f"customer {ref} changed meanwhile; try again")
            if row.provider_id == to_provider:
                raise TransitionRefused(f"customer {ref} is already with provider {to_provider}")
            conn.execute(
                update(customers).where(customers.c.ref == ref).values(provider_id=to_provider)
            )
            tag_uid = conn.execute(
                select(tags.c.uid).where(tags.c.customer_ref == ref, tags.c.state == "active")
            ).scalar()
            move = {"from": row.provider_id, "to": to_provider}
            audit.append(
                conn,
                operator=operator,
                action="customer.moved",
                subject=f"customer:{ref}",
                details={**move, "tag": tag_uid},
                reason=reason,
            )
            if tag_uid is not None:
                conn.execute(
                    update(tags).where(tags.c.uid == tag_uid).values(provider_id=to_provider)
                )
                audit.append(
                    conn,
                    operator=operator,
                    action="tag.provider_changed",
                    subject=f"tag:{tag_uid}",
                    details={**move, "customer": ref},
                    reason=reason,
                )

    # -- the lifecycle ----------------------------------------------------------------------
    def pickup(self, provider_id: str, count: int, *, operator: str) -> PickupResult:
        """Issue *count* tags from stock (oldest first) to a provider, within its allowance."""
        if count < 1:
            raise TransitionRefused("a pickup takes at least one tag")
        with self.store.write() as conn:
            prow = self._lock_providers(conn, [provider_id])[provider_id]
            status = provider_status(conn, prow, self.policy)
            before = status.allowance
            check_pickup(status, count)
            query = (
                select(tags.c.uid)
                .where(tags.c.state == "in_stock")
                .order_by(tags.c.created_at, tags.c.uid)
                .limit(count)
            )
            if self.store.is_postgres:  # other providers' pickups take other rows meanwhile
                query = query.with_for_update(skip_locked=True)
            uids = list(conn.execute(query).scalars())
            if len(uids) < count:
                raise TransitionRefused(f"only {len(uids)} tags in stock; {count} requested")
            self._issue(conn, provider_id, uids, operator, _price(prow))
            done = fulfil_orders(conn, provider_id, count, operator)
        return PickupResult(provider_id, uids, before, before - count, done)

    def pickup_tags(
        self, provider_id: str, uids: Iterable[bytes | str], *, operator: str
    ) -> PickupResult:
        """Issue these tags (scanned at the desk) to a provider, within its allowance."""
        keys = [uid_hex(u) for u in uids]
        if not keys:
            raise TransitionRefused("a pickup takes at least one tag")
        if len(set(keys)) != len(keys):
            raise TransitionRefused("the same tag was given twice")
        with self.store.write() as conn:
            prow = self._lock_providers(conn, [provider_id])[provider_id]
            status = provider_status(conn, prow, self.policy)
            before = status.allowance
            for key in sorted(keys):
                row = self._locked_tag(conn, key)
                if row.state != "in_stock":
                    raise TransitionRefused(f"tag {key} is {_where(row)}, not in stock")
            check_pickup(status, len(keys))
            self._issue(conn, provider_id, keys, operator, _price(prow))
            done = fulfil_orders(conn, provider_id, len(keys), operator)
        return PickupResult(provider_id, keys, before, before - len(keys), done)

    def attach(
        self,
        uid: bytes | str,
        customer_ref: str,
        *,
        operator: str,
        label: str | None = None,
        force_reason: str = "",
    ) -> None:
        """Put an issued tag on a customer's door (the customer's provider must hold it).

        *label* is the name label or colour that tells cohabitants' tags apart on one door.
        A customer with a digital lock needs no tag: refused unless *force_reason* says why.
        """
        key = uid_hex(uid)
        ref = self.resolve_customer(customer_ref)
        label = (label or "").strip() or None
        with self.store.write() as conn:
            first = self._locked_tag(conn, key, lock=False)
            person = conn.execute(select(customers).where(customers.c.ref == ref)).one()
            owner = person.provider_id
            self._lock_providers(conn, [owner] + ([first.provider_id] if first.provider_id else []))
            check_attach_allowed(person, force_reason)
            row = self._locked_tag(conn, key)
            if row.state != "issued":
                hint = (
                    " (pick it up for the customer's provider first)"
                    if row.state == "in_stock"
                    else ""
                )
                raise TransitionRefused(
                    f"tag {key} is {_where(row)}; only an issued tag can be attached{hint}"
                )
            if row.provider_id != owner:
                raise TransitionRefused(
                    f"tag {key} is issued to provider {row.provider_id}, but customer {ref} "
                    f"belongs to provider {owner}"
                )
            other = conn.execute(
                select(tags.c.uid).where(tags.c.customer_ref == ref, tags.c.state == "active")
            ).scalar()
            if other is not None:
                raise TransitionRefused(
                    f"customer {ref} already has active tag {other} (one active tag per customer; "
                    "retire it first)"
                )
            conn.execute(
                update(tags)
                .where(tags.c.uid == key, tags.c.state == "issued")
                .values(state="active", customer_ref=ref, attached_at=audit.utc_now(), label=label)
            )
            details: dict[str, Any] = {"customer": ref, "provider": owner}
            if label:
                details["label"] = label
            audit.append(
                conn,
                operator=operator,
                action="tag.attached",
                subject=f"tag:{key}",
                details=details,
                reason=force_reason.strip(),
            )

    def retire(self, uid: bytes | str, *, reason: str, operator: str) -> None:
        """Take a tag out of use for good (lost, damaged, customer gone)."""
        key = uid_hex(uid)
        if not reason.strip():
            raise TransitionRefused("retiring a tag needs a reason")
        with self.store.write() as conn:
            self._retire_in(conn, key, reason=reason, operator=operator)

    def _retire_in(self, conn: Connection, key: str, *, reason: str, operator: str) -> None:
        """Retire in the caller's write transaction (``customer end`` retires with it)."""
        first = self._locked_tag(conn, key, lock=False)
        if first.provider_id:
            self._lock_providers(conn, [first.provider_id])
        row = self._locked_tag(conn, key)
        if row.state in FINAL_STATES:
            raise TransitionRefused(f"tag {key} is {row.state}, a final state")
        conn.execute(
            update(tags).where(tags.c.uid == key).values(state="retired", ended_at=audit.utc_now())
        )
        audit.append(
            conn,
            operator=operator,
            action="tag.retired",
            subject=f"tag:{key}",
            details={
                "from": row.state,
                "provider": row.provider_id,
                "customer": row.customer_ref,
            },
            reason=reason.strip(),
        )

    def verify_audit(
        self, anchor: tuple[int, str] | None = None, *, state: bool = True
    ) -> audit.VerifyResult:
        """The chain, and with *state* the tables against the state the trail describes."""
        with self.store.read() as conn:
            return audit.verify(conn, anchor, state=state)

    # -- helpers ----------------------------------------------------------------------------
    def _lock_providers(self, conn: Connection, ids: Iterable[str]) -> dict[str, Row[Any]]:
        wanted = sorted(set(ids))
        rows = {
            row.id: row
            for row in conn.execute(
                select(providers)
                .where(providers.c.id.in_(wanted))
                .order_by(providers.c.id)
                .with_for_update()
            )
        }
        for pid in wanted:
            if pid not in rows:
                raise UnknownEntity(f"no provider {pid}")
        return rows

    @staticmethod
    def _locked_tag(conn: Connection, key: str, *, lock: bool = True) -> Row[Any]:
        query = select(tags).where(tags.c.uid == key)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise UnknownEntity(f"no tag {key} in the registry")
        return row

    @staticmethod
    def _issue(
        conn: Connection, provider_id: str, keys: list[str], operator: str, price_ore: int | None
    ) -> None:
        now = audit.utc_now()
        done = conn.execute(
            update(tags)
            .where(tags.c.uid.in_(keys), tags.c.state == "in_stock")
            .values(
                state="issued",
                provider_id=provider_id,
                issued_to=provider_id,
                issued_at=now,
                issued_month=month_of(now),  # the calendar month in Swedish time
                issued_by=operator,
                issued_price_ore=price_ore,  # a later price change never alters this pickup
            )
        )
        if done.rowcount != len(keys):  # cannot happen under our locks; never half-issue
            raise TransitionRefused("stock changed during the pickup; try again")
        for key in keys:
            audit.append(
                conn,
                operator=operator,
                action="tag.issued",
                subject=f"tag:{key}",
                details={"provider": provider_id},
                at=now,
            )


def _price(provider: Row[Any]) -> int | None:
    """What a pickup costs the provider per tag now: a private provider's price, else None."""
    return provider.price_ore if provider.kind == "private" else None


def _where(row: Row[Any]) -> str:
    if row.state == "issued":
        return f"issued to provider {row.provider_id}"
    if row.state == "active":
        return f"active on customer {row.customer_ref} (provider {row.provider_id})"
    if row.state in FINAL_STATES:
        return f"{row.state} (final)"
    state: str = row.state
    return state.replace("_", " ")
