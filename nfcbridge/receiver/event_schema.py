"""What the reference receiver accepts as a tap event (schema ``nfcbridge.tap/1``).

Checked before anything is stored, so every stored event can be reported (``GET /report``,
``nfcbridge receiver report``) and stored at all (SQLite integers are 64-bit, its text is
UTF-8). The shape is the one ``nfcbridge.events.TapEvent.to_dict`` writes::

    schema        "nfcbridge.tap/1"
    event_id      string, equal to the webhook-id of the signed request
    station       string (1-200 characters)      reader  string (1-200 characters)
    seq           integer, 0 <= seq < 2**63
    occurred_at   ISO 8601 with a time zone, in the years 2000-2099
    clock_synced  boolean (optional)
    tag           {"uid": hex string of 4, 7 or 10 bytes, "product", "signature": string
                   or null, "genuine": boolean or null, "sun": null or {"url": string}}
                   (all but uid optional); null for a manual registration
    registry      null, or {"state": string, "customer", "provider", "customer_status":
                            string or null}
    origin        "reader", "simulated" or "manual"
    manual        (manual registrations only) {"kind": "start" or "end", "staff",
                  "customer", "reason", "note_ref", "note_sha256": strings}, never the note
    run           string (optional): the replay a simulated tap came from
    anomalies     list of known anomaly names (``KNOWN_ANOMALIES``)

Strings are valid Unicode (no lone surrogates) and numbers finite, anywhere in the body.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from nfcbridge import events
from nfcbridge.limits import moment_error
from nfcbridge.receiver.report import NOT_PAYABLE

SCHEMA = events.SCHEMA
MAX_TEXT = 200
MAX_SEQ = 2**63 - 1
MAX_DEPTH = 8
MAX_URL = 2048
# the daemon's vocabulary (the string constants of nfcbridge.events) and the names the
# report treats as not payable
KNOWN_ANOMALIES = frozenset(
    {
        *(
            v
            for k, v in vars(events).items()
            if k.isupper() and k != "SCHEMA" and isinstance(v, str)
        ),
        *NOT_PAYABLE,
    }
)
_UID = re.compile(r"^(?:[0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}|[0-9A-Fa-f]{20})$")


class EventInvalid(ValueError):
    pass


def check_event(event: Any, webhook_id: str) -> dict[str, Any]:
    """*event* if it is a v1 tap event whose id is the webhook id; ``EventInvalid`` if not."""
    if not isinstance(event, dict):
        raise EventInvalid("body is not a JSON object")
    _check_values(event, "", 0)
    if event.get("schema") != SCHEMA:
        raise EventInvalid(f"schema is {str(event.get('schema'))[:40]!r}, expected {SCHEMA!r}")
    for name in ("event_id", "station", "reader", "occurred_at"):
        _text(event, name, "")
    if event["event_id"] != webhook_id:
        raise EventInvalid("event_id differs from webhook-id")
    seq = event.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
        raise EventInvalid(f"field 'seq' must be an integer from 0 to {MAX_SEQ}")
    if not isinstance(event.get("clock_synced", False), bool):
        raise EventInvalid("field 'clock_synced' must be a boolean")
    _check_time(event["occurred_at"])
    if event.get("origin") not in ("reader", "simulated", "manual"):
        raise EventInvalid("field 'origin' must be 'reader', 'simulated' or 'manual'")
    if event["origin"] == "manual":
        _check_manual(event)
    else:
        _check_tag(event.get("tag"))
    _check_registry(event.get("registry"))
    _text(event, "run", "", optional=True)
    anomalies = event.get("anomalies")
    if not isinstance(anomalies, list):
        raise EventInvalid("field 'anomalies' missing or not a list")
    for item in anomalies:
        if not isinstance(item, str) or item.lower() not in KNOWN_ANOMALIES:
            raise EventInvalid(
                f"field 'anomalies': {str(item)[:40]!r} is not a known anomaly "
                f"(known: {', '.join(sorted(KNOWN_ANOMALIES))})"
            )
    return event


def _check_values(value: Any, where: str, depth: int) -> None:
    """Every string valid Unicode, every float finite, nesting bounded."""
    if depth > MAX_DEPTH:
        raise EventInvalid(f"field {where or 'body'!r} is nested too deeply")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise EventInvalid(f"field {where!r} is not valid Unicode") from None
    elif isinstance(value, float) and not math.isfinite(value):
        raise EventInvalid(f"field {where!r} is not a finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_values(key, where, depth + 1)
            _check_values(item, f"{where}.{key}" if where else key, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_values(item, where, depth + 1)


def _text(obj: dict[str, Any], name: str, prefix: str, *, optional: bool = False) -> None:
    value = obj.get(name)
    if value is None and optional:
        return
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
        what = "a string or null" if optional else "a string"
        raise EventInvalid(f"field {prefix + name!r} must be {what} of 1-{MAX_TEXT} characters")


def _check_time(text: str) -> None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise EventInvalid("field 'occurred_at' is not an ISO 8601 time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise EventInvalid("field 'occurred_at' has no time zone")
    if why := moment_error(moment):
        raise EventInvalid(f"field 'occurred_at' {why}")


def _check_tag(tag: Any) -> None:
    if not isinstance(tag, dict) or not isinstance(tag.get("uid"), str):
        raise EventInvalid("field 'tag.uid' missing")
    if not _UID.match(tag["uid"]):
        raise EventInvalid("field 'tag.uid' must be the hex of a 4-, 7- or 10-byte UID")
    _text(tag, "product", "tag.", optional=True)
    _text(tag, "signature", "tag.", optional=True)
    if tag.get("genuine") is not None and not isinstance(tag["genuine"], bool):
        raise EventInvalid("field 'tag.genuine' must be a boolean or null")
    sun = tag.get("sun")
    if sun is not None and (
        not isinstance(sun, dict)
        or not isinstance(sun.get("url"), str)
        or len(sun["url"]) > MAX_URL
    ):
        raise EventInvalid(f"field 'tag.sun' must be null or {{'url': string of <= {MAX_URL}}}")


def _check_manual(event: dict[str, Any]) -> None:
    """A manual registration: a ``manual`` block, no tag, and never the note itself."""
    manual = event.get("manual")
    if not isinstance(manual, dict):
        raise EventInvalid("a manual registration needs a 'manual' object")
    if "note" in manual:
        raise EventInvalid("a manual registration must not carry its note")
    for name in ("staff", "customer", "reason", "note_ref", "note_sha256"):
        if not isinstance(manual.get(name), str):
            raise EventInvalid(f"field 'manual.{name}' missing")
        _text(manual, name, "manual.")
    if manual.get("kind") not in ("start", "end"):
        raise EventInvalid("field 'manual.kind' must be 'start' or 'end'")
    if event.get("tag") is not None:
        raise EventInvalid("a manual registration has no tag (field 'tag' must be null)")


def _check_registry(registry: Any) -> None:
    if registry is None:
        return
    if not isinstance(registry, dict):
        raise EventInvalid("field 'registry' must be an object or null")
    _text(registry, "state", "registry.")
    _text(registry, "customer", "registry.", optional=True)
    _text(registry, "provider", "registry.", optional=True)
    _text(registry, "customer_status", "registry.", optional=True)
