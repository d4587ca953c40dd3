"""Months in Swedish time, locking dates, closed months and the invoice (issue 13), on
SQLite and on the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools
import os

import pytest

from provisioning import audit
from provisioning.errors import PeriodClosed, TransitionRefused
from provisioning.invoice import invoice
from provisioning.months import (
    MunicipalRules,
    add_working_days,
    is_working_day,
    locking_date,
    month_of,
)
from provisioning.quota import QuotaPolicy
from provisioning.registry import Registry
from provisioning.reports import issued_report

OP = "desk-anna"
_uids = itertools.count(1)


def test_locking_date_in_january_skips_new_years_day_the_weekend_and_epiphany():
    # 2026-01-01 Thu (holiday), 02 Fri (1), 05 Mon (2), 06 Tue Epiphany, 07 Wed (3)
    assert locking_date("2025-12", 3) == dt.date(2026, 1, 7)


def test_locking_date_in_may_skips_may_day():
    # 2026-05-01 Fri (holiday), 02-03 weekend, 04 Mon (1), 05 (2), 06 (3)
    assert locking_date("2026-04", 3) == dt.date(2026, 5, 6)
    assert locking_date("2026-04", 1) == dt.date(2026, 5, 4)


def test_midsummer_christmas_and_new_years_eve_are_not_working_days():
    """Lag (1930:173): the three eves count as holidays, though not public holidays."""
    for eve in (dt.date(2026, 6, 19), dt.date(2026, 12, 24), dt.date(2026, 12, 31)):
        assert eve.weekday() < 5 and not is_working_day(eve)
    assert is_working_day(dt.date(2026, 12, 23))
    # an order placed on Wed 23 Dec with one working day's lead: not Thu 24, Fri 25
    assert add_working_days(dt.date(2026, 12, 23), 1) == dt.date(2026, 12, 28)
    # Thu 18 June 2026, one working day's lead: not Fri 19 (Midsummer Eve), Sat 20 (Midsummer
    # Day) or Sun 21
    assert add_working_days(dt.date(2026, 6, 18), 1) == dt.date(2026, 6, 22)


def test_a_moment_belongs_to_its_month_in_swedish_time():
    assert month_of(dt.datetime(2026, 4, 30, 22, 30, tzinfo=dt.UTC)) == "2026-05"  # 00:30 CEST
    assert month_of(dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC)) == "2026-02"  # 00:30 CET


@pytest.fixture
def registry_options() -> dict[str, object]:
    return {
        "policy": QuotaPolicy(per_customer=1, spare=100),
        "rules": MunicipalRules(locking_working_days=3),
    }


@pytest.fixture(autouse=True)
def two_providers(registry: Registry) -> None:
    """Every test's registry (tests/conftest.py): a batch, a private and a municipal provider."""
    registry.open_batch("b1", operator=OP)
    registry.add_provider("P-PRIV", "Privat Omsorg AB", operator=OP)
    registry.set_billing("P-PRIV", kind="private", price_ore=2500, operator=OP)
    registry.add_provider("P-KOM", "Kommunens hemtjänst", operator=OP)


def pickup_at(reg: Registry, provider: str, when: dt.datetime, monkeypatch: pytest.MonkeyPatch):
    uid = reg.record_provisioned(
        b"\x04" + next(_uids).to_bytes(6, "big"), "NTAG213", os.urandom(12).hex(), "b1", OP
    ).uid
    monkeypatch.setattr(audit, "utc_now", lambda: when)
    reg.pickup_tags(provider, [uid], operator=f"coord-{provider}")
    monkeypatch.undo()
    return uid


def test_the_invoice_counts_pickups_by_the_month_in_swedish_time(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
):
    late_april = pickup_at(
        registry, "P-PRIV", dt.datetime(2026, 4, 30, 21, 30, tzinfo=dt.UTC), monkeypatch
    )  # 23:30 on 30 April in Stockholm
    first_may = pickup_at(
        registry, "P-PRIV", dt.datetime(2026, 4, 30, 22, 30, tzinfo=dt.UTC), monkeypatch
    )  # 00:30 on 1 May in Stockholm: a UTC month would put it in April
    municipal = pickup_at(
        registry, "P-KOM", dt.datetime(2026, 5, 12, 8, 0, tzinfo=dt.UTC), monkeypatch
    )
    may = invoice(registry, "2026-05")
    assert [(e["provider"], e["count"], e["amount"]) for e in may] == [
        ("P-KOM", 1, None),
        ("P-PRIV", 1, "25.00"),
    ]
    assert may[1]["tags"] == [
        {
            "uid": first_may,
            "picked_up": "2026-05-01T00:30+02:00",
            "operator": "coord-P-PRIV",
            "price": "25.00",
        }
    ]
    assert may[0]["tags"][0]["uid"] == municipal
    april = invoice(registry, "2026-04")
    assert [(e["count"], e["tags"][0]["uid"]) for e in april] == [(1, late_april)]
    assert [(r["month"], r["provider"], r["issued"]) for r in issued_report(registry)] == [
        ("2026-04", "P-PRIV", 1),
        ("2026-05", "P-KOM", 1),
        ("2026-05", "P-PRIV", 1),
    ]


def test_a_price_change_never_alters_the_invoice_of_a_past_pickup(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
):
    pickup_at(registry, "P-PRIV", dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC), monkeypatch)
    registry.set_billing("P-PRIV", kind="private", price_ore=4000, operator=OP)
    pickup_at(registry, "P-PRIV", dt.datetime(2026, 3, 20, 9, tzinfo=dt.UTC), monkeypatch)
    registry.set_billing("P-PRIV", kind="municipal", price_ore=None, operator=OP)
    (march,) = invoice(registry, "2026-03")
    assert (march["kind"], march["count"], march["price_per_tag"], march["amount"]) == (
        "private",
        2,
        None,
        "65.00",
    )


def test_a_month_cannot_be_closed_until_its_locking_date_has_passed(registry: Registry):
    on_locking_day = dt.datetime(2026, 5, 6, 12, tzinfo=dt.UTC)
    with pytest.raises(TransitionRefused, match="after its locking date 2026-05-06"):
        registry.close_period("2026-04", operator=OP, now=on_locking_day)
    closed = registry.close_period("2026-04", operator=OP, now=on_locking_day + dt.timedelta(1))
    seq, digest = closed["anchor"].split(":")
    assert registry.verify_audit((int(seq), digest)).ok
    with pytest.raises(TransitionRefused, match="already closed"):
        registry.close_period("2026-04", operator=OP, now=on_locking_day + dt.timedelta(2))


def test_a_closed_month_refuses_a_backdated_change_naming_the_month(registry: Registry):
    registry.add_customer("ext:a", "P-KOM", operator=OP)
    registry.close_period("2026-04", operator=OP, now=dt.datetime(2026, 5, 7, 9, tzinfo=dt.UTC))
    with pytest.raises(PeriodClosed, match="month 2026-04 is closed") as refused:
        registry.end_customer("ext:a", reason="died", on=dt.date(2026, 4, 28), operator=OP)
    assert refused.value.month == "2026-04"
    with pytest.raises(PeriodClosed, match="month 2026-04 is closed"):
        registry.set_lock("ext:a", installed=dt.date(2026, 4, 2), operator=OP)
    assert registry.customer("ext:a").status == "active"
    registry.end_customer("ext:a", reason="died", on=dt.date(2026, 5, 2), operator=OP)


def test_a_manual_registration_dated_in_a_closed_month_is_refused(registry: Registry):
    registry.add_customer("ext:m", "P-KOM", operator=OP)
    registry.close_period("2026-04", operator=OP, now=dt.datetime(2026, 5, 7, 9, tzinfo=dt.UTC))
    manual = {
        "event_id": "e1",
        "kind": "start",
        "staff": "S-1",
        "customer": "ext:m",
        "reason": "technical_fault",
        "note_ref": "r",
        "note_sha256": "0" * 64,
    }
    with pytest.raises(PeriodClosed, match="month 2026-04 is closed"):  # 23:59 on 30 April
        registry.record_manual(at=dt.datetime(2026, 4, 30, 21, 59, tzinfo=dt.UTC), **manual)
    # 00:30 on 1 May in Sweden: May is open
    done = registry.record_manual(at=dt.datetime(2026, 4, 30, 22, 30, tzinfo=dt.UTC), **manual)
    assert (done.customer, done.provider) == ("ext:m", "P-KOM")
    # the station could not store it: voided in the trail, which still verifies
    registry.void_manual(event_id="e1", staff="S-1", customer=done.customer, why="disk full")
    with registry.store.read() as conn:
        rows = [(e.action, e.details.get("event_id")) for e in audit.entries(conn)][-2:]
    assert rows == [("registration.manual", "e1"), ("registration.manual.voided", "e1")]
    assert registry.verify_audit().ok
