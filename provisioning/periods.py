"""Closing a month: after its locking date (spärrdatum) a month's figures are final.

``close_period`` is refused until the locking date of the month has passed (in Swedish
time); it then appends a ``period.closed`` audit row holding the month's invoice figures and
records that row's seq and hash as the month's anchor (``audit verify --anchor``). From
then on any change dated in that month (a customer ended, a lock installed or removed) is
refused with ``PeriodClosed`` naming the month.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select

from provisioning import audit
from provisioning.errors import PeriodClosed, TransitionRefused
from provisioning.months import (
    MunicipalRules,
    locking_date,
    month_of,
    parse_month,
    today_in_sweden,
)
from provisioning.schema import periods

if TYPE_CHECKING:
    from provisioning.store import Store


class PeriodMixin:
    store: Store
    rules: MunicipalRules

    def locking_date(self, month: str) -> dt.date:
        return locking_date(month, self.rules.locking_working_days)

    def close_period(
        self, month: str, *, operator: str, now: dt.datetime | None = None
    ) -> dict[str, Any]:
        """Close *month* (YYYY-MM) after its locking date; returns the anchor and figures."""
        from provisioning.invoice import invoice_totals

        parse_month(month)
        moment = now or audit.utc_now()
        today = today_in_sweden(moment)
        lock_day = self.locking_date(month)
        if today <= lock_day:
            raise TransitionRefused(
                f"month {month} can be closed after its locking date {lock_day} "
                f"(today is {today} in Sweden)"
            )
        with self.store.write() as conn:
            done = conn.execute(select(periods).where(periods.c.month == month)).first()
            if done is not None:
                raise TransitionRefused(
                    f"month {month} is already closed (anchor {done.anchor_seq}:{done.anchor_hash})"
                )
            figures = invoice_totals(conn, month)
            entry = audit.append(
                conn,
                operator=operator,
                action="period.closed",
                subject=f"period:{month}",
                details={"locking_date": lock_day.isoformat(), "issued": figures},
                at=moment,
            )
            conn.execute(
                insert(periods).values(
                    month=month,
                    locking_date=lock_day,
                    closed_at=moment,
                    operator=operator,
                    anchor_seq=entry.seq,
                    anchor_hash=entry.hash,
                )
            )
        return {
            "month": month,
            "locking_date": lock_day.isoformat(),
            "anchor": f"{entry.seq}:{entry.hash}",
            "issued": figures,
        }

    def closed_periods(self) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            rows = conn.execute(select(periods).order_by(periods.c.month)).all()
        return [
            {
                "month": r.month,
                "locking_date": r.locking_date.isoformat(),
                "closed_at": audit.format_at(r.closed_at),
                "operator": r.operator,
                "anchor": f"{r.anchor_seq}:{r.anchor_hash}",
            }
            for r in rows
        ]

    def _check_open(self, conn: Connection, day: dt.date, what: str) -> None:
        """Refuse a change dated *day* when its month is closed."""
        month = month_of(day)
        row = conn.execute(select(periods.c.locking_date).where(periods.c.month == month)).first()
        if row is not None:
            raise PeriodClosed(
                f"month {month} is closed (locking date {row.locking_date}): {what} "
                f"dated {day} would change its figures",
                month=month,
            )
