"""The test tiers keep their promises: test modules share helpers only through tests/support,
and one module defines the registry fixtures. (A test needing an absent service is skipped
with the reason, and fails in CI: tests/integration/test_tiers_without_services.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_test_module_imports_another_test_module() -> None:
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if "support" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.startswith("tests.") and not name.startswith("tests.support"):
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_only_one_module_defines_a_registry_fixture() -> None:
    defining = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.FunctionDef)
                and node.name in ("registry", "registry_url")
                and any("fixture" in ast.unparse(d) for d in node.decorator_list)
            ):
                defining.append(f"{path.relative_to(ROOT)}::{node.name}")
    assert defining == ["tests/conftest.py::registry_url", "tests/conftest.py::registry"]
