"""What the registry hands out: immutable records, and the one UID normaliser."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from provisioning.errors import UnknownEntity

_HEX = re.compile(r"^[0-9A-F]+$")
UID_LENGTHS = (4, 7, 10)  # single, double, triple size UIDs


def uid_hex(uid: bytes | str) -> str:
    """Upper-case hex of a UID given as bytes or hex text (``04:a1 b2`` separators allowed)."""
    if isinstance(uid, bytes | bytearray):
        text = bytes(uid).hex().upper()
    else:
        text = re.sub(r"[\s:-]", "", uid).upper()
    if not _HEX.match(text) or len(text) // 2 not in UID_LENGTHS or len(text) % 2:
        raise UnknownEntity(f"not a tag UID: {uid!r} (expected 4, 7 or 10 bytes in hex)")
    return text


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class _Record:
    def as_dict(self) -> dict[str, Any]:
        return {k: _jsonable(v) for k, v in asdict(self).items()}  # type: ignore[call-overload]


@dataclass(frozen=True)
class TagRecord(_Record):
    uid: str
    state: str
    product: str | None
    batch: str | None
    provider: str | None  # the provider it counts for now (issued or active)
    customer: str | None  # customer reference (pseudonym or ext:), when attached
    issued_to: str | None  # the provider it was handed to at pickup (invoicing)
    created_at: dt.datetime
    issued_at: dt.datetime | None
    attached_at: dt.datetime | None
    ended_at: dt.datetime | None
    token: str | None = None
    ndef_sha256: str | None = None  # hash of the NDEF message written at provisioning


@dataclass(frozen=True)
class TapContext(_Record):
    """What the daemon adds to a tap event: small, and read-only to fetch."""

    state: str
    customer: str | None
    provider: str | None
    customer_status: str | None = None  # "active", "lock" or "ended" when on a customer
    sun_key_version: int | None = None  # a SUN tag (NTAG 424 DNA): its key version


@dataclass(frozen=True)
class ProviderStatus(_Record):
    id: str
    name: str
    per_customer: int
    spare: int
    policy_source: str  # "provider" (own values) or "default" (settings)
    customers: int  # every customer on record, ended ones included
    customers_without_tag: int  # needing a tag and without an active one
    unattached: int  # issued to it, not yet on a door
    active: int
    allowance: int  # how many more it may pick up now (may be negative)
    customers_ended: int = 0
    customers_with_lock: int = 0  # a digital lock gives the receipt: no tag needed
    customers_needing_tag: int = 0  # not ended, no lock
    to_collect: int = 0  # active tags on doors that now have a lock
    kind: str = "municipal"  # or "private" (invoiced per tag)
    price_per_tag: str | None = None  # SEK, e.g. "25.00"


@dataclass(frozen=True)
class CustomerRecord(_Record):
    ref: str
    provider: str
    active_tag: str | None
    created_at: dt.datetime
    status: str = "active"  # "active", "lock" (digital lock, no tag needed) or "ended"
    ended_on: dt.date | None = None
    end_reason: str | None = None
    lock_installed_on: dt.date | None = None
    household: str | None = None
    label: str | None = None  # the label or colour of its tag on a shared door


@dataclass(frozen=True)
class BatchRecord(_Record):
    name: str
    created_at: dt.datetime
    operator: str
    provisioned: int
    spoiled: int
    attempts: int
    resumed: bool = False  # open_batch found it already there


@dataclass(frozen=True)
class PickupResult(_Record):
    provider: str
    uids: list[str]
    allowance_before: int
    allowance_after: int
    orders_fulfilled: list[int] = field(default_factory=list)  # open orders this covered
