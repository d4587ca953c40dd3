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

from provisioning.errors import InvalidInput, QuotaExceeded


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


def check_pickup(provider_id: str, allowance: int, requested: int) -> None:
    """Refuse a pickup beyond the allowance, with the numbers."""
    if requested > allowance:
        may = max(allowance, 0)
        raise QuotaExceeded(
            f"provider {provider_id} may hold {may} more unattached "
            f"tag{'' if may == 1 else 's'}; {requested} requested",
            allowance=allowance,
            requested=requested,
        )
