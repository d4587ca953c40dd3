"""Spot checks: is the tag on the door the one the registry knows, in the state it was left?

A case officer (or the municipality on a home visit) holds a reader to a door's tag;
``nfcbridge tag check`` reads it once (``read_chip``: GET_VERSION, READ_SIG, the lock pages
and the NDEF message, nothing written) and ``judge`` compares the reading with the registry.
The checks, in order, each passed, failed or skipped (nothing to compare with)::

    known      the UID is in the registry
    active     the tag is active, i.e. attached to a customer's door (not in stock, issued,
               spoiled or retired)
    customer   attached to the customer asked about (``--customer``; skipped without it)
    chip       an NXP NTAG21x (GET_VERSION; a clone with a foreign vendor byte fails here)
    signature  the NXP originality signature is genuine (the provisioning rule: the
               emulator's test key passes only on a mock reader or when configured)
    lock       locked permanently: CC read-only, static and dynamic lock bits, CFGLCK
    ndef       the NDEF message is byte for byte the one written at provisioning: its
               SHA-256 equals ``tags.ndef_sha256`` (tags provisioned before that column
               existed: the URI holds the registry's token)

``record`` writes the result in one transaction: an audit row ``tag.spot_check`` (who, when,
the customer and provider, passed or which checks failed) and a ``spot_checks`` row that
``checks_report`` counts per provider and month. The registry keeps only a hash of the
message, never a copy of anything personal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import ndef
from sqlalchemy import insert, select

from drivers.errors import TagUnsupported
from drivers.lockbits import LockLevel, LockState
from drivers.ntag import Ntag21x
from drivers.signature import Verdict
from provisioning import audit
from provisioning.batch_checks import signature_refusal
from provisioning.batch_token import BatchSettings, ndef_digest
from provisioning.records import TagRecord
from provisioning.registry import Registry
from provisioning.schema import customers, spot_checks

CHECKS = ("known", "active", "customer", "chip", "signature", "lock", "ndef")
ACTION = "tag.spot_check"
PASS, FAIL, SKIP = "pass", "fail", "skipped"


@dataclass(frozen=True)
class ChipReading:
    """What a spot check read from the tag (never written to)."""

    uid: str
    product: str | None  # None: GET_VERSION refused it (``unsupported`` says why)
    unsupported: str | None
    verdict: Verdict | None
    lock: LockState | None
    ndef_message: bytes | None
    ndef_uris: tuple[str, ...] = ()


def read_chip(tag: Ntag21x) -> ChipReading:
    """Identify, READ_SIG, the lock pages and the NDEF message: a handful of commands."""
    try:
        product = tag.identify()
    except TagUnsupported as exc:
        return ChipReading(tag.uid_hex, None, str(exc), None, None, None)
    verdict = tag.originality()
    content = tag.read_ndef()
    uris = tuple(r.iri for r in content.records if isinstance(r, ndef.UriRecord))
    return ChipReading(
        uid=tag.uid_hex,
        product=product.name,
        unsupported=None if product.is_ntag else f"{product.name} is not an NTAG21x",
        verdict=verdict,
        lock=tag.lock_state(),
        ndef_message=content.message,
        ndef_uris=uris,
    )


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass | fail | skipped
    detail: str = ""


@dataclass(frozen=True)
class SpotCheckResult:
    uid: str
    customer: str | None  # the customer asked about, else the one the tag is attached to
    provider: str | None  # that customer's provider
    checks: tuple[Check, ...]
    operator: str = ""
    at: str = ""
    audit_seq: int | None = None

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks if c.status == FAIL)

    @property
    def passed(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """``passed`` or ``failed: lock (static lock, CFGLCK), ndef (...)``."""
        if self.passed:
            return "passed"
        return "failed: " + ", ".join(
            f"{c.name} ({c.detail})" if c.detail else c.name
            for c in self.checks
            if c.status == FAIL
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "customer": self.customer,
            "provider": self.provider,
            "passed": self.passed,
            "failed": list(self.failed),
            "checks": {c.name: {"result": c.status, "detail": c.detail} for c in self.checks},
            "operator": self.operator,
            "at": self.at,
            "audit_seq": self.audit_seq,
        }


def missing_lock_parts(lock: LockState) -> list[str]:
    """What a full permanent lock sets that this tag lacks."""
    missing = []
    if not lock.cc_read_only:
        missing.append("CC")
    if not lock.static_complete:
        missing.append("static lock")
    if not lock.dynamic_complete:
        missing.append("dynamic lock")
    if lock.has_cfglck and not lock.cfglck:
        missing.append("CFGLCK")
    return missing


def _ndef_check(record: TagRecord | None, reading: ChipReading) -> Check:
    if record is None or (record.ndef_sha256 is None and record.token is None):
        return Check("ndef", SKIP, "nothing recorded to compare with")
    if reading.ndef_message is None:
        return Check("ndef", FAIL, "no NDEF message on the tag")
    if record.ndef_sha256 is not None:
        if ndef_digest(reading.ndef_message) == record.ndef_sha256:
            return Check("ndef", PASS)
        return Check("ndef", FAIL, "content differs from what was written at provisioning")
    assert record.token is not None
    if any(uri.endswith(record.token) for uri in reading.ndef_uris):
        return Check("ndef", PASS, "compared by token (provisioned before hashes were kept)")
    return Check("ndef", FAIL, "the URI does not hold the tag's token")


def judge(
    record: TagRecord | None,
    reading: ChipReading,
    *,
    expected_customer: str | None,
    settings: BatchSettings,
    on_mock: bool,
) -> tuple[Check, ...]:
    """Every check of the module docstring, from the registry's record and the reading."""
    checks = [Check("known", PASS if record else FAIL, "" if record else "UID not in registry")]
    if record is None:
        checks.append(Check("active", SKIP))
    elif record.state != "active" or record.customer is None:
        checks.append(Check("active", FAIL, f"tag is {record.state.replace('_', ' ')}"))
    else:
        checks.append(Check("active", PASS))
    if expected_customer is None or record is None:
        checks.append(Check("customer", SKIP))
    elif record.customer != expected_customer or record.state != "active":
        where = f"attached to {record.customer}" if record.state == "active" else "not attached"
        checks.append(Check("customer", FAIL, f"not on {expected_customer}'s door: {where}"))
    else:
        checks.append(Check("customer", PASS))
    if reading.unsupported is not None or reading.verdict is None or reading.lock is None:
        checks.append(Check("chip", FAIL, reading.unsupported or "unreadable"))
        checks += [Check(name, SKIP) for name in ("signature", "lock", "ndef")]
        return tuple(checks)
    checks.append(Check("chip", PASS, reading.product or ""))
    refusal = signature_refusal(reading.verdict, settings, on_mock=on_mock)
    checks.append(Check("signature", FAIL if refusal else PASS, refusal or reading.verdict.value))
    missing = missing_lock_parts(reading.lock)
    if reading.lock.level is LockLevel.LOCKED and not missing:
        checks.append(Check("lock", PASS))
    else:
        checks.append(Check("lock", FAIL, ", ".join(missing) + " not set"))
    checks.append(_ndef_check(record, reading))
    return tuple(checks)


def spot_check(
    registry: Registry,
    reading: ChipReading,
    *,
    operator: str,
    expected_customer: str | None = None,
    settings: BatchSettings | None = None,
    on_mock: bool = False,
) -> SpotCheckResult:
    """Judge *reading* against the registry and record the result (audit + spot_checks)."""
    record = registry.tag_status(reading.uid)
    checks = judge(
        record,
        reading,
        expected_customer=expected_customer,
        settings=settings or BatchSettings(),
        on_mock=on_mock,
    )
    customer = expected_customer or (record.customer if record else None)
    result = SpotCheckResult(reading.uid, customer, None, checks, operator)
    return _record(registry, result)


def _record(registry: Registry, result: SpotCheckResult) -> SpotCheckResult:
    now = audit.utc_now()
    with registry.store.write() as conn:
        provider = None
        if result.customer is not None:
            provider = conn.execute(
                select(customers.c.provider_id).where(customers.c.ref == result.customer)
            ).scalar()
        entry = audit.append(
            conn,
            operator=result.operator,
            action=ACTION,
            subject=f"tag:{result.uid}",
            details={
                "customer": result.customer,
                "provider": provider,
                "passed": result.passed,
                "failed": list(result.failed),
                "checks": {c.name: c.status for c in result.checks},
            },
            at=now,
        )
        conn.execute(
            insert(spot_checks).values(
                at=now,
                month=now.strftime("%Y-%m"),
                operator=result.operator,
                uid=result.uid,
                customer_ref=result.customer,
                provider_id=provider,
                passed=result.passed,
                failed=",".join(result.failed),
                audit_seq=entry.seq,
            )
        )
    return SpotCheckResult(
        result.uid, result.customer, provider, result.checks, result.operator, entry.at, entry.seq
    )


def checks_report(registry: Registry, month: str, *, listing: bool = False) -> list[dict[str, Any]]:
    """Spot checks of *month* (YYYY-MM): per provider (checks, passed, failed, failure rate,
    failures per check), or with *listing* every check, grouped by provider."""
    from provisioning.reports import check_month

    check_month(month)
    query = (
        select(spot_checks)
        .where(spot_checks.c.month == month)
        .order_by(spot_checks.c.provider_id, spot_checks.c.at, spot_checks.c.id)
    )
    with registry.store.read() as conn:
        rows = conn.execute(query).all()
    if listing:
        return [
            {
                "provider": r.provider_id,
                "at": _iso(r.at),
                "operator": r.operator,
                "uid": r.uid,
                "customer": r.customer_ref,
                "result": "passed" if r.passed else "failed",
                "failed": r.failed,
            }
            for r in rows
        ]
    per: dict[str | None, dict[str, Any]] = {}
    for r in rows:
        entry = per.setdefault(r.provider_id, {"checks": 0, "failed": 0, "by_check": {}})
        entry["checks"] += 1
        if not r.passed:
            entry["failed"] += 1
            for name in filter(None, r.failed.split(",")):
                entry["by_check"][name] = entry["by_check"].get(name, 0) + 1
    return [
        {
            "month": month,
            "provider": pid,
            "checks": e["checks"],
            "passed": e["checks"] - e["failed"],
            "failed": e["failed"],
            "failure_rate": round(e["failed"] / e["checks"], 4),
            "failed_checks": " ".join(
                f"{name}:{e['by_check'][name]}" for name in CHECKS if name in e["by_check"]
            ),
        }
        for pid, e in per.items()
    ]


def _iso(moment: dt.datetime) -> str:
    return audit.format_at(moment)


__all__ = [
    "CHECKS",
    "Check",
    "ChipReading",
    "SpotCheckResult",
    "checks_report",
    "judge",
    "read_chip",
    "spot_check",
]
