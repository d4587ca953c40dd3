"""Orders: a provider's coordinator orders tags ahead and picks them up at the desk.

An order is placed at least ``order_lead_working_days`` working days ahead (Stockholm asks
for a day), on a working day, and only within the provider's allowance minus what its other
open orders still reserve: refused when placed, not at the desk. Each tag a provider picks
up is credited to its open orders, earliest pickup date first (a scanned pickup comes one
tag at a time); an order is fulfilled once its count is picked up.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select, update

from provisioning import audit
from provisioning.errors import QuotaExceeded, TransitionRefused, UnknownEntity
from provisioning.lookups import provider_status
from provisioning.months import MunicipalRules, add_working_days, is_working_day, today_in_sweden
from provisioning.schema import orders

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.engine import Row

    from provisioning.quota import QuotaPolicy
    from provisioning.store import Store


def _order_row(r: Row[Any]) -> dict[str, Any]:
    return {
        "order": r.id,
        "provider": r.provider_id,
        "count": r.count,
        "picked": r.picked,
        "pickup_on": r.pickup_on.isoformat(),
        "state": r.state,
        "ordered_by": r.operator,
    }


class OrderMixin:
    store: Store
    policy: QuotaPolicy
    rules: MunicipalRules

    if TYPE_CHECKING:

        def _lock_providers(self, conn: Connection, ids: Iterable[str]) -> dict[str, Row[Any]]: ...

    def add_order(
        self,
        provider_id: str,
        count: int,
        pickup_on: dt.date,
        *,
        operator: str,
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """Place an order for *count* tags to be picked up on *pickup_on*."""
        if count < 1:
            raise TransitionRefused("an order is for at least one tag")
        today = today_in_sweden(now or audit.utc_now())
        earliest = add_working_days(today, self.rules.order_lead_working_days)
        if pickup_on < earliest:
            raise TransitionRefused(
                f"pickup on {pickup_on} is too soon: orders need "
                f"{self.rules.order_lead_working_days} working day(s); earliest {earliest}"
            )
        if not is_working_day(pickup_on):
            raise TransitionRefused(
                f"{pickup_on} is not a working day (weekend or public holiday); "
                f"the desk is open on {add_working_days(pickup_on, 1)}"
            )
        with self.store.write() as conn:
            prow = self._lock_providers(conn, [provider_id])[provider_id]
            allowance = provider_status(conn, prow, self.policy).allowance
            reserved = conn.execute(
                select(func.coalesce(func.sum(orders.c.count - orders.c.picked), 0)).where(
                    orders.c.provider_id == provider_id, orders.c.state == "open"
                )
            ).scalar_one()
            free = allowance - int(reserved)
            if count > free:
                may = max(free, 0)
                raise QuotaExceeded(
                    f"provider {provider_id} may order {may} more tag{'' if may == 1 else 's'} "
                    f"(allowance {allowance}, {reserved} in open orders); {count} ordered",
                    allowance=free,
                    requested=count,
                )
            key = conn.execute(
                insert(orders).values(
                    provider_id=provider_id,
                    count=count,
                    pickup_on=pickup_on,
                    state="open",
                    operator=operator,
                    created_at=audit.utc_now(),
                )
            ).inserted_primary_key
            assert key is not None
            order_id = int(key[0])
            audit.append(
                conn,
                operator=operator,
                action="order.placed",
                subject=f"order:{order_id}",
                details={"provider": provider_id, "count": count, "pickup_on": str(pickup_on)},
            )
            row = conn.execute(select(orders).where(orders.c.id == order_id)).one()
        return _order_row(row)

    def orders_due(self, on: dt.date | None = None) -> list[dict[str, Any]]:
        """Open orders to be picked up on or before *on* (default: every open order)."""
        query = select(orders).where(orders.c.state == "open")
        if on is not None:
            query = query.where(orders.c.pickup_on <= on)
        with self.store.read() as conn:
            rows = conn.execute(query.order_by(orders.c.pickup_on, orders.c.id)).all()
        return [_order_row(r) for r in rows]

    def cancel_order(self, order_id: int, *, operator: str, reason: str = "") -> None:
        with self.store.write() as conn:
            row = conn.execute(select(orders).where(orders.c.id == order_id)).first()
            if row is None:
                raise UnknownEntity(f"no order {order_id}")
            self._lock_providers(conn, [row.provider_id])
            if row.state != "open":
                raise TransitionRefused(f"order {order_id} is {row.state}")
            conn.execute(update(orders).where(orders.c.id == order_id).values(state="cancelled"))
            audit.append(
                conn,
                operator=operator,
                action="order.cancelled",
                subject=f"order:{order_id}",
                details={"provider": row.provider_id, "count": row.count},
                reason=reason,
            )


def fulfil_orders(conn: Connection, provider_id: str, picked: int, operator: str) -> list[int]:
    """Credit *picked* tags to the provider's open orders, earliest pickup date first (a
    scanned pickup comes one tag at a time); returns the orders now fulfilled."""
    done: list[int] = []
    open_orders = conn.execute(
        select(orders.c.id, orders.c.count, orders.c.picked)
        .where(orders.c.provider_id == provider_id, orders.c.state == "open")
        .order_by(orders.c.pickup_on, orders.c.id)
    ).all()
    for order_id, count, already in open_orders:
        if picked <= 0:
            break
        take = min(picked, count - already)
        picked -= take
        complete = already + take >= count
        values: dict[str, Any] = {"picked": already + take}
        if complete:
            values.update(state="fulfilled", fulfilled_at=audit.utc_now())
        conn.execute(update(orders).where(orders.c.id == order_id).values(**values))
        if complete:
            audit.append(
                conn,
                operator=operator,
                action="order.fulfilled",
                subject=f"order:{order_id}",
                details={"provider": provider_id, "count": count},
            )
            done.append(order_id)
    return done
