"""Manual registrations: a visit start or end registered without a receipt.

Only for the municipality's accepted reasons (``REASONS``: a technical fault, a visit
started or ended outside the home), each with a note. The registration is a tap event with
``origin: "manual"`` committed through the one tap pipeline (``TapPipeline.manual``), so it
is forwarded like any tap; when the station has a registry it is also written to the
registry's audit trail (``Registry.record_manual``), attributable to the staff member.

The note is personal and must never serve as a care journal (Nacka: purged after 180
days). It stays at the station, in ``<data_dir>/notes.db`` (owner-only): the event and the
audit row carry only its reference and a salted SHA-256 (the salt is kept with the note,
so once the note is purged the hash cannot be tested against guesses). ``NoteStore.purge``
deletes notes older than ``[municipal] manual_note_keep_days``; the daemon runs it at start
and hourly. Nothing hashed in the audit chain changes, so ``audit verify`` still holds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from nfcbridge.errors import Refused
from nfcbridge.events import ManualFacts, RegistryFacts, TapEvent, new_event_id
from nfcbridge.outbox import OutboxError
from nfcbridge.pipeline import TapPipeline
from provisioning.private_file import create_owner_only

log = logging.getLogger("nfcbridge.manual")

REASONS = ("technical_fault", "started_outside", "ended_outside")
KINDS = ("start", "end")
MAX_NOTE = 2000
FUTURE_SLACK = timedelta(minutes=5)  # clocks differ a little; a later visit is not registered


class ManualError(Refused, ValueError):
    """A manual registration that cannot be accepted (the reason is the message)."""


class NoteStore:
    """Notes of manual registrations, local to the station; purged after a period."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        create_owner_only(self.path)  # never a second descriptor on a live database
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA secure_delete=ON")  # a purged note is overwritten on disk
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS notes (ref TEXT PRIMARY KEY, created_at TEXT NOT NULL,"
            " salt TEXT NOT NULL, note TEXT NOT NULL)"
        )

    @staticmethod
    def digest(salt: str, note: str) -> str:
        return hashlib.sha256(bytes.fromhex(salt) + note.encode("utf-8")).hexdigest()

    def add(self, note: str, now: datetime | None = None) -> tuple[str, str]:
        """Keep *note*; returns (reference, salted sha256) for the event."""
        ref, salt = str(uuid.uuid4()), os.urandom(16).hex()
        stamp = (now or datetime.now(UTC)).astimezone(UTC).isoformat()
        with self._lock:
            self._db.execute(
                "INSERT INTO notes (ref, created_at, salt, note) VALUES (?, ?, ?, ?)",
                (ref, stamp, salt, note),
            )
        return ref, self.digest(salt, note)

    def get(self, ref: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT note FROM notes WHERE ref = ?", (ref,)).fetchone()
        return None if row is None else str(row[0])

    def purge(self, keep_days: int, now: datetime | None = None) -> int:
        """Delete notes older than *keep_days*; returns how many went."""
        cutoff = (now or datetime.now(UTC)).astimezone(UTC) - timedelta(days=keep_days)
        with self._lock:
            cur = self._db.execute("DELETE FROM notes WHERE created_at < ?", (cutoff.isoformat(),))
        return int(cur.rowcount)

    def forget(self, ref: str) -> None:
        """Drop the note of a registration that was refused after all."""
        with self._lock:
            self._db.execute("DELETE FROM notes WHERE ref = ?", (ref,))

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM notes").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class ManualRegistry(Protocol):
    """What a manual registration needs of the registry (``provisioning.registry``)."""

    @property
    def record_manual(self) -> Callable[..., Any]:  # keyword details (Registry.record_manual)
        ...

    def void_manual(self, *, event_id: str, staff: str, customer: str, why: str) -> None: ...


def _text(request: dict[str, Any], name: str, limit: int = 120) -> str:
    value = request.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ManualError(f"bad manual request: {name!r} is required")
    if len(value) > limit:
        raise ManualError(f"bad manual request: {name!r} is longer than {limit} characters")
    return value.strip()


def register(
    request: dict[str, Any],
    pipeline: TapPipeline,
    notes: NoteStore,
    registry: ManualRegistry | None,
) -> TapEvent:
    """Check a manual request, keep its note, audit it, commit the event; returns it. When
    the commit fails (``OutboxError``, raised) the note is dropped and the audit row voided.

    ``request``: ``kind`` (start|end), ``staff``, ``customer``, ``reason`` (``REASONS``),
    ``note``, ``at`` (ISO 8601 with a zone); without a registry also ``provider``.
    """
    from nfcbridge.control import ControlError, parse_at

    kind = _text(request, "kind")
    if kind not in KINDS:
        raise ManualError(f"bad manual request: kind must be start or end, not {kind!r}")
    staff, customer = _text(request, "staff"), _text(request, "customer")
    reason = _text(request, "reason")
    if reason not in REASONS:
        raise ManualError(f"bad manual request: reason must be one of {', '.join(REASONS)}")
    note = _text(request, "note", MAX_NOTE)
    try:
        at = parse_at(request.get("at"))
    except ControlError as exc:
        raise ManualError(str(exc).replace("tap request", "manual request")) from None
    if at is None:
        raise ManualError("bad manual request: 'at' is required (when the visit started/ended)")
    if at > datetime.now(UTC) + FUTURE_SLACK:
        raise ManualError(f"bad manual request: 'at' {at.isoformat()} is in the future")
    event_id = new_event_id()
    side = cast(Literal["start", "end"], kind)
    ref, digest = notes.add(note)
    if registry is not None:
        try:
            found = registry.record_manual(
                event_id=event_id,
                at=at,
                kind=kind,
                staff=staff,
                customer=customer,
                reason=reason,
                note_ref=ref,
                note_sha256=digest,
            )
        except Exception:
            notes.forget(ref)
            raise
        customer, provider = found.customer, found.provider
    else:
        provider = str(request["provider"]) if request.get("provider") else None
    facts = ManualFacts(side, staff, customer, reason, ref, digest)
    registry_facts = RegistryFacts(state="active", customer=customer, provider=provider)
    try:
        return pipeline.manual(event_id, at, facts, registry_facts)
    except OutboxError as exc:  # not stored: the audit row must not stand alone
        notes.forget(ref)
        if registry is not None:
            try:
                registry.void_manual(
                    event_id=event_id, staff=staff, customer=customer, why=str(exc)
                )
            except Exception:
                log.exception("manual registration %s not stored and not voided", event_id)
        raise
