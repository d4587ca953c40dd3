"""PostgreSQL specifics: URL forms, unreachable server, newer schema, racing first opens."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from provisioning import pgadmin
from provisioning.errors import SchemaTooNew, StoreUnreachable
from provisioning.registry import Registry
from provisioning.store import open_store

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = pgadmin.create_database()
    try:
        yield url
    finally:
        pgadmin.drop_database(url)


@pytest.mark.parametrize("scheme", ["postgres://", "postgresql://", "postgresql+psycopg://"])
def test_every_postgres_url_form_opens_the_same_registry(pg_url: str, scheme: str):
    with Registry.open(pg_url) as reg:
        reg.add_provider("P-1", "Ett", operator="t")
    url = scheme + pg_url.split("://", 1)[1]
    with Registry.open(url) as reg:
        assert [p.id for p in reg.providers()] == ["P-1"]
        assert reg.store.engine.dialect.driver == "psycopg"


def test_an_unreachable_server_is_one_line_without_the_password():
    with pytest.raises(StoreUnreachable) as info:
        open_store("postgresql://desk:t0psecret@127.0.0.1:1/registry")
    message = str(info.value)
    assert "unreachable" in message and "t0psecret" not in message and "\n" not in message


def test_an_unknown_database_is_unreachable():
    with pytest.raises(StoreUnreachable, match="nfcb_does_not_exist"):
        open_store("postgresql://postgres@127.0.0.1:5432/nfcb_does_not_exist")


def test_a_newer_schema_is_refused_on_postgres(pg_url: str):
    with Registry.open(pg_url) as reg, reg.store.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0002_future'"))
    with pytest.raises(SchemaTooNew, match="0002_future"):
        open_store(pg_url)


def _open(url: str, barrier) -> None:  # child process
    barrier.wait(timeout=30)
    Registry.open(url).close()


def test_desks_opening_a_fresh_database_at_once_migrate_it_once(pg_url: str):
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_open, args=(pg_url, barrier)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    with Registry.open(pg_url) as reg:
        assert reg.verify_audit().ok


def test_pickups_for_two_providers_take_disjoint_stock(pg_url: str):
    """SKIP LOCKED: a pickup holding stock rows does not block another provider's pickup."""
    with Registry.open(pg_url) as reg:
        reg.open_batch("b", operator="t")
        for pid in ("P-1", "P-2"):
            reg.add_provider(pid, pid, operator="t", spare=5)
        for i in range(6):
            reg.record_provisioned(bytes([4, 0, 0, 0, 0, 1, i]), "NTAG213", f"k{i}", "b", "t")
        store = reg.store
        with store.write() as held:  # P-1's pickup is mid-transaction, holding 3 rows
            held.execute(text("SELECT id FROM providers WHERE id = 'P-1' FOR UPDATE"))
            rows = held.execute(
                text("SELECT uid FROM tags WHERE state = 'in_stock' ORDER BY created_at, uid "
                     "LIMIT 3 FOR UPDATE SKIP LOCKED")
            ).scalars().all()  # fmt: skip
            other = reg.pickup("P-2", 3, operator="t")
            assert not set(rows) & set(other.uids)
