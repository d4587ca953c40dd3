"""The local outbox: the source of truth for every tap the daemon acknowledged.

SQLite in WAL mode with ``synchronous=FULL``: when ``commit`` returns, the event survives a
power cut. Tables::

    events        id (global order), event_id (UUIDv7, unique), reader, seq, payload (JSON)
    sequences     reader -> last seq of events retention deleted (a reader's next seq is one
                  more than the highest in events or here: monotonic even after pruning)
    progress      forwarder -> watermark (every event id <= watermark is done for it)
    deliveries    (forwarder, event): the remote end confirmed this event (the proof that
                  retention, ``nfcbridge.retention``, needs before it may delete an event);
                  indexed by event too, or each deleted event's foreign-key check would
                  scan the whole table
    dead_letters  permanent rejections per forwarder; never deleted (a retry stamps the row)

Event ids are AUTOINCREMENT and sequence numbers continue from ``sequences`` once retention
pruned a reader's events, so neither is ever reused.

Each forwarder keeps its own progress, so a slow MQTT broker never holds back the webhook.
Delivery is at-least-once: a forwarder marks an event delivered only after the remote end
confirmed it, so a crash in between re-sends the same payload with the same event id.

One writer connection (behind a lock) and short-lived reader connections (``reading``):
see ``Outbox``. Writers take ``BEGIN IMMEDIATE`` so writers of several processes (the
daemon, ``nfcbridge outbox retry``) queue on SQLite's lock instead of dead-locking.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nfcbridge.errors import StoreUnavailable
from nfcbridge.events import TapEvent
from provisioning.private_file import create_owner_only

# 2: ``sequences`` is written by retention only (before it deletes events), not on every
# tap; a program that knows only schema 1 would reuse sequence numbers, so it must refuse.
SCHEMA_VERSION = 2

# Pages of a new outbox file (SQLite's default is 4096). A tap's commit writes four pages to
# the WAL and syncs them (the event row, its two unique indexes, the AUTOINCREMENT counter),
# so the page size is most of the bytes each tap waits for; a row of about 600 bytes still
# fits three to a page. Measured with ``bench/taps.py`` (issue 8), interleaved pairs on the
# 2-core test machine: durable taps per raw FULL commit 0.49 with 4096 (median of 6),
# 0.60 with 2048; 1024 holds one row per page and was no faster. An existing file keeps
# the page size it was created with (changing it needs a VACUUM).
PAGE_SIZE = 2048

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    reader TEXT NOT NULL,
    seq INTEGER NOT NULL,
    occurred_at TEXT NOT NULL,
    committed_at REAL NOT NULL,
    payload TEXT NOT NULL,
    UNIQUE (reader, seq)
);
CREATE TABLE IF NOT EXISTS sequences (
    reader TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS progress (
    forwarder TEXT PRIMARY KEY,
    watermark INTEGER NOT NULL DEFAULT 0,
    last_delivery REAL
);
CREATE TABLE IF NOT EXISTS deliveries (
    forwarder TEXT NOT NULL,
    event INTEGER NOT NULL REFERENCES events(id),
    delivered_at REAL NOT NULL,
    PRIMARY KEY (forwarder, event)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    forwarder TEXT NOT NULL,
    event INTEGER NOT NULL REFERENCES events(id),
    event_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    dead_at REAL NOT NULL,
    retried_at REAL
);
CREATE INDEX IF NOT EXISTS dead_letters_open ON dead_letters (forwarder, event)
    WHERE retried_at IS NULL;
CREATE INDEX IF NOT EXISTS dead_letters_event ON dead_letters (event);
CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries (event);
"""


class OutboxError(StoreUnavailable):
    """The outbox cannot be opened or written (exit 8)."""


@dataclass(frozen=True)
class StoredEvent:
    id: int
    event_id: str
    reader: str
    seq: int
    committed_at: float
    payload: str


@dataclass(frozen=True)
class DeadLetter:
    id: int
    forwarder: str
    event_id: str
    reader: str
    seq: int
    reason: str
    dead_at: float
    retried_at: float | None


@dataclass(frozen=True)
class ForwarderProgress:
    forwarder: str
    pending: int
    oldest_pending_at: float | None  # committed_at of the oldest undelivered event
    last_delivery: float | None
    dead_letters: int  # open (not retried) dead letters


class Outbox:
    """The outbox file. One writer connection, opened by ``open``/``check`` and kept until
    ``close`` (writes from every thread queue on a lock); reads run on a short-lived
    connection of their own (``reading``), closed when the block ends, so a thread that
    reads once (a scrape, a status call) leaves nothing open behind it.

    No other descriptor is ever opened on the database file: closing one would drop every
    POSIX lock this process holds on it, SQLite's included, and the next process to close
    its connection would think itself the last user and delete the WAL under us
    (``provisioning.private_file``).
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._writer: sqlite3.Connection | None = None
        self._writer_cursor: sqlite3.Cursor | None = None
        self._writer_lock = threading.Lock()  # guards opening/closing the writer
        self._write_lock = threading.Lock()  # one write transaction at a time

    # -- connections ----------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> Outbox:
        """Open (creating if needed) and check the outbox; ``OutboxError`` if unusable."""
        outbox = cls(path)
        try:
            outbox.check()
        except BaseException:
            outbox.close()
            raise
        return outbox

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> sqlite3.Connection:
        try:
            create_owner_only(self.path)
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(f"cannot open outbox {self.path}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # before WAL: only a new file
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            conn.close()
            raise OutboxError(f"cannot open outbox {self.path}: {exc}") from exc
        return conn

    def _cursor(self, conn: sqlite3.Connection) -> sqlite3.Cursor:
        """The writer's own cursor, made once (``Connection.execute`` makes one a call)."""
        if self._writer_cursor is None or self._writer_cursor.connection is not conn:
            self._writer_cursor = conn.cursor()
        return self._writer_cursor

    def _writer_conn(self) -> sqlite3.Connection:
        with self._writer_lock:
            if self._writer is None:
                self._writer = self._connect()
            return self._writer

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection of its own for read-only queries from any thread, closed at the end
        of the block (WAL readers never wait for the writer)."""
        conn = self._connect()
        try:
            yield conn
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox {self.path}: {exc}") from exc
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # Writers of this process queue on a lock: SQLite's own busy handler sleeps in
        # growing steps (1, 2, 5, 10... ms), which would add tens of ms to a tap.
        with self._write_lock:
            conn = self._writer_conn()
            cursor = self._cursor(conn)
            try:
                cursor.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise OutboxError(f"outbox {self.path}: {exc}") from exc
            try:
                yield conn
                cursor.execute("COMMIT")
            except BaseException as exc:
                # only when a transaction is still open: SQLite may already have rolled it
                # back (a full disk, I/O error), and a second ROLLBACK's "no transaction is
                # active" would hide the real cause
                if conn.in_transaction:
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise OutboxError(f"outbox {self.path}: {exc}") from exc
                raise

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction queued with the taps' (``BEGIN IMMEDIATE``, in-process lock)."""
        return self._write()

    def check(self) -> None:
        """Create the schema if needed, refuse a newer schema, prove we can write."""
        if not self.path.parent.is_dir():
            raise OutboxError(f"cannot open outbox {self.path}: directory does not exist")
        self._refuse_foreign_file()
        try:
            conn = self._writer_conn()
            with self._write_lock:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise OutboxError(
                    f"outbox {self.path} has schema {version}, newer than this program's "
                    f"{SCHEMA_VERSION}"
                )
            if mode != "wal":
                raise OutboxError(f"outbox {self.path}: cannot enable WAL (mode {mode})")
            with self._write() as c:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        c.execute(statement)
                c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            with self._write_lock:
                ok = conn.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise OutboxError(f"outbox {self.path} failed its integrity check: {ok}")
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot use outbox {self.path}: {exc}") from exc

    def _refuse_foreign_file(self) -> None:
        """Refuse, before anything is written to it, a file that is not ours: another
        program's SQLite database (tables but no outbox schema) or not SQLite at all."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        try:
            probe = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                version = probe.execute("PRAGMA user_version").fetchone()[0]
                tables = {r[0] for r in probe.execute("SELECT name FROM sqlite_master")}
            finally:
                probe.close()
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox {self.path} is not an SQLite database ({exc})") from None
        if version == 0 and tables and "events" not in tables:
            raise OutboxError(
                f"outbox {self.path} is another program's database "
                f"(tables {', '.join(sorted(tables)[:3])}): not touched"
            )

    def ping(self) -> None:
        """A cheap liveness probe for the watchdog (on the writer: it is what taps need)."""
        try:
            with self._write_lock:
                self._writer_conn().execute("SELECT 1 FROM sequences LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._write_lock, self._writer_lock:
            conn, self._writer = self._writer, None
            self._writer_cursor = None
        if conn is not None:
            with suppress(sqlite3.Error):
                conn.close()

    # -- taps -----------------------------------------------------------------------------
    def commit(self, event: TapEvent) -> TapEvent:
        """Assign the reader's next sequence number and store durably; returns the event
        as stored. The event id was assigned by the caller before, and is stored with it."""
        occurred_at = event.occurred_at_text
        try:
            with self._write() as conn:
                c = self._cursor(conn)
                stored = event.with_seq(self._last_seq(c, event.reader) + 1)
                c.execute(
                    "INSERT INTO events (event_id, reader, seq, occurred_at, committed_at,"
                    " payload) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        stored.event_id,
                        stored.reader,
                        stored.seq,
                        occurred_at,
                        time.time(),
                        stored.to_json(),
                    ),
                )
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox {self.path}: cannot store tap: {exc}") from exc
        return stored

    # -- forwarders -----------------------------------------------------------------------
    def register(self, forwarder: str) -> None:
        """A forwarder seen for the first time starts at the beginning of what the outbox
        still holds: at-least-once for the retained past (``[outbox] keep_days``), never the
        history retention already removed."""
        with self._write() as c:
            c.execute("INSERT OR IGNORE INTO progress (forwarder) VALUES (?)", (forwarder,))

    def open_reader(self) -> sqlite3.Connection:
        """A read connection for a long-running part that reads in a loop (a forwarder):
        the caller owns it and closes it when it ends."""
        return self._connect()

    def pending(
        self,
        forwarder: str,
        limit: int = 100,
        *,
        conn: sqlite3.Connection | None = None,
        after: int = 0,
    ) -> list[StoredEvent]:
        """Undelivered, not dead-lettered events for *forwarder*, in commit order (on
        *conn*, the caller's ``open_reader`` connection, or a short-lived one); with
        *after*, only events whose id is above it (a forwarder's confirmed events that it
        has not marked yet)."""
        with nullcontext(conn) if conn is not None else self.reading() as c:
            rows = self._query(
                c,
                "SELECT e.id, e.event_id, e.reader, e.seq, e.committed_at, e.payload FROM events e"
                " WHERE e.id > COALESCE((SELECT watermark FROM progress WHERE forwarder = :f), 0)"
                " AND e.id > :after"
                " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.forwarder = :f"
                "                 AND d.event = e.id)"
                " AND NOT EXISTS (SELECT 1 FROM dead_letters x WHERE x.forwarder = :f"
                "                 AND x.event = e.id AND x.retried_at IS NULL)"
                " ORDER BY e.id LIMIT :n",
                {"f": forwarder, "n": limit, "after": after},
            )
        return [StoredEvent(*row) for row in rows]

    def _query(self, c: sqlite3.Connection, sql: str, args: Any) -> list[Any]:
        try:
            return c.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox {self.path}: {exc}") from exc

    def mark_delivered(self, forwarder: str, events: list[StoredEvent] | list[int]) -> None:
        ids = [e.id if isinstance(e, StoredEvent) else e for e in events]
        if not ids:
            return
        now = time.time()
        with self._write() as c:
            c.executemany(
                "INSERT OR IGNORE INTO deliveries (forwarder, event, delivered_at)"
                " VALUES (?, ?, ?)",
                [(forwarder, i, now) for i in ids],
            )
            c.execute("UPDATE progress SET last_delivery = ? WHERE forwarder = ?", (now, forwarder))
            self._advance(c, forwarder)

    def mark_dead(self, forwarder: str, event: StoredEvent, reason: str) -> None:
        with self._write() as c:
            c.execute(
                "INSERT INTO dead_letters (forwarder, event, event_id, reason, dead_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (forwarder, event.id, event.event_id, reason[:1000], time.time()),
            )
            self._advance(c, forwarder)

    def _advance(self, c: sqlite3.Connection, forwarder: str) -> None:
        """Move the watermark over the prefix of events that are delivered or dead (never
        back: with every event pruned, MAX(id) would be 0)."""
        c.execute(
            "UPDATE progress SET watermark = COALESCE((SELECT MIN(e.id) - 1 FROM events e"
            " WHERE e.id > progress.watermark"
            " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.forwarder = :f"
            "                 AND d.event = e.id)"
            " AND NOT EXISTS (SELECT 1 FROM dead_letters x WHERE x.forwarder = :f"
            "                 AND x.event = e.id AND x.retried_at IS NULL)),"
            " MAX(progress.watermark, (SELECT COALESCE(MAX(id), 0) FROM events)))"
            " WHERE forwarder = :f",
            {"f": forwarder},
        )

    def retry_dead(self, event_id: str | None = None) -> int:
        """Send dead letters again (one event, or all open ones); the rows stay, stamped."""
        now = time.time()
        with self._write() as c:
            where = "retried_at IS NULL" + (" AND event_id = ?" if event_id else "")
            args: tuple[Any, ...] = (event_id,) if event_id else ()
            rows = c.execute(
                f"SELECT id, forwarder, event FROM dead_letters WHERE {where}", args
            ).fetchall()
            for dead_id, forwarder, event in rows:
                c.execute("UPDATE dead_letters SET retried_at = ? WHERE id = ?", (now, dead_id))
                c.execute(
                    "UPDATE progress SET watermark = MIN(watermark, ?) WHERE forwarder = ?",
                    (event - 1, forwarder),
                )
        return len(rows)

    # -- inspection -----------------------------------------------------------------------
    def events(self, *, after: int = 0, limit: int | None = None) -> list[StoredEvent]:
        sql = (
            "SELECT id, event_id, reader, seq, committed_at, payload FROM events WHERE id > ?"
            " ORDER BY id"
        )
        args: tuple[Any, ...] = (after,)
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        with self.reading() as c:
            return [StoredEvent(*r) for r in c.execute(sql, args).fetchall()]

    def event_ids(self) -> set[str]:
        with self.reading() as c:
            return {r[0] for r in c.execute("SELECT event_id FROM events").fetchall()}

    def dead_letters(self, *, include_retried: bool = False) -> list[DeadLetter]:
        where = "" if include_retried else "WHERE x.retried_at IS NULL"
        with self.reading() as c:
            rows = c.execute(
                "SELECT x.id, x.forwarder, x.event_id, e.reader, e.seq, x.reason, x.dead_at,"
                f" x.retried_at FROM dead_letters x JOIN events e ON e.id = x.event {where}"
                " ORDER BY x.id"
            ).fetchall()
        return [DeadLetter(*r) for r in rows]

    def forwarders(self) -> list[str]:
        with self.reading() as c:
            rows = c.execute("SELECT forwarder FROM progress ORDER BY forwarder").fetchall()
        return [r[0] for r in rows]

    def progress(self, forwarder: str) -> ForwarderProgress:
        with self.reading() as c:
            return self._progress(c, forwarder)

    def progress_all(self, forwarders: list[str]) -> list[ForwarderProgress]:
        """Every named forwarder's progress on one short-lived connection (a scrape)."""
        with self.reading() as c:
            return [self._progress(c, name) for name in forwarders]

    @staticmethod
    def _progress(c: sqlite3.Connection, forwarder: str) -> ForwarderProgress:
        row = c.execute(
            "SELECT watermark, last_delivery FROM progress WHERE forwarder = ?", (forwarder,)
        ).fetchone()
        watermark, last = row if row else (0, None)
        pending, oldest = c.execute(
            "SELECT COUNT(*), MIN(e.committed_at) FROM events e WHERE e.id > :w"
            " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.forwarder = :f"
            "                 AND d.event = e.id)"
            " AND NOT EXISTS (SELECT 1 FROM dead_letters x WHERE x.forwarder = :f"
            "                 AND x.event = e.id AND x.retried_at IS NULL)",
            {"f": forwarder, "w": watermark},
        ).fetchone()
        dead = c.execute(
            "SELECT COUNT(*) FROM dead_letters WHERE forwarder = ? AND retried_at IS NULL",
            (forwarder,),
        ).fetchone()[0]
        return ForwarderProgress(forwarder, pending, oldest, last, dead)

    def last_seq(self, reader: str) -> int:
        with self.reading() as c:
            return self._last_seq(c, reader)

    @staticmethod
    def _last_seq(c: sqlite3.Connection | sqlite3.Cursor, reader: str) -> int:
        """The reader's highest sequence number: in its events (the ``(reader, seq)``
        index), or in ``sequences`` where retention recorded it before pruning them. A tap
        writes only its event row: one page fewer to write and sync than keeping
        ``sequences`` up to date on every tap."""
        row = c.execute(
            "SELECT MAX(COALESCE((SELECT MAX(seq) FROM events WHERE reader = :r), 0),"
            " COALESCE((SELECT last_seq FROM sequences WHERE reader = :r), 0))",
            {"r": reader},
        ).fetchone()
        return int(row[0])

    def count(self) -> int:
        with self.reading() as c:
            return int(c.execute("SELECT COUNT(*) FROM events").fetchone()[0])
