"""A small scenario file for tests: one provider, a household of two customers with a tag
each, one unknown tag and one staff member; ``scenario_text`` appends records as lines."""

from __future__ import annotations

import json

HEADER: dict[str, object] = {
    "kind": "scenario",
    "version": 1,
    "name": "t",
    "start": "2026-11-24T06:00:00Z",
}
BASE: list[dict[str, object]] = [
    HEADER,
    {"kind": "provider", "id": "P-01"},
    {"kind": "customer", "id": "C-1", "provider": "P-01", "household": "H-1"},
    {"kind": "customer", "id": "C-2", "provider": "P-01", "household": "H-1"},
    {"kind": "tag", "uid": "04A1B2C3D4E5F6", "customer": "C-1"},
    {"kind": "tag", "uid": "04A1B2C3D4E5F7", "customer": "C-2"},
    {"kind": "tag", "uid": "04EE00112233BB", "state": "unknown"},
    {"kind": "staff", "id": "S-1", "provider": "P-01"},
]


def scenario_text(*records: dict[str, object], base: list[dict[str, object]] = BASE) -> str:
    """The scenario file ``base`` followed by ``records``, one JSON object a line."""
    return "\n".join(json.dumps(r) for r in [*base, *records]) + "\n"
