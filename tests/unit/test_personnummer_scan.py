"""The end-of-run scan finds a test personnummer in any of its forms, in any file."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.support.personnummer import files_with_personnummer


@pytest.mark.parametrize(
    "form", ["811218-9876", "8112189876", "198112189876", "19811218-9876", "811218+9876"]
)
def test_scan_finds_every_written_form(form: str) -> None:
    # outside pytest's tmp_path: the end-of-run scan must not find this planted leak
    with tempfile.TemporaryDirectory() as tmp:
        _finds(Path(tmp), form)


def _finds(tmp_path: Path, form: str) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "leak.db").write_bytes(b"\\x00 customer " + form.encode() + b" \\x00")
    (tmp_path / "clean.log").write_text("psn:k1:3f9c5a1e nothing here")
    assert files_with_personnummer(tmp_path) == [str(tmp_path / "sub" / "leak.db")]
