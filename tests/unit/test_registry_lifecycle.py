"""Every lifecycle transition, allowed and forbidden, on SQLite and on the real PostgreSQL.

The ``registry`` fixture is parametrised: each test runs on a fresh SQLite file and on a
fresh PostgreSQL database (``nfcb_test_<random>``, dropped afterwards).
"""

from __future__ import annotations

import itertools
import os

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError

from provisioning.errors import (
    DuplicateEntity,
    InvalidInput,
    QuotaExceeded,
    TagAlreadyKnown,
    TransitionRefused,
    UnknownEntity,
)
from provisioning.identity import Pseudonymizer
from provisioning.quota import QuotaPolicy
from provisioning.registry import Registry
from provisioning.schema import tags

OP = "desk-anna"
_uids = itertools.count(1)


@pytest.fixture(autouse=True)
def two_providers(registry: Registry) -> None:
    """Every test's registry (tests/conftest.py, default quota 1 per customer + 2 spare)
    has a batch and two providers."""
    assert registry.policy == QuotaPolicy(per_customer=1, spare=2)
    registry.open_batch("b1", operator=OP)
    registry.add_provider("P-1", "Omsorg Ett AB", operator=OP)
    registry.add_provider("P-2", "Omsorg Två AB", operator=OP)


def new_uid() -> bytes:
    return b"\x04" + next(_uids).to_bytes(6, "big")


def customer(reg: Registry, provider: str = "P-1") -> str:
    ref = f"ext:c{next(_uids)}"
    reg.add_customer(ref, provider, operator=OP)
    return ref


def tag_in(reg: Registry, state: str, provider: str = "P-1") -> str:
    """A fresh tag brought through the lifecycle into *state*."""
    uid = new_uid()
    if state == "spoiled":
        return reg.record_spoiled(uid, "b1", OP, "removed during lock").uid
    key = reg.record_provisioned(uid, "NTAG213", os.urandom(12).hex(), "b1", OP).uid
    if state == "in_stock":
        return key
    if state == "retired_from_stock":
        reg.retire(key, reason="damaged at the desk", operator=OP)
        return key
    reg.set_policy(provider, per_customer=1, spare=1000, operator=OP)  # room for test tags
    reg.pickup_tags(provider, [key], operator=OP)
    if state == "issued":
        return key
    reg.attach(key, customer(reg, provider), operator=OP)
    if state == "active":
        return key
    assert state == "retired"
    reg.retire(key, reason="customer moved out", operator=OP)
    return key


ALL = ["in_stock", "issued", "active", "spoiled", "retired"]


# -- provisioning outcomes -------------------------------------------------------------------
def test_record_provisioned_puts_a_new_uid_in_stock_with_an_audit_row(registry: Registry):
    uid = new_uid()
    record = registry.record_provisioned(uid, "NTAG215", "tok-a", "b1", OP, {"sig": "ok"})
    assert (record.state, record.product, record.batch) == ("in_stock", "NTAG215", "b1")
    assert record.uid == uid.hex().upper()
    (entry,) = registry.history(uid)
    assert entry.action == "tag.provisioned" and entry.details["sig"] == "ok"
    assert registry.batch("b1").provisioned == 1


@pytest.mark.parametrize("state", ALL)
def test_a_known_uid_is_never_provisioned_or_spoiled_again(registry: Registry, state: str):
    key = tag_in(registry, state)
    with pytest.raises(TagAlreadyKnown) as info:
        registry.record_provisioned(key, "NTAG213", "tok-new", "b1", OP)
    assert info.value.state == state
    with pytest.raises(TagAlreadyKnown):
        registry.record_spoiled(key, "b1", OP, "again")
    with pytest.raises(TagAlreadyKnown):
        registry.record_attempt(key, "b1", OP)
    assert registry.tag(key).state == state


def test_spoiled_is_recorded_for_a_blank_uid_with_the_reason(registry: Registry):
    uid = new_uid()
    record = registry.record_spoiled(uid, "b1", OP, "removed after lock bits", {"step": "lock"})
    assert record.state == "spoiled" and record.ended_at is not None
    (entry,) = registry.history(uid)
    assert (entry.action, entry.reason, entry.details["step"]) == (
        "tag.spoiled",
        "removed after lock bits",
        "lock",
    )


def test_a_failed_attempt_leaves_no_state_so_the_uid_can_be_retried(registry: Registry):
    uid = new_uid()
    registry.record_attempt(uid, "b1", OP, {"step": "write", "error": "TagGone"})
    assert registry.tag_status(uid) is None
    registry.record_provisioned(uid, "NTAG213", "tok-retry", "b1", OP)
    assert registry.tag(uid).state == "in_stock"
    assert [e.action for e in registry.history(uid)] == ["tag.attempt_failed", "tag.provisioned"]
    counts = registry.batch("b1")
    assert (counts.provisioned, counts.attempts, counts.spoiled) == (1, 1, 0)


def test_outcomes_need_an_opened_batch(registry: Registry):
    with pytest.raises(UnknownEntity, match="no batch"):
        registry.record_provisioned(new_uid(), "NTAG213", "tok-x", "nope", OP)


def test_open_batch_is_idempotent_for_resume(registry: Registry):
    first = registry.open_batch("roll-7", operator=OP)
    registry.record_provisioned(new_uid(), "NTAG213", "tok-r7", "roll-7", OP)
    again = registry.open_batch("roll-7", operator="someone-else")
    assert not first.resumed and again.resumed
    assert again.operator == OP and again.provisioned == 1
    assert [b.name for b in registry.batches()] == ["b1", "roll-7"]


def test_a_token_is_never_used_for_two_tags(registry: Registry):
    registry.record_provisioned(new_uid(), "NTAG213", "same-token", "b1", OP)
    with pytest.raises(DuplicateEntity):
        registry.record_provisioned(new_uid(), "NTAG213", "same-token", "b1", OP)


# -- pickup ----------------------------------------------------------------------------------
def test_pickup_issues_oldest_stock_to_the_provider(registry: Registry):
    first, second = tag_in(registry, "in_stock"), tag_in(registry, "in_stock")
    result = registry.pickup("P-1", 1, operator=OP)
    assert result.uids == [first]
    assert (result.allowance_before, result.allowance_after) == (2, 1)
    record = registry.tag(first)
    assert (record.state, record.provider, record.issued_to) == ("issued", "P-1", "P-1")
    assert registry.tag(second).state == "in_stock"


@pytest.mark.parametrize("state", ["issued", "active", "spoiled", "retired"])
def test_pickup_of_a_tag_not_in_stock_is_refused(registry: Registry, state: str):
    key = tag_in(registry, state)
    with pytest.raises(TransitionRefused, match=f"tag {key} is"):
        registry.pickup_tags("P-2", [key], operator=OP)
    assert registry.tag(key).state == state


def test_pickup_of_unknown_tag_or_for_unknown_provider_is_refused(registry: Registry):
    with pytest.raises(UnknownEntity, match="no tag"):
        registry.pickup_tags("P-1", [new_uid()], operator=OP)
    key = tag_in(registry, "in_stock")
    with pytest.raises(UnknownEntity, match="no provider P-9"):
        registry.pickup_tags("P-9", [key], operator=OP)


def test_pickup_more_than_in_stock_is_refused_and_issues_nothing(registry: Registry):
    key = tag_in(registry, "in_stock")
    with pytest.raises(TransitionRefused, match="only 1 tags in stock; 2 requested"):
        registry.pickup("P-1", 2, operator=OP)
    assert registry.tag(key).state == "in_stock"


# -- attach ----------------------------------------------------------------------------------
def test_attach_makes_an_issued_tag_active_on_the_customer(registry: Registry):
    key = tag_in(registry, "issued")
    ref = customer(registry)
    registry.attach(key, ref, operator=OP)
    record = registry.tag(key)
    assert (record.state, record.customer, record.provider) == ("active", ref, "P-1")
    assert registry.customer(ref).active_tag == key
    ctx = registry.tap_context(bytes.fromhex(key))
    assert (ctx.state, ctx.customer, ctx.provider) == ("active", ref, "P-1")


@pytest.mark.parametrize("state", ["in_stock", "active", "spoiled", "retired"])
def test_attach_from_any_other_state_is_refused(registry: Registry, state: str):
    key = tag_in(registry, state)
    with pytest.raises(TransitionRefused, match=f"tag {key} is"):
        registry.attach(key, customer(registry), operator=OP)
    assert registry.tag(key).state == state


def test_attach_a_tag_issued_to_another_provider_names_both(registry: Registry):
    key = tag_in(registry, "issued", provider="P-2")
    ref = customer(registry, "P-1")
    with pytest.raises(TransitionRefused, match=r"issued to provider P-2.*belongs to provider P-1"):
        registry.attach(key, ref, operator=OP)


def test_a_second_active_tag_for_a_customer_is_refused(registry: Registry):
    ref = customer(registry)
    first, second = tag_in(registry, "issued"), tag_in(registry, "issued")
    registry.attach(first, ref, operator=OP)
    with pytest.raises(TransitionRefused, match=f"already has active tag {first}"):
        registry.attach(second, ref, operator=OP)
    assert registry.tag(second).state == "issued"


def test_the_database_itself_refuses_two_active_tags_for_one_customer(registry: Registry):
    ref = customer(registry)
    first, second = tag_in(registry, "issued"), tag_in(registry, "issued")
    registry.attach(first, ref, operator=OP)
    with pytest.raises(IntegrityError), registry.store.write() as conn:
        conn.execute(
            update(tags).where(tags.c.uid == second).values(state="active", customer_ref=ref)
        )


def test_cohabitants_are_separate_customers_with_their_own_tags(registry: Registry):
    anna, bertil = customer(registry), customer(registry)
    tag_a, tag_b = tag_in(registry, "issued"), tag_in(registry, "issued")
    registry.attach(tag_a, anna, operator=OP)
    registry.attach(tag_b, bertil, operator=OP)
    assert {c.ref: c.active_tag for c in registry.customers("P-1")}[anna] == tag_a
    assert registry.customer(bertil).active_tag == tag_b


def test_attach_after_retiring_the_old_tag_is_allowed(registry: Registry):
    ref = customer(registry)
    old, new = tag_in(registry, "issued"), tag_in(registry, "issued")
    registry.attach(old, ref, operator=OP)
    registry.retire(old, reason="damaged", operator=OP)
    registry.attach(new, ref, operator=OP)
    assert registry.customer(ref).active_tag == new
    assert registry.tag(old).customer == ref  # history of whose door it was stays


def test_customer_prefix_resolves_only_when_unique(registry: Registry):
    key = Pseudonymizer(b"k" * 32)
    ref = key.pseudonym("811218-9876")
    registry.add_customer(ref, "P-1", operator=OP)
    assert registry.resolve_customer(ref[:16]) == ref
    with pytest.raises(UnknownEntity):
        registry.resolve_customer("psn:k1:00000000")


# -- retire ----------------------------------------------------------------------------------
@pytest.mark.parametrize("state", ["in_stock", "issued", "active"])
def test_retire_is_allowed_from_every_live_state(registry: Registry, state: str):
    key = tag_in(registry, state)
    registry.retire(key, reason="lost", operator=OP)
    record = registry.tag(key)
    assert record.state == "retired" and record.ended_at is not None
    last = registry.history(key)[-1]
    assert (last.action, last.reason, last.details["from"]) == ("tag.retired", "lost", state)


@pytest.mark.parametrize("state", ["spoiled", "retired"])
def test_nothing_leaves_a_final_state(registry: Registry, state: str):
    key = tag_in(registry, state)
    with pytest.raises(TransitionRefused, match="final"):
        registry.retire(key, reason="again", operator=OP)
    with pytest.raises(TransitionRefused):
        registry.pickup_tags("P-1", [key], operator=OP)
    with pytest.raises(TransitionRefused):
        registry.attach(key, customer(registry), operator=OP)
    assert registry.tag(key).state == state


def test_retire_needs_a_reason_and_a_known_tag(registry: Registry):
    key = tag_in(registry, "issued")
    with pytest.raises(TransitionRefused, match="reason"):
        registry.retire(key, reason=" ", operator=OP)
    with pytest.raises(UnknownEntity):
        registry.retire(new_uid(), reason="lost", operator=OP)


# -- customers and providers -----------------------------------------------------------------
def test_customer_move_keeps_the_tag_which_counts_for_the_new_provider(registry: Registry):
    key = tag_in(registry, "active")
    ref = registry.tag(key).customer
    registry.move_customer(ref, "P-2", operator=OP, reason="customer's choice")
    record = registry.tag(key)
    assert (record.state, record.customer, record.provider, record.issued_to) == (
        "active",
        ref,
        "P-2",
        "P-1",
    )
    assert registry.provider("P-2").active == 1 and registry.provider("P-1").active == 0
    moved = registry.history(key)[-1]
    assert moved.action == "tag.provider_changed" and moved.details["to"] == "P-2"


def test_customer_move_to_the_same_or_an_unknown_provider_is_refused(registry: Registry):
    ref = customer(registry)
    with pytest.raises(TransitionRefused, match="already with provider P-1"):
        registry.move_customer(ref, "P-1", operator=OP)
    with pytest.raises(UnknownEntity, match="no provider P-9"):
        registry.move_customer(ref, "P-9", operator=OP)


def test_duplicates_are_refused(registry: Registry):
    with pytest.raises(DuplicateEntity):
        registry.add_provider("P-1", "again", operator=OP)
    ref = customer(registry)
    with pytest.raises(DuplicateEntity, match="provider P-1"):
        registry.add_customer(ref, "P-2", operator=OP)


def test_unknown_provider_for_a_customer_and_bad_references_are_refused(registry: Registry):
    with pytest.raises(UnknownEntity, match="no provider P-9"):
        registry.add_customer("ext:x1", "P-9", operator=OP)
    with pytest.raises(InvalidInput, match="not a customer reference"):
        registry.add_customer("198112189876", "P-1", operator=OP)


def test_invalid_input_is_not_reported_as_an_unknown_entity(registry: Registry):
    with pytest.raises(InvalidInput, match="invalid provider id") as caught:
        registry.add_provider("P 1/x", "Bad id", operator=OP)
    assert not isinstance(caught.value, UnknownEntity)
    with pytest.raises(InvalidInput, match="negative"):
        registry.add_provider("P-7", "Negative", operator=OP, spare=-1)


# -- quota -----------------------------------------------------------------------------------
def test_allowance_follows_the_policy_formula(registry: Registry):
    for _ in range(3):
        customer(registry)
    status = registry.provider("P-1")
    assert (status.customers_without_tag, status.unattached, status.allowance) == (3, 0, 5)
    for _ in range(5):
        tag_in(registry, "in_stock")
    registry.pickup("P-1", 2, operator=OP)
    assert registry.provider("P-1").allowance == 3
    with pytest.raises(QuotaExceeded, match="provider P-1 may hold 3 more unattached tags; 4 "):
        registry.pickup("P-1", 4, operator=OP)


def test_own_policy_is_audited_and_default_restorable(registry: Registry):
    customer(registry, "P-2")
    status = registry.set_policy("P-2", per_customer=2, spare=0, operator=OP, reason="contract")
    assert (status.allowance, status.policy_source) == (2, "provider")
    status = registry.set_policy("P-2", per_customer=None, spare=None, operator=OP)
    assert (status.allowance, status.policy_source) == (3, "default")
    with registry.store.read() as conn:
        actions = conn.execute(
            text("SELECT action FROM audit WHERE subject = 'provider:P-2' ORDER BY seq")
        ).scalars()
        assert list(actions) == ["provider.added", "provider.policy", "provider.policy"]


def test_a_refused_pickup_changes_nothing(registry: Registry):
    tag_in(registry, "in_stock")
    registry.set_policy("P-2", per_customer=0, spare=0, operator=OP)
    head = registry.verify_audit().head_seq
    with pytest.raises(QuotaExceeded) as info:
        registry.pickup("P-2", 1, operator=OP)
    assert (info.value.allowance, info.value.requested) == (0, 1)
    assert registry.verify_audit().head_seq == head


def test_every_change_is_in_the_verified_audit_chain(registry: Registry):
    for state in ALL:
        tag_in(registry, state)
    result = registry.verify_audit()
    assert result.ok and result.rows == result.head_seq > 10
