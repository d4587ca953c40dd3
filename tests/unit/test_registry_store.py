"""Opening the registry: SQLite settings, migrations, a newer schema, an unreachable URL."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from provisioning.errors import SchemaTooNew, StoreUnreachable
from provisioning.registry import Registry
from provisioning.store import (
    _alembic_config,
    known_revisions,
    normalise_url,
    open_store,
    safe_url,
)


def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(tmp_path):
    store = open_store(str(tmp_path / "r.db"))
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    store.close()


def test_a_fresh_database_is_migrated_to_head_and_reopening_changes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'nested' / 'r.db'}"
    _, head = known_revisions()
    for _ in range(2):
        with Registry.open(url) as reg, reg.store.read() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
            assert conn.execute(text("SELECT count(*) FROM audit_head")).scalar() == 1


def test_a_registry_at_the_first_revision_upgrades_keeping_its_providers(
    empty_registry_url: str,
):
    def _revision(reg: Registry) -> str | None:
        with reg.store.read() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    engine = create_engine(normalise_url(empty_registry_url))
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0001")
        assert MigrationContext.configure(conn).get_current_revision() == "0001"
        conn.execute(
            text(
                "INSERT INTO providers (id, name, created_at) "
                "VALUES ('P-OLD', 'Gamla AB', '2026-01-01 00:00:00')"
            )
        )
    engine.dispose()
    with Registry.open(empty_registry_url) as reg:  # migrates 0001 -> head
        assert _revision(reg) == known_revisions()[1]
        old = reg.provider("P-OLD")
        assert (old.kind, old.price_per_tag, old.customers_needing_tag) == ("municipal", None, 0)


def test_a_schema_newer_than_this_code_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    open_store(url).close()
    store = open_store(url)
    with store.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    store.close()
    with pytest.raises(SchemaTooNew, match=r"9999_from_the_future.*upgrade nfcbridge"):
        open_store(url)
    with pytest.raises(SchemaTooNew):
        open_store(url, migrate=False)


def test_an_sqlite_path_that_cannot_be_created_is_unreachable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreUnreachable, match="unreachable") as info:
        open_store(f"sqlite:///{blocker / 'sub' / 'r.db'}")
    assert "\n" not in str(info.value)


def test_unsupported_urls_are_refused_in_one_line():
    with pytest.raises(StoreUnreachable, match="only sqlite"):
        open_store("mysql://u:secret@127.0.0.1/x")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("/var/lib/nfcbridge/registry.db", "sqlite:////var/lib/nfcbridge/registry.db"),
        ("sqlite:///r.db", "sqlite:///r.db"),
    ],
)
def test_urls_are_normalised_to_psycopg3_and_sqlite(given: str, expected: str):
    assert normalise_url(given) == expected


def test_safe_url_hides_the_password():
    assert "hunter2" not in safe_url("postgresql+psycopg://desk:hunter2@db.example/registry")
