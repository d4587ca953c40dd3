"""The registry's database: engine, migrations, transactions.

SQLite (the default, one desk) or PostgreSQL (several desks sharing one registry), chosen by
URL; the same SQLAlchemy Core code runs on both.

Transactions that write are serialised where it matters:
- SQLite: every write transaction is ``BEGIN IMMEDIATE`` (the database write lock is taken
  at the start, so a read-then-write can never be overtaken), WAL, ``busy_timeout``.
- PostgreSQL: READ COMMITTED with explicit row locks (``SELECT ... FOR UPDATE``) on the
  rows a decision depends on (the provider for quota, the audit head for the chain).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from provisioning.errors import SchemaTooNew, StoreUnreachable
from provisioning.private_file import create_owner_only

log = logging.getLogger(__name__)
# Alembic logs its plugin set-up and migration context at INFO on every start; what matters
# (a migration that ran) is logged once below, by us.
logging.getLogger("alembic").setLevel(logging.WARNING)

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
_MIGRATION_LOCK = 0x6E666362  # "nfcb": pg_advisory_xact_lock key


def normalise_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` mean psycopg 3; a bare path means SQLite."""
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    elif "://" not in url and not url.startswith("sqlite:"):
        url = f"sqlite:///{url}"
    return url


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def _reason(exc: BaseException, url: str) -> str:
    """First line of a driver error, with any password scrubbed."""
    orig = getattr(exc, "orig", None) or exc
    line = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    try:
        password = make_url(url).password
    except ArgumentError:
        password = None
    if password:
        line = line.replace(str(password), "***")
    return line


class Store:
    """An engine plus the transaction discipline of the registry."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self.dialect = engine.dialect.name

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite); commits on success."""
        with self._connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (deferred on SQLite: no write lock taken)."""
        with self._connect(readonly=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def _connect(self, readonly: bool = False) -> Iterator[Connection]:
        try:
            conn = self.engine.connect()
        except OperationalError as exc:
            raise StoreUnreachable(
                f"registry {safe_url(self.url)} unreachable: {_reason(exc, self.url)}"
            ) from None
        with conn:
            if readonly:
                conn = conn.execution_options(nfcb_readonly=True)
            yield conn

    def compact_wal(self) -> None:
        """SQLite: move the WAL into the database and empty it (no old page copies left)."""
        if self.dialect == "sqlite":
            raw = self.engine.raw_connection()  # outside a transaction (autocommit)
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()

    def close(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine, *, wal: bool = True) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if wal:  # persistent: a registry made here is in WAL mode already
            cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = FULL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA secure_delete = ON")  # purged pseudonyms leave no freed copy
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get("nfcb_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def open_store(url: str, *, migrate: bool = True, existing: bool = False) -> Store:
    """Open (and by default migrate) the registry at *url*.

    *existing*: only a registry that is there, at this program's schema revision: nothing
    is created or migrated (for ``audit verify``: a mistyped path is an error, not a new
    empty registry that verifies). Raises ``StoreUnreachable`` (one line, no password) or
    ``SchemaTooNew``.
    """
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreUnreachable(f"registry URL {safe_url(url)} is not a database URL") from None
    kwargs: dict[str, Any] = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if existing and not (database and Path(database).expanduser().is_file()):
            raise StoreUnreachable(f"registry {safe_url(url)} does not exist")
        if existing:
            pass
        elif database and database != ":memory:" and not database.startswith("file:"):
            folder = Path(database).expanduser().parent
            try:
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # like the daemon
                # customer pseudonyms and the audit trail: owner-only, set only when the
                # file is created (never a second descriptor on a live database)
                create_owner_only(Path(database).expanduser())
            except OSError as exc:
                raise StoreUnreachable(
                    f"registry {safe_url(url)} unreachable: cannot create {folder}: {exc.strerror}"
                ) from None
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000}
    elif parsed.get_backend_name() == "postgresql":
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"connect_timeout": 5, "application_name": "nfcbridge"}
    else:
        raise StoreUnreachable(
            f"registry URL {safe_url(url)}: only sqlite:/// and postgresql:// are supported"
        )
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise StoreUnreachable(f"registry {safe_url(url)} unusable: {exc}") from None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, wal=not existing)
    store = Store(engine, url)
    try:
        if migrate and not existing:
            migrate_store(store)
        else:
            check_revision(store, exact=existing)
    except BaseException:
        engine.dispose()
        raise
    return store


def _alembic_config(conn: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


@functools.cache
def known_revisions() -> tuple[frozenset[str], str]:
    """All revisions this code knows, and the head: read from the migration scripts once
    per process (about 10 ms, most of opening an existing registry)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config())
    revisions = frozenset(rev.revision for rev in script.walk_revisions())
    return revisions, script.get_current_head() or ""


def _current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _check(current: str | None, url: str) -> str:
    known, head = known_revisions()
    if current is not None and current not in known:
        raise SchemaTooNew(
            f"registry {safe_url(url)} has schema revision {current}, newer than this "
            f"nfcbridge knows (head {head}): upgrade nfcbridge"
        )
    return head


def check_revision(store: Store, *, exact: bool = False) -> None:
    """The schema is not newer than this code; with *exact*, it is this code's head."""
    try:
        with store.read() as conn:
            current = _current_revision(conn)
            head = _check(current, store.url)
            if exact and current is None:
                raise StoreUnreachable(f"{safe_url(store.url)} is not an nfcbridge registry")
            if exact and current != head:
                raise StoreUnreachable(
                    f"registry {safe_url(store.url)} has schema revision {current}, older than "
                    f"this nfcbridge (head {head}): any other registry command migrates it"
                )
    except DBAPIError as exc:
        raise StoreUnreachable(
            f"registry {safe_url(store.url)} unreachable: {_reason(exc, store.url)}"
        ) from None


def migrate_store(store: Store) -> None:
    """Bring the schema to head in one transaction, serialised between processes."""
    from alembic import command

    try:
        with store.write() as conn:
            if store.is_postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            current = _current_revision(conn)
            head = _check(current, store.url)
            if current != head:
                command.upgrade(_alembic_config(conn), "head")
                log.info("registry %s schema migrated %s -> %s", safe_url(store.url), current, head)
    except DBAPIError as exc:
        raise StoreUnreachable(
            f"registry {safe_url(store.url)} unreachable: {_reason(exc, store.url)}"
        ) from None
