"""Suite-wide options and checks.

``--reader URL`` runs the conformance suite on a real reader too; irreversible steps
(locking) additionally need ``--allow-lock UID`` naming the tag that may be locked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers import mock
from provisioning import pgadmin
from provisioning.registry import Registry
from tests.support import argon2_cost, services
from tests.support.personnummer import files_with_personnummer
from tests.support.registry_files import copy_registry


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--reader", default=None, help="URL of a real reader to test as well")
    parser.addoption(
        "--allow-lock",
        default=None,
        metavar="UID",
        help="permit permanently locking the tag with this UID on --reader",
    )


@pytest.fixture
def real_reader_url(request: pytest.FixtureRequest) -> str | None:
    return request.config.getoption("--reader")


@pytest.fixture
def allow_lock_uid(request: pytest.FixtureRequest) -> str | None:
    return request.config.getoption("--allow-lock")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked for a service that is absent is skipped with the reason; in CI
    (``CI=true``) it fails instead, so a CI machine without the service is noticed."""
    for marker, missing in services.MISSING.items():
        if item.get_closest_marker(marker) is None:
            continue
        reason = missing()
        if reason is None:
            continue
        if services.in_ci():
            pytest.fail(f"{reason}: in CI every service must be present", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def migrated_sqlite_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One empty SQLite registry migrated to head, made once per run (migrating costs about
    0.1 s): tests that are not about migrating start from a copy (``new_sqlite_registry``)."""
    path = tmp_path_factory.mktemp("migrated") / "registry.db"
    Registry.open(f"sqlite:///{path}").close()
    assert not path.with_name("registry.db-wal").exists(), "the WAL was not checkpointed"
    return path


@pytest.fixture(scope="session")
def migrated_postgres_registry() -> Iterator[str]:
    """One empty PostgreSQL registry migrated to head, made once per run (by the first test
    that needs it): each test's database is a copy of it (``CREATE DATABASE ... TEMPLATE``,
    a tenth of creating and migrating one)."""
    url = pgadmin.create_database(prefix="nfcb_template_")
    try:
        Registry.open(url).close()  # nobody may stay connected to a template
        yield url
    finally:
        pgadmin.drop_database(url)


@pytest.fixture
def new_sqlite_registry(migrated_sqlite_registry: Path) -> Callable[[Path], str]:
    """Put a fresh registry at head at a path and return its URL."""
    return functools.partial(copy_registry, migrated_sqlite_registry)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def registry_url(
    request: pytest.FixtureRequest, tmp_path: Path, new_sqlite_registry: Callable[[Path], str]
) -> Iterator[str]:
    """The same registry tests on a fresh SQLite file and on a scratch PostgreSQL database,
    each a copy of an empty registry at head (``empty_registry_url``: nothing migrated)."""
    if request.param == "sqlite":
        yield new_sqlite_registry(tmp_path / "registry.db")
        return
    url = pgadmin.create_database(template=request.getfixturevalue("migrated_postgres_registry"))
    try:
        yield url
    finally:
        pgadmin.drop_database(url)


@pytest.fixture(params=BACKENDS)
def empty_registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new SQLite path and a new empty PostgreSQL database, no schema: for tests of
    migrating."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    url = pgadmin.create_database()
    try:
        yield url
    finally:
        pgadmin.drop_database(url)


@pytest.fixture
def registry_options() -> dict[str, Any]:
    """Keyword arguments for ``Registry.open`` (policy, rules): a module overrides this."""
    return {}


@pytest.fixture
def registry(registry_url: str, registry_options: dict[str, Any]) -> Iterator[Registry]:
    """A fresh registry on SQLite and on PostgreSQL: the one registry fixture."""
    reg = Registry.open(registry_url, **registry_options)
    try:
        yield reg
    finally:
        reg.close()


@pytest.fixture(autouse=True)
def private_key_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Each test's default pseudonym key in its own configuration directory (never the
    user's ~/.config), and Argon2id at its cheapest for pseudonyms and passwords: tests that
    are not about their cost stay fast (bench/pseudonym.py measures the real parameters)."""
    from provisioning import accounts, identity

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.delenv("CONFIGURATION_DIRECTORY", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    for name, value in argon2_cost.PSEUDONYM_PARAMS.items():  # in place: modules share it
        monkeypatch.setitem(identity.ARGON2_PARAMS, name, value)
    for name, value in argon2_cost.PASSWORD_HASH_PARAMS.items():
        monkeypatch.setitem(accounts.PASSWORD_HASH_PARAMS, name, value)


@pytest.fixture(autouse=True)
def no_mock_reader_left_open():
    """Every test closes the mock readers it opens (benches are process-wide)."""
    yield
    left = mock.open_benches()
    mock.reset_benches()
    assert not left, f"mock readers left open on benches: {left}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After the whole run, scan every file the tests wrote for a personnummer. Under
    pytest-xdist the controller scans once: its base directory holds every worker's."""
    if hasattr(session.config, "workerinput"):
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    base = getattr(factory, "_basetemp", None)
    if base is None:
        return
    leaked = files_with_personnummer(Path(base))
    if leaked:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"personnummer found in files written by the tests: {leaked}")
