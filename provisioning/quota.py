"""Quota: how many unattached tags a provider may hold.

allowance = per_customer x (customers of the provider without an active tag)
            + spare - (tags issued to the provider and not attached yet)

The default policy comes from the settings (``[quota]``); a provider may carry its own
``per_customer`` and ``spare`` (set with ``provider add/set``, audited). The allowance may
be negative when customers leave or a policy is lowered: the provider then may pick up
nothing until it attaches or returns tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provisioning.errors import InvalidInput, QuotaExceeded

if TYPE_CHECKING:
    from provisioning.records import ProviderStatus


@dataclass(frozen=True)
class QuotaPolicy:
    per_customer: int = 1
    spare: int = 2

    def __post_init__(self) -> None:
        if self.per_customer < 0 or self.spare < 0:
            raise InvalidInput("quota policy values must not be negative")

    def allowance(self, *, customers_without_tag: int, unattached: int) -> int:
        return self.per_customer * customers_without_tag + self.spare - unattached

    def describe(self) -> str:
        return f"{self.per_customer} per customer without an active tag + {self.spare} spare"


def check_pickup(status: ProviderStatus, requested: int) -> None:
    """Refuse a pickup beyond the allowance, with the numbers, how they make the allowance,
    and what the provider can do."""
    allowance = status.allowance
    if requested <= allowance:
        return
    may = max(allowance, 0)
    policy = "its own policy" if status.policy_source == "provider" else "the default policy"
    raise QuotaExceeded(
        f"provider {status.id} may hold {may} more unattached "
        f"tag{'' if may == 1 else 's'}; {requested} requested. Allowance = "
        f"{status.customers_without_tag} customers needing a tag x {status.per_customer} per "
        f"customer + {status.spare} spare - {status.unattached} held unattached = {allowance} "
        f"({policy}). To pick up more: put the tags it holds on its customers' doors "
        f"(`attach`), register the customers who still need one (`customer add`), or change "
        f"the policy (`provider policy {status.id} --spare N`).",
        allowance=allowance,
        requested=requested,
    )


@dataclass(frozen=True)
class AllowanceExplanation:
    """How a provider's allowance comes about, term by term: the one source both the CLI's
    ``provider show`` and the web app's pickup page render (each in its own words), so they
    cannot disagree. Customers who ended or have a digital lock need no tag."""

    customers: int
    needing: int  # not ended, no lock
    with_lock: int
    ended: int
    needing_without: int  # needing a tag and without an active one
    per_customer: int
    spare: int
    own_policy: bool
    held: int  # issued to the provider, not on a door
    allowance: int  # may be negative
    on_doors: int
    to_collect: int

    @property
    def may_pick_up(self) -> int:
        return max(self.allowance, 0)


def explain_allowance(status: dict[str, Any]) -> AllowanceExplanation:
    """The terms of *status* (``ProviderStatus.as_dict()``), checked to add up."""
    found = AllowanceExplanation(
        customers=status["customers"],
        needing=status["customers_needing_tag"],
        with_lock=status["customers_with_lock"],
        ended=status["customers_ended"],
        needing_without=status["customers_without_tag"],
        per_customer=status["per_customer"],
        spare=status["spare"],
        own_policy=status["policy_source"] == "provider",
        held=status["unattached"],
        allowance=status["allowance"],
        on_doors=status["active"],
        to_collect=status["to_collect"],
    )
    terms = found.needing_without * found.per_customer + found.spare - found.held
    if terms != found.allowance:  # a new term in the rule must be explained, not hidden
        raise AssertionError(f"allowance {found.allowance} is not its terms ({terms})")
    return found
