"""Creating and dropping scratch PostgreSQL databases (tests, benchmarks, trial desks).

A registry database is normally created by the database administrator; these helpers
exist so tests and ``bench/registry.py`` can each work in a fresh database of their own.
"""

from __future__ import annotations

import os
import secrets

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from provisioning.errors import StoreUnreachable
from provisioning.store import normalise_url, safe_url

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SERVER_ENV = "NFCBRIDGE_PG_SERVER"  # another server (or a closed port: "no PostgreSQL here")


def server() -> str:
    """The administration URL: ``$NFCBRIDGE_PG_SERVER``, else the local default."""
    return os.environ.get(SERVER_ENV) or DEFAULT_SERVER


def server_available(server_url: str | None = None) -> bool:
    server_url = server_url or server()
    try:
        engine = create_engine(normalise_url(server_url), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def create_database(
    prefix: str = "nfcb_test_", server_url: str | None = None, *, template: str | None = None
) -> str:
    """Create ``<prefix><random>`` and return its URL; with *template* (the URL of a database
    no one is connected to) as a copy of that database."""
    server_url = server_url or server()
    name = f"{prefix}{secrets.token_hex(6)}"
    copy = f' TEMPLATE "{make_url(normalise_url(template)).database}"' if template else ""
    _autocommit(server_url, f'CREATE DATABASE "{name}"{copy}')
    return (
        make_url(normalise_url(server_url)).set(database=name).render_as_string(hide_password=False)
    )


def drop_database(url: str, server_url: str | None = None) -> None:
    server_url = server_url or server()
    name = make_url(normalise_url(url)).database
    _autocommit(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _autocommit(server_url: str, statement: str) -> None:
    engine = create_engine(
        normalise_url(server_url),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 5},
    )
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    except Exception as exc:
        raise StoreUnreachable(f"PostgreSQL server {safe_url(server_url)}: {exc}") from None
    finally:
        engine.dispose()
