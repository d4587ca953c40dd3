"""A customer's life and quota (issue 13), on SQLite and on the real PostgreSQL: customers
end, digital locks replace tags, cohabitants share a door, orders reserve the allowance."""

from __future__ import annotations

import datetime as dt
import itertools
import os

import pytest

from provisioning.errors import QuotaExceeded, TransitionRefused
from provisioning.quota import QuotaPolicy
from provisioning.registry import Registry

OP = "desk-anna"
_uids = itertools.count(1)
DAY = dt.date(2026, 11, 20)


@pytest.fixture
def registry_options() -> dict[str, object]:
    return {"policy": QuotaPolicy(per_customer=1, spare=0)}


@pytest.fixture(autouse=True)
def one_provider(registry: Registry) -> None:
    """Every test's registry (tests/conftest.py) has a batch and one provider."""
    registry.open_batch("b1", operator=OP)
    registry.add_provider("P-1", "Omsorg Ett AB", operator=OP)


def stock(reg: Registry, n: int) -> list[str]:
    return [
        reg.record_provisioned(
            b"\x04" + next(_uids).to_bytes(6, "big"), "NTAG213", os.urandom(12).hex(), "b1", OP
        ).uid
        for _ in range(n)
    ]


def customer_with_tag(reg: Registry, name: str) -> tuple[str, str]:
    ref = f"ext:{name}"
    reg.add_customer(ref, "P-1", operator=OP)
    (uid,) = stock(reg, 1)
    reg.pickup_tags("P-1", [uid], operator=OP)
    reg.attach(uid, ref, operator=OP)
    return ref, uid


def test_retiring_a_dead_customers_tag_through_customer_end_does_not_raise_the_allowance(
    registry: Registry,
):
    ref, uid = customer_with_tag(registry, "anna")
    customer_with_tag(registry, "bo")
    assert registry.provider("P-1").allowance == 0
    done = registry.end_customer(ref, reason="died", on=DAY, operator=OP)
    assert (done["tag"], done["tag_outcome"]) == (uid, "retired")
    tag = registry.tag(uid)
    assert tag.state == "retired"
    assert registry.history(uid)[-1].reason == "customer ended: died"
    status = registry.provider("P-1")
    assert (status.allowance, status.customers_ended, status.customers_needing_tag) == (0, 1, 1)


def test_an_ended_customer_without_a_tag_stops_counting_for_quota(registry: Registry):
    registry.add_customer("ext:c", "P-1", operator=OP)
    assert registry.provider("P-1").allowance == 1
    registry.end_customer("ext:c", reason="care_home", on=DAY, operator=OP)
    assert registry.provider("P-1").allowance == 0
    with pytest.raises(TransitionRefused, match="already ended"):
        registry.end_customer("ext:c", reason="died", on=DAY, operator=OP)


def test_an_ended_customer_gets_no_tag(registry: Registry):
    registry.add_customer("ext:c", "P-1", operator=OP)
    (uid,) = stock(registry, 1)
    registry.pickup_tags("P-1", [uid], operator=OP)
    registry.end_customer("ext:c", reason="declined", on=DAY, operator=OP)
    with pytest.raises(TransitionRefused, match="ended on 2026-11-20"):
        registry.attach(uid, "ext:c", operator=OP)


def test_unknown_end_reason_is_refused(registry: Registry):
    registry.add_customer("ext:c", "P-1", operator=OP)
    with pytest.raises(TransitionRefused, match="end reason 'bored' unknown"):
        registry.end_customer("ext:c", reason="bored", on=DAY, operator=OP)


def test_lock_installed_takes_the_customer_out_of_quota_and_lists_the_tag_for_collection(
    registry: Registry,
):
    registry.add_customer("ext:a", "P-1", operator=OP)
    ref, uid = customer_with_tag(registry, "b")
    assert registry.provider("P-1").allowance == 1
    registry.set_lock("ext:a", installed=DAY, operator=OP)
    assert registry.provider("P-1").allowance == 0
    out = registry.set_lock(ref, installed=DAY, operator=OP)
    assert out["tag_to_collect"] == uid
    status = registry.provider("P-1")
    assert (status.customers_with_lock, status.to_collect, status.allowance) == (2, 1, 0)
    assert [r["uid"] for r in registry.to_collect("P-1")] == [uid]


def test_attaching_to_a_customer_with_a_lock_is_refused_unless_forced_with_a_reason(
    registry: Registry,
):
    registry.add_customer("ext:a", "P-1", operator=OP)
    registry.set_lock("ext:a", installed=DAY, operator=OP)
    (uid,) = stock(registry, 1)
    registry.set_policy("P-1", per_customer=1, spare=1, operator=OP)
    registry.pickup_tags("P-1", [uid], operator=OP)
    with pytest.raises(TransitionRefused, match="digital lock since 2026-11-20"):
        registry.attach(uid, "ext:a", operator=OP)
    registry.attach(uid, "ext:a", operator=OP, force_reason="lock battery dead for weeks")
    assert registry.history(uid)[-1].reason == "lock battery dead for weeks"


def test_lock_removed_brings_the_customer_back_into_quota(registry: Registry):
    registry.add_customer("ext:a", "P-1", operator=OP)
    registry.set_lock("ext:a", installed=DAY, operator=OP)
    assert registry.provider("P-1").allowance == 0
    with pytest.raises(TransitionRefused, match="installed on 2026-11-20, after"):
        registry.set_lock("ext:a", removed=DAY - dt.timedelta(days=1), operator=OP)
    registry.set_lock("ext:a", removed=DAY + dt.timedelta(days=3), operator=OP)
    assert registry.provider("P-1").allowance == 1
    assert registry.customer("ext:a").status == "active"
    with pytest.raises(TransitionRefused, match="no digital lock"):
        registry.set_lock("ext:a", removed=DAY, operator=OP)


def test_cohabitants_keep_their_own_tags_with_labels_and_one_household(registry: Registry):
    a, uid_a = customer_with_tag(registry, "a")
    registry.add_customer("ext:b", "P-1", operator=OP)
    (uid_b,) = stock(registry, 1)
    registry.pickup_tags("P-1", [uid_b], operator=OP)
    registry.attach(uid_b, "ext:b", operator=OP, label="blå")
    household = registry.link_household([a, "ext:b"], operator=OP)
    members = [c for c in registry.customers("P-1") if c.household == household]
    assert {(c.ref, c.active_tag, c.label) for c in members} == {
        (a, uid_a, None),
        ("ext:b", uid_b, "blå"),
    }


def test_an_ended_customers_tag_can_stay_with_a_cohabitant_without_one(registry: Registry):
    a, uid = customer_with_tag(registry, "a")
    registry.add_customer("ext:b", "P-1", operator=OP)
    with pytest.raises(TransitionRefused, match="not in customer ext:a's household"):
        registry.end_customer(a, reason="died", on=DAY, operator=OP, keep_tag_for="ext:b")
    assert registry.customer(a).status == "active"  # nothing half-done
    registry.link_household([a, "ext:b"], operator=OP)
    allowance = registry.provider("P-1").allowance
    done = registry.end_customer(a, reason="died", on=DAY, operator=OP, keep_tag_for="ext:b")
    assert done["tag_outcome"] == "kept for ext:b"
    assert (registry.tag(uid).state, registry.tag(uid).customer) == ("active", "ext:b")
    assert registry.provider("P-1").allowance == allowance - 1  # b no longer needs one


def test_an_order_over_the_allowance_is_refused_when_placed(registry: Registry):
    for n in range(3):
        registry.add_customer(f"ext:o{n}", "P-1", operator=OP)
    monday = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    with pytest.raises(TransitionRefused, match="too soon"):
        registry.add_order("P-1", 1, dt.date(2026, 11, 23), operator=OP, now=monday)
    first = registry.add_order("P-1", 2, dt.date(2026, 11, 24), operator=OP, now=monday)
    with pytest.raises(QuotaExceeded, match=r"may order 1 more tag .*2 in open orders"):
        registry.add_order("P-1", 2, dt.date(2026, 11, 25), operator=OP, now=monday)
    assert [o["order"] for o in registry.orders_due(dt.date(2026, 11, 24))] == [first["order"]]
    stock(registry, 2)
    registry.pickup("P-1", 2, operator=OP)
    assert registry.orders_due() == []


def test_an_order_for_a_weekend_or_holiday_pickup_is_refused(registry: Registry):
    registry.add_customer("ext:o", "P-1", operator=OP)
    now = dt.datetime(2026, 12, 21, 9, tzinfo=dt.UTC)
    with pytest.raises(TransitionRefused, match="2026-12-25 is not a working day"):
        registry.add_order("P-1", 1, dt.date(2026, 12, 25), operator=OP, now=now)


def test_tags_picked_up_one_at_a_time_fulfil_an_order_once_its_count_is_reached(
    registry: Registry,
):
    for n in range(2):
        registry.add_customer(f"ext:s{n}", "P-1", operator=OP)
    monday = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    order = registry.add_order("P-1", 2, dt.date(2026, 11, 24), operator=OP, now=monday)
    first, second = stock(registry, 2)
    assert registry.pickup_tags("P-1", [first], operator=OP).orders_fulfilled == []
    (due,) = registry.orders_due()
    assert (due["order"], due["picked"]) == (order["order"], 1)
    assert registry.pickup_tags("P-1", [second], operator=OP).orders_fulfilled == [order["order"]]
    assert registry.orders_due() == []
