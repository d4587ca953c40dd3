"""Seed a test-rig registry from a scenario, through the registry's real lifecycle API.

A daemon replaying a scenario enriches every tap from its registry, so the registry must
know the scenario's world: ``rig seed`` loads it the way the desk and the coordinators
would have built it, one audited step at a time, with the operator of the command:

- each provider: ``add_provider``;
- each customer: ``add_customer`` as ``ext:<scenario id>`` (an external id: a scenario has
  no personnummer, and a rig never needs one);
- each tag the scenario knows (active or retired): ``record_provisioned`` into the batch
  ``rig:<scenario name>`` (with a random token, as a real batch; the audit row says it was
  seeded, not written to a chip);
- an active tag: ``pickup_tags`` by the customer's provider (within its quota), then
  ``attach`` to the customer;
- a retired tag that belonged to a customer: picked up, attached and then retired
  ("replaced"), the history of an old sticker; one without a customer is retired from
  stock. Retired tags are seeded before the active ones, so each customer's current tag
  is the one left active;
- a customer whose care ended: ``end_customer`` (the door's tag is retired with the
  reason); one with a digital lock: ``set_lock`` (its tag stays, listed for collection);
- an ``issued`` tag: picked up by its customer's provider (within its quota), after the
  active ones, and not attached;
- ``unknown`` tags are not loaded: that is what makes them unknown. A registry that does
  know one is refused, since the scenario's expected anomaly would then be wrong.

Idempotent: what already exists in the state the scenario expects is skipped, a tag left
half-way (in stock or issued) by an interrupted run is taken on from where it is, and a
second run changes nothing and says so. Anything that contradicts the scenario (a customer
with another provider, a tag in another state) is refused with a one-line reason.

Never a production registry: the rig's registry is its own SQLite file (``--registry
sqlite:///rig-registry.db`` or a rig config). As a guard, a registry holding batches that
are not rig seeds (``rig:...``) is refused: that is a desk's registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from nfcbridge.rig.scenario import Scenario, Tag
from provisioning.batch_token import new_token
from provisioning.errors import TransitionRefused
from provisioning.records import TagRecord
from provisioning.registry import Registry

BATCH_PREFIX = "rig:"
RETIRE_REASON = "replaced by a newer tag (rig seed)"


class SeedRefused(TransitionRefused):
    """The registry contradicts the scenario, or is not a test-rig registry (exit 7)."""


def customer_ref(customer_id: str) -> str:
    return f"ext:{customer_id}"


def batch_name(scenario: Scenario) -> str:
    return BATCH_PREFIX + scenario.name


def _no_counts() -> dict[str, int]:
    return dict.fromkeys(("providers", "customers", "active", "retired", "issued"), 0)


@dataclass
class SeedResult:
    batch: str
    added: dict[str, int] = field(default_factory=_no_counts)
    existing: dict[str, int] = field(default_factory=_no_counts)
    unknown_not_loaded: int = 0

    @property
    def changed(self) -> bool:
        return any(self.added.values())

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "changed": self.changed}


def check_rig_registry(registry: Registry) -> None:
    """Refuse a registry with batches that are not rig seeds: a desk's registry."""
    foreign = [b.name for b in registry.batches() if not b.name.startswith(BATCH_PREFIX)]
    if foreign:
        raise SeedRefused(
            f"this registry holds provisioning batches ({', '.join(sorted(foreign)[:3])}): "
            "rig seed only loads a test-rig registry (a separate SQLite file)"
        )


def seed_registry(
    registry: Registry,
    scenario: Scenario,
    *,
    operator: str,
    progress: Callable[[str], None] | None = None,
) -> SeedResult:
    """Load *scenario*'s providers, customers and tags into *registry* (module docstring)."""
    check_rig_registry(registry)
    say = progress or (lambda _msg: None)
    result = SeedResult(batch_name(scenario))
    _providers(registry, scenario, operator, result)
    _customers(registry, scenario, operator, result)
    say(
        f"providers {len(scenario.providers)}, customers {len(scenario.customers)} "
        f"({result.added['customers']} added)"
    )
    registry.open_batch(result.batch, operator=operator)
    retired = [t for t in scenario.tags.values() if t.state == "retired"]
    active = [t for t in scenario.tags.values() if t.state == "active"]
    for tag in scenario.tags.values():
        if tag.state == "unknown":
            _check_unknown(registry, tag)
            result.unknown_not_loaded += 1
    for tag in retired:
        _retired(registry, scenario, tag, operator, result)
    _active(registry, scenario, active, operator, result)
    _customer_life(registry, scenario, operator)
    for tag in scenario.tags.values():
        if tag.state == "issued":
            _issued(registry, scenario, tag, operator, result)
    say(
        f"tags: {result.added['active']} attached, {result.added['retired']} retired, "
        f"{result.added['issued']} issued, "
        f"{sum(result.existing[k] for k in ('active', 'retired', 'issued'))} already there, "
        f"{result.unknown_not_loaded} unknown (not loaded)"
    )
    return result


# -- steps ------------------------------------------------------------------------------------
def _customer_life(reg: Registry, s: Scenario, operator: str) -> None:
    """Ended customers (their tag retired with the reason) and digital locks; idempotent."""
    for customer in s.customers.values():
        ref = customer_ref(customer.id)
        record = reg.customer(ref)
        if customer.end_reason and customer.ended_on and record.status != "ended":
            on = date.fromisoformat(customer.ended_on)
            reg.end_customer(ref, reason=customer.end_reason, on=on, operator=operator)
        elif customer.lock_installed and record.status == "active":
            on = date.fromisoformat(customer.lock_installed)
            reg.set_lock(ref, installed=on, operator=operator)


def _providers(reg: Registry, s: Scenario, operator: str, result: SeedResult) -> None:
    known = {p.id for p in reg.providers()}
    for pid in sorted(s.providers):
        if pid in known:
            result.existing["providers"] += 1
        else:
            reg.add_provider(pid, pid, operator=operator)
            result.added["providers"] += 1


def _customers(reg: Registry, s: Scenario, operator: str, result: SeedResult) -> None:
    known = {c.ref: c.provider for c in reg.customers()}
    for customer in s.customers.values():
        ref = customer_ref(customer.id)
        owner = known.get(ref)
        if owner is None:
            reg.add_customer(ref, customer.provider, operator=operator)
            result.added["customers"] += 1
        elif owner == customer.provider:
            result.existing["customers"] += 1
        else:
            raise SeedRefused(
                f"customer {ref} is with provider {owner} in the registry, "
                f"{customer.provider} in the scenario"
            )


def _check_unknown(reg: Registry, tag: Tag) -> None:
    found = reg.tag_status(tag.uid)
    if found is not None:
        raise SeedRefused(
            f"tag {tag.uid} is unknown in the scenario but the registry has it ({found.state})"
        )


def _provision(reg: Registry, s: Scenario, tag: Tag, batch: str, operator: str) -> TagRecord:
    """The tag as the registry has it, recorded into stock first if it is new."""
    found = reg.tag_status(tag.uid)
    if found is not None:
        return found
    return reg.record_provisioned(
        tag.uid,
        tag.product,
        new_token(12),
        batch,
        operator,
        details={"seeded_from": s.source, "note": "rig seed: not written to a chip"},
    )


def _retired(reg: Registry, s: Scenario, tag: Tag, operator: str, result: SeedResult) -> None:
    state = _provision(reg, s, tag, result.batch, operator).state
    if state == "retired":
        result.existing["retired"] += 1
        return
    if state not in ("in_stock", "issued", "active"):
        raise SeedRefused(f"tag {tag.uid} is {state} in the registry, retired in the scenario")
    customer = s.customers.get(tag.customer or "")
    if customer is not None and state != "active":
        ref = customer_ref(customer.id)
        if reg.customer(ref).active_tag is None:  # else: it never made it to the door
            if state == "in_stock":
                reg.pickup_tags(customer.provider, [tag.uid], operator=operator)
            reg.attach(tag.uid, ref, operator=operator)
    reg.retire(tag.uid, reason=RETIRE_REASON, operator=operator)
    result.added["retired"] += 1


def _issued(reg: Registry, s: Scenario, tag: Tag, operator: str, result: SeedResult) -> None:
    """Picked up by the provider of the customer it is meant for, not attached (yet)."""
    assert tag.customer is not None  # the scenario parser requires it
    provider = s.customers[tag.customer].provider
    found = _provision(reg, s, tag, result.batch, operator)
    if found.state == "issued" and found.provider == provider:
        result.existing["issued"] += 1
        return
    if found.state != "in_stock":
        raise SeedRefused(
            f"tag {tag.uid} is {found.state.replace('_', ' ')} in the registry, "
            f"issued to {provider} in the scenario"
        )
    reg.pickup_tags(provider, [tag.uid], operator=operator)
    result.added["issued"] += 1


def _active(reg: Registry, s: Scenario, tags: list[Tag], operator: str, result: SeedResult) -> None:
    to_pick: dict[str, list[str]] = {}
    to_attach: list[Tag] = []
    for tag in tags:
        assert tag.customer is not None  # the scenario parser requires it
        customer = s.customers[tag.customer]
        ref = customer_ref(customer.id)
        found = _provision(reg, s, tag, result.batch, operator)
        if found.state == "active" and found.customer == ref:
            result.existing["active"] += 1
            continue
        if found.state == "retired" and found.customer == ref and customer.end_reason:
            result.existing["active"] += 1  # retired by the customer's end (a rerun)
            continue
        if found.state == "in_stock":
            to_pick.setdefault(customer.provider, []).append(tag.uid)
        elif not (found.state == "issued" and found.provider == customer.provider):
            where = found.state.replace("_", " ")
            if found.provider:
                where += f" (provider {found.provider}, customer {found.customer or '-'})"
            raise SeedRefused(
                f"tag {tag.uid} is {where} in the registry, active on {ref} in the scenario"
            )
        to_attach.append(tag)
    for provider, uids in sorted(to_pick.items()):
        reg.pickup_tags(provider, uids, operator=operator)
    for tag in to_attach:
        assert tag.customer is not None
        reg.attach(tag.uid, customer_ref(tag.customer), operator=operator)
        result.added["active"] += 1
