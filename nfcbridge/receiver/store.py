"""The receiver's event store: SQLite, one row per event id, duplicates acknowledged and
dropped. A sender that retries after a lost reply must not count a tap twice.

Each event's ``run`` (the replay a simulated tap came from, ``rig run``) is kept in its own
column, so that a report can select one replay of several (``runs``, ``events(run=...)``);
a database from before the column is given it on opening."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id    TEXT PRIMARY KEY,
    station     TEXT NOT NULL,
    reader      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    occurred_at TEXT NOT NULL,
    origin      TEXT NOT NULL,
    received_at TEXT NOT NULL,
    deliveries  INTEGER NOT NULL DEFAULT 1,
    body        TEXT NOT NULL,
    run         TEXT
);
CREATE INDEX IF NOT EXISTS events_reader ON events (station, reader, seq);
"""
RUN_INDEX = "CREATE INDEX IF NOT EXISTS events_run ON events (run, occurred_at)"


class EventStore:
    """Thread-safe (one connection behind a lock: the receiver is a test tool, not a farm)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(events)")}
        if "run" not in columns:  # a database written before runs were kept
            self._db.execute("ALTER TABLE events ADD COLUMN run TEXT")
        self._db.execute(RUN_INDEX)
        self._last_seq: dict[tuple[str, str], int] = {}

    def add(self, event: dict[str, Any]) -> tuple[bool, int | None]:
        """Store *event*; returns (new, expected_seq) where expected_seq is set when the event's
        seq is not the one after the highest seen for its reader (a gap or a late arrival)."""
        key = (event["station"], event["reader"])
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO events (event_id, station, reader, seq, occurred_at, "
                "origin, received_at, body, run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event["event_id"],
                    event["station"],
                    event["reader"],
                    int(event["seq"]),
                    event["occurred_at"],
                    event.get("origin", ""),
                    now,
                    json.dumps(event, separators=(",", ":")),
                    event.get("run"),
                ),
            )
            if cur.rowcount == 0:
                self._db.execute(
                    "UPDATE events SET deliveries = deliveries + 1 WHERE event_id = ?",
                    (event["event_id"],),
                )
                return False, None
            if key not in self._last_seq:
                row = self._db.execute(
                    "SELECT MAX(seq) FROM events "
                    "WHERE station = ? AND reader = ? AND event_id != ?",
                    (*key, event["event_id"]),
                ).fetchone()
                self._last_seq[key] = row[0] if row[0] is not None else int(event["seq"]) - 1
            last = self._last_seq[key]
            seq = int(event["seq"])
            self._last_seq[key] = max(last, seq)
            return True, (last + 1 if seq != last + 1 else None)

    def events(self, run: str | None = None) -> list[dict[str, Any]]:
        """Every event, or only those of replay *run*."""
        query = "SELECT body FROM events"
        args: tuple[str, ...] = ()
        if run is not None:
            query, args = query + " WHERE run = ?", (run,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY occurred_at, seq", args).fetchall()
        return [json.loads(body) for (body,) in rows]

    def runs(self) -> list[dict[str, Any]]:
        """The replays held, in the order they began: id (None: events without a run, such
        as real taps), events, first and last reception."""
        with self._lock:
            rows = self._db.execute(
                "SELECT run, COUNT(*), MIN(received_at), MAX(received_at) FROM events "
                "GROUP BY run ORDER BY MIN(received_at)"
            ).fetchall()
        return [
            {"run": run, "events": n, "first_received": first, "last_received": last}
            for run, n, first, last in rows
        ]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def purge(self, before: datetime) -> int:
        """Delete the events received before *before* (retention); returns how many."""
        stamp = before.astimezone(UTC).isoformat(timespec="milliseconds")
        with self._lock:
            cur = self._db.execute("DELETE FROM events WHERE received_at < ?", (stamp,))
            self._last_seq.clear()
            return int(cur.rowcount)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_store(path: str | Path) -> EventStore:
    from nfcbridge.errors import StoreUnavailable

    try:
        return EventStore(path)
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot open receiver database {path}: {exc}") from None
