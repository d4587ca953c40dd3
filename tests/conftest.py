"""Suite-wide options and checks.

``--reader URL`` runs the conformance suite on a real reader too; irreversible steps
(locking) additionally need ``--allow-lock UID`` naming the tag that may be locked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers import mock
from provisioning import pgadmin


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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same registry tests on a fresh SQLite file and on a scratch PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    url = pgadmin.create_database()
    try:
        yield url
    finally:
        pgadmin.drop_database(url)


@pytest.fixture(autouse=True)
def private_key_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Each test's default pseudonym key in its own configuration directory (never the
    user's ~/.config), and Argon2id at its cheapest: tests that are not about the cost of a
    pseudonym stay fast (bench/pseudonym.py measures the real parameters)."""
    from provisioning import identity

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.delenv("CONFIGURATION_DIRECTORY", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setitem(identity.ARGON2_PARAMS, "t", 1)
    monkeypatch.setitem(identity.ARGON2_PARAMS, "m", 8)


@pytest.fixture(autouse=True)
def no_mock_reader_left_open():
    """Every test closes the mock readers it opens (benches are process-wide)."""
    yield
    left = mock.open_benches()
    mock.reset_benches()
    assert not left, f"mock readers left open on benches: {left}"


# Every personnummer the tests type in (valid and invalid ones): none may ever reach a file.
TEST_PERSONNUMMER = ("811218-9876", "811218-9875", "701063-2391", "121212-1212")
_ANY_FORM = re.compile(
    b"|".join(
        rb"(?:19|20)?" + re.escape(n[:6].encode()) + rb"[-+]?" + re.escape(n[7:].encode())
        for n in TEST_PERSONNUMMER
    )
)


def files_with_personnummer(root: Path) -> list[str]:
    """Files under *root* (databases, logs, outputs) holding a test personnummer in any form."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if _ANY_FORM.search(path.read_bytes()):
                    found.append(str(path))
            except OSError:
                continue
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After the whole run, scan every file the tests wrote for a personnummer."""
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
