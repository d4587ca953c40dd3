"""The audit trail: append-only, hash-chained.

Each row's ``hash`` is SHA-256 over a canonical JSON encoding of the row (seq, at, operator,
action, subject, details, reason, and ``os_user`` when not empty: the operating-system user
who ran the program, beside the operator they declared) and the previous row's hash. The
``audit_head`` row holds the last seq and hash and is updated in the same transaction as
every append; appends lock it (``FOR UPDATE`` on PostgreSQL, the write lock on SQLite), so
the chain is linear.

What ``verify`` detects: a modified row (its hash no longer matches), a deleted row (a gap in
seq and a broken prev_hash link), a truncated tail (fewer rows than the head says, or a last
hash that differs from the head), rows appended behind the head's back.

The limit, honestly: the chain is not keyed. Someone who can write to the database can
rewrite a row, recompute every later hash and update the head, and nothing inside the
database can tell. Against that, record the head (``audit verify`` prints seq and hash)
somewhere else, e.g. with each monthly invoice report, and check it later with
``audit verify --anchor SEQ:HASH``: a rewritten history no longer contains that anchor.
The database triggers that refuse UPDATE/DELETE on ``audit`` stop mistakes, not an
administrator.

``verify`` also rebuilds the state the trail describes and compares it with the tables
(``provisioning.audit_state``): a table edited behind the trail's back is named row by row.
"""

from __future__ import annotations

import datetime as dt
import functools
import getpass
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from provisioning.identity import refuse_personnummer
from provisioning.schema import audit, audit_head

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def format_at(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(
    *,
    seq: int,
    at: str,
    operator: str,
    action: str,
    subject: str,
    details: str,
    reason: str,
    prev_hash: str,
    os_user: str = "",
) -> str:
    fields = {
        "seq": seq,
        "at": at,
        "operator": operator,
        "action": action,
        "subject": subject,
        "details": details,
        "reason": reason,
        "prev_hash": prev_hash,
    }
    if os_user:  # rows from before revision 0006_issue12 have none and hash as they did
        fields["os_user"] = os_user
    body = canonical_json(fields)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    operator: str
    action: str
    subject: str
    details: dict[str, Any]
    reason: str
    hash: str
    os_user: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "operator": self.operator,
            "os_user": self.os_user,
            "action": self.action,
            "subject": self.subject,
            "details": self.details,
            "reason": self.reason,
            "hash": self.hash,
        }


@functools.cache
def os_user() -> str:
    """Who runs this program, as the operating system knows them."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def append(
    conn: Connection,
    *,
    operator: str,
    action: str,
    subject: str,
    details: Mapping[str, Any] | None = None,
    reason: str = "",
    at: dt.datetime | None = None,
) -> AuditEntry:
    """Append one row in the caller's transaction (which must be a write transaction).

    The operator and the reason are free text kept for good: one holding a personnummer is
    refused (``PersonnummerRefused``), and the transaction with it.
    """
    refuse_personnummer(operator, "the operator")
    refuse_personnummer(reason, "the reason")
    head = conn.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
    ).one()
    seq = head.seq + 1
    stamp = format_at(at or utc_now())
    body = canonical_json(dict(details or {}))
    user = os_user()
    digest = row_hash(
        seq=seq,
        at=stamp,
        operator=operator,
        action=action,
        subject=subject,
        details=body,
        reason=reason,
        prev_hash=head.hash,
        os_user=user,
    )
    conn.execute(
        insert(audit).values(
            seq=seq,
            at=stamp,
            operator=operator,
            action=action,
            subject=subject,
            details=body,
            reason=reason,
            os_user=user,
            prev_hash=head.hash,
            hash=digest,
        )
    )
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=digest))
    return AuditEntry(
        seq, stamp, operator, action, subject, dict(details or {}), reason, digest, user
    )


def entries(conn: Connection, subject: str | None = None) -> Iterator[AuditEntry]:
    query = select(audit).order_by(audit.c.seq)
    if subject is not None:
        query = query.where(audit.c.subject == subject)
    for row in conn.execute(query):
        yield AuditEntry(
            row.seq,
            row.at,
            row.operator,
            row.action,
            row.subject,
            json.loads(row.details),
            row.reason,
            row.hash,
            row.os_user,
        )


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""
    differences: tuple[str, ...] = ()  # tables that disagree with the trail, row by row

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
            "differences": list(self.differences),
        }


def verify(
    conn: Connection, anchor: tuple[int, str] | None = None, *, state: bool = True
) -> VerifyResult:
    """Recompute the chain; report the first bad seq and what is wrong there. With *state*,
    then compare the tables with the state the trail describes (``audit_state``)."""
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1))
    head_row = head.one_or_none()
    if head_row is None:
        return VerifyResult(False, 0, 0, "", 1, "audit head row is missing")
    head_seq, head_hash = head_row.seq, head_row.hash
    expected_seq, prev, rows = 1, GENESIS, 0
    anchor_seen = anchor is None
    purged: dict[str, str] = {}  # seq -> hash of a purged row's present content
    purge_records: dict[str, str] = {}  # seq -> that hash, as the purge's own audit row says

    def bad(seq: int, problem: str) -> VerifyResult:
        return VerifyResult(False, rows, head_seq, head_hash, seq, problem)

    for row in conn.execution_options(yield_per=5000).execute(select(audit).order_by(audit.c.seq)):
        rows += 1
        if row.seq != expected_seq:
            return bad(expected_seq, f"row {expected_seq} is missing (next row is {row.seq})")
        if row.prev_hash != prev:
            return bad(row.seq, f"row {row.seq} does not link to row {row.seq - 1}")
        digest = row_hash(
            seq=row.seq,
            at=row.at,
            operator=row.operator,
            action=row.action,
            subject=row.subject,
            details=row.details,
            reason=row.reason,
            prev_hash=row.prev_hash,
            os_user=row.os_user,
        )
        if row.purged:  # its original hash still links the chain; its content: see below
            purged[str(row.seq)] = digest
        elif digest != row.hash:
            return bad(row.seq, f"row {row.seq} was modified (hash mismatch)")
        elif row.action == "customer.purged":
            purge_records.update(json.loads(row.details).get("rows", {}))
        if anchor is not None and row.seq == anchor[0]:
            if row.hash != anchor[1]:
                return bad(row.seq, f"row {row.seq} differs from the recorded anchor")
            anchor_seen = True
        prev, expected_seq = row.hash, expected_seq + 1
    last = expected_seq - 1
    if last < head_seq:
        return bad(last + 1, f"rows {last + 1}..{head_seq} are missing (truncated tail)")
    if last > head_seq:
        return bad(head_seq + 1, f"rows after {head_seq} were added behind the head")
    if prev != head_hash:
        return bad(last, f"row {last} does not match the audit head")
    if not anchor_seen:
        return bad(anchor[0] if anchor else 0, "the anchor row does not exist")
    for seq, digest in purged.items():
        if purge_records.get(seq) != digest:
            return bad(int(seq), f"row {seq} was modified after its purge (or never purged)")
    from provisioning.audit_state import differences

    found = tuple(differences(conn)) if state else ()
    if found:
        return VerifyResult(
            False, rows, head_seq, head_hash, None, f"{len(found)} table rows differ", found
        )
    return VerifyResult(True, rows, head_seq, head_hash)
