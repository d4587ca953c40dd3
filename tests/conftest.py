"""Suite-wide options and checks.

``--reader URL`` runs the conformance suite on a real reader too; irreversible steps
(locking) additionally need ``--allow-lock UID`` naming the tag that may be locked.
"""

from __future__ import annotations

import pytest

from drivers import mock


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


@pytest.fixture(autouse=True)
def no_mock_reader_left_open():
    """Every test closes the mock readers it opens (benches are process-wide)."""
    yield
    left = mock.open_benches()
    mock.reset_benches()
    assert not left, f"mock readers left open on benches: {left}"
