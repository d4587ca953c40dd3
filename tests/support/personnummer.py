"""The personnummer the tests type in, and a scan for them in files the tests wrote."""

from __future__ import annotations

import re
from pathlib import Path

# Every personnummer the tests type in (valid and invalid ones): none may ever reach a file.
TEST_PERSONNUMMER = ("811218-9876", "811218-9875", "701063-2391", "121212-1212")
_ANY_FORM = re.compile(
    b"|".join(
        rb"(?:19|20)?" + re.escape(n[:6].encode()) + rb"[-+]?" + re.escape(n[7:].encode())
        for n in TEST_PERSONNUMMER
    )
)
# Every form holds the six date digits: a fast test that rules most files out (the pattern,
# starting with an optional century, is tried at every byte of a file).
_DATE_PARTS = tuple(n[:6].encode() for n in TEST_PERSONNUMMER)


def holds_test_personnummer(data: bytes) -> bool:
    return any(part in data for part in _DATE_PARTS) and _ANY_FORM.search(data) is not None


def files_with_personnummer(root: Path) -> list[str]:
    """Files under *root* (databases, logs, outputs) holding a test personnummer in any form."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if holds_test_personnummer(path.read_bytes()):
                    found.append(str(path))
            except OSError:
                continue
    return found
