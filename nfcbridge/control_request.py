"""Reading the control socket's requests: one JSON object per line, checked before use.

Everything here runs before a request has any effect: a refused request (``ControlError``,
answered ``{"ok": false, "error": ...}``) has placed nothing on a reader and committed
nothing. ``nfcbridge.control`` is the server that acts on what this returns.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nfcbridge.errors import Refused
from nfcbridge.limits import moment_error

MAX_HOLD = 60.0
MAX_WAIT = 60.0
MAX_DEPTH = 8  # a request is a flat object; nesting this deep is not one
_AT_EXAMPLE = "e.g. 2026-11-24T07:58:12.345Z"


class ControlError(Refused):
    """The control channel refuses a request, or cannot be set up (exit 7)."""


def decode_request(raw: bytes) -> dict[str, Any]:
    """The JSON object on one request line; ``ControlError`` for anything else."""
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise ControlError("request nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, 4300+ digit integers
        raise ControlError(f"not a JSON request: {str(exc)[:80]}") from None
    if not isinstance(value, dict):
        raise ControlError("a request is a JSON object")
    if _depth(value) > MAX_DEPTH:
        raise ControlError("request nested too deeply")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(value: Any) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return depth
        nxt: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                nxt += item.values()
            elif isinstance(item, list):
                nxt += item
        level = nxt
    return depth - 1


def parse_at(value: Any) -> datetime | None:
    """The ``at`` of a tap request as an aware UTC datetime; ``ControlError`` if malformed."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ControlError(f"bad tap request: 'at' must be an ISO 8601 string ({_AT_EXAMPLE})")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ControlError(
            f"bad tap request: 'at' is not an ISO 8601 time: {value[:40]!r} ({_AT_EXAMPLE})"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ControlError(f"bad tap request: 'at' needs a time zone ({_AT_EXAMPLE})")
    if why := moment_error(moment):
        raise ControlError(f"bad tap request: 'at' {why}")
    return moment.astimezone(UTC)


def _number(request: dict[str, Any], key: str, default: float, high: float) -> float:
    value = request.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlError(f"bad tap request: {key!r} must be a number of seconds")
    if not (math.isfinite(value) and 0 <= value <= high):
        raise ControlError(f"{key} must be between 0 and {high:g} s")
    return float(value)


@dataclass(frozen=True)
class TapRequest:
    reader: str
    uid: bytes
    product: str
    hold: float
    wait: float
    at: datetime | None


def parse_tap_request(request: dict[str, Any]) -> TapRequest:
    """Every field of a tap request checked (``ControlError`` naming the first bad one)."""
    from drivers.products import PRODUCTS

    name = request.get("reader")
    if not isinstance(name, str):
        raise ControlError(f"no reader named {name!r}")
    uid_text = request.get("uid", "")
    if not isinstance(uid_text, str):
        raise ControlError("bad tap request: 'uid' must be a hex string")
    try:
        uid = bytes.fromhex(uid_text.replace(":", ""))
    except ValueError:
        raise ControlError(f"bad tap request: 'uid' {uid_text[:40]!r} is not hex") from None
    if len(uid) != 7:
        raise ControlError(f"bad tap request: an NTAG21x UID has 7 bytes, not {len(uid)}")
    product = request.get("product", "NTAG213")
    if not isinstance(product, str) or product.upper() not in PRODUCTS:
        raise ControlError(
            f"bad tap request: unknown product {product!r} (known: {', '.join(sorted(PRODUCTS))})"
        )
    hold = _number(request, "hold", 0.2, MAX_HOLD)
    wait = _number(request, "wait", 10.0, MAX_WAIT)
    return TapRequest(name, uid, product.upper(), hold, wait, parse_at(request.get("at")))
