"""The state the audit trail describes, rebuilt and compared with the tables.

The hash chain (``provisioning.audit``) proves the trail was not edited; this proves the
tables were not edited behind it: every write of the registry appends the audit row that
says what it did, so replaying the rows in order gives every provider, customer, batch
counter, pseudonym key and tag's state, provider and customer. ``differences`` names each
row where the tables disagree (a retired tag back in stock, a tag moved to another
customer, a customer given another provider, a row added or removed by hand).

Each action the registry writes has a handler in ``_APPLY``; an action without one is
reported as a difference too, so a new action cannot be forgotten silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from provisioning.audit import AuditEntry, entries
from provisioning.schema import batches, customers, providers, pseudonym_keys, tags


@dataclass
class _Row:
    values: dict[str, Any]
    seq: int


@dataclass
class State:
    providers: dict[str, _Row] = field(default_factory=dict)
    customers: dict[str, _Row] = field(default_factory=dict)
    batches: dict[str, _Row] = field(default_factory=dict)
    tags: dict[str, _Row] = field(default_factory=dict)
    keys: dict[str, _Row] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)


def _key(e: AuditEntry) -> str:
    return e.subject.split(":", 1)[1]


def _set(table: dict[str, _Row], key: str, seq: int, **values: Any) -> None:
    row = table.setdefault(key, _Row({}, seq))
    row.values.update(values)
    row.seq = seq


def _provider_added(s: State, e: AuditEntry) -> None:
    d = e.details
    _set(s.providers, _key(e), e.seq, name=d["name"], per_customer=d.get("per_customer"),
         spare=d.get("spare"))  # fmt: skip


def _provider_policy(s: State, e: AuditEntry) -> None:
    _set(s.providers, _key(e), e.seq, **e.details["to"])


def _customer_added(s: State, e: AuditEntry) -> None:
    _set(s.customers, _key(e), e.seq, provider_id=e.details["provider"])


def _customer_moved(s: State, e: AuditEntry) -> None:
    _set(s.customers, _key(e), e.seq, provider_id=e.details["to"])


def _customer_rekeyed(s: State, e: AuditEntry) -> None:
    old, new = e.details["from"], _key(e)
    s.customers.pop(old, None)
    _set(s.customers, new, e.seq, provider_id=e.details["provider"])
    for row in s.tags.values():
        if row.values.get("customer_ref") == old:
            row.values["customer_ref"] = new


def _customer_purged(s: State, e: AuditEntry) -> None:
    token = _key(e)
    s.customers.pop(token, None)
    for row in s.tags.values():
        if row.values.get("customer_ref") == token:
            row.values["customer_ref"] = None


def _batch_opened(s: State, e: AuditEntry) -> None:
    _set(s.batches, _key(e), e.seq, provisioned=0, spoiled=0, attempts=0)


def _count(s: State, e: AuditEntry, column: str) -> None:
    batch = s.batches.get(e.details.get("batch", ""))
    if batch is not None:
        batch.values[column] += 1


def _tag_provisioned(s: State, e: AuditEntry) -> None:
    _count(s, e, "provisioned")
    _set(s.tags, _key(e), e.seq, state="in_stock", provider_id=None, customer_ref=None)


def _tag_spoiled(s: State, e: AuditEntry) -> None:
    _count(s, e, "spoiled")
    _set(s.tags, _key(e), e.seq, state="spoiled", provider_id=None, customer_ref=None)


def _tag_attempt(s: State, e: AuditEntry) -> None:
    _count(s, e, "attempts")


def _tag_issued(s: State, e: AuditEntry) -> None:
    _set(s.tags, _key(e), e.seq, state="issued", provider_id=e.details["provider"])


def _tag_attached(s: State, e: AuditEntry) -> None:
    _set(s.tags, _key(e), e.seq, state="active", customer_ref=e.details["customer"])


def _tag_retired(s: State, e: AuditEntry) -> None:
    _set(s.tags, _key(e), e.seq, state="retired")


def _tag_provider_changed(s: State, e: AuditEntry) -> None:
    _set(s.tags, _key(e), e.seq, provider_id=e.details["to"])


def _tag_kept_for_cohabitant(s: State, e: AuditEntry) -> None:
    d = e.details
    _set(s.tags, _key(e), e.seq, customer_ref=d["to"], provider_id=d["provider"])


def _key_recorded(s: State, e: AuditEntry) -> None:
    _set(s.keys, _key(e), e.seq, fingerprint=e.details["fingerprint"])


_APPLY: dict[str, Callable[[State, AuditEntry], None]] = {
    "provider.added": _provider_added,
    "provider.policy": _provider_policy,
    "customer.added": _customer_added,
    "customer.moved": _customer_moved,
    "customer.rekeyed": _customer_rekeyed,
    "customer.purged": _customer_purged,
    "batch.opened": _batch_opened,
    "tag.provisioned": _tag_provisioned,
    "tag.spoiled": _tag_spoiled,
    "tag.attempt_failed": _tag_attempt,
    "tag.issued": _tag_issued,
    "tag.attached": _tag_attached,
    "tag.retired": _tag_retired,
    "tag.provider_changed": _tag_provider_changed,
    "tag.kept_for_cohabitant": _tag_kept_for_cohabitant,
    "pseudonym_key.recorded": _key_recorded,
}


# Actions that change none of the compared columns: web accounts, spot checks, a customer's
# end date, lock and household (its tag's retirement or handover is an action of its own),
# billing, orders, closed periods, manual registrations.
_NO_STATE_PREFIXES = (
    "account.",
    "tag.spot_check",
    "customer.ended",
    "customer.lock_",
    "household.",
    "provider.billing",
    "order.",
    "period.",
    "registration.",
)


def rebuild(conn: Connection) -> State:
    state = State()
    for e in entries(conn):
        apply = _APPLY.get(e.action)
        if apply is None and e.action.startswith(_NO_STATE_PREFIXES):
            continue
        if apply is None:
            state.unknown.append(f"audit row {e.seq}: action {e.action} is not known to verify")
        else:
            apply(state, e)
    return state


# (what, table, key column, compared columns, the rebuilt rows)
def _tables(state: State) -> list[tuple[str, Any, str, tuple[str, ...], dict[str, _Row]]]:
    return [
        ("provider", providers, "id", ("name", "per_customer", "spare"), state.providers),
        ("customer", customers, "ref", ("provider_id",), state.customers),
        ("batch", batches, "name", ("provisioned", "spoiled", "attempts"), state.batches),
        ("tag", tags, "uid", ("state", "provider_id", "customer_ref"), state.tags),
        ("pseudonym key", pseudonym_keys, "key_id", ("fingerprint",), state.keys),
    ]


def differences(conn: Connection) -> list[str]:
    """One line per row where the tables and the audit trail disagree, in table order."""
    state = rebuild(conn)
    found = list(state.unknown)
    for what, table, key, columns, rebuilt in _tables(state):
        actual = {
            row[0]: dict(zip(columns, row[1:], strict=True))
            for row in conn.execute(select(table.c[key], *(table.c[c] for c in columns)))
        }
        for name in sorted(rebuilt.keys() | actual.keys()):
            want, have = rebuilt.get(name), actual.get(name)
            if have is None:
                assert want is not None
                found.append(
                    f"{what} {name}: in the audit trail (row {want.seq}), not in the table"
                )
            elif want is None:
                found.append(f"{what} {name}: in the table, but no audit row created it")
            else:
                for column in columns:
                    expected = want.values.get(column)
                    if column in want.values and have[column] != expected:
                        found.append(
                            f"{what} {name}: {column} is {have[column]!r} in the table, "
                            f"{expected!r} by the audit trail (row {want.seq})"
                        )
    return found
