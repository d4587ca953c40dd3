"""The unit tier runs without services: a test needing an absent PostgreSQL is skipped with
the reason, and with ``CI=true`` the skip is a failure. Each runs pytest in a new process
(seconds), so it lives here rather than in the unit tier it is about."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLOSED = "postgresql+psycopg://postgres@127.0.0.1:1/postgres"  # nothing listens on port 1
ONE_PG_TEST = "tests/unit/test_registry_audit.py::test_an_anchor_that_still_matches_verifies"


def run_pytest(*args: str, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["NFCBRIDGE_PG_SERVER"] = CLOSED
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:randomly", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_test_needing_an_absent_postgresql_is_skipped_with_the_reason() -> None:
    result = run_pytest(ONE_PG_TEST, ci=False)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout  # sqlite ran, postgres skipped
    assert "no PostgreSQL server at" in result.stdout


def test_in_ci_a_missing_service_is_a_failure_not_a_skip() -> None:
    result = run_pytest(ONE_PG_TEST, ci=True)
    assert result.returncode != 0, result.stdout
    assert "in CI every service must be present" in result.stdout
