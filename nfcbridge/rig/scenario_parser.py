"""Reading a scenario file (the format is described in ``nfcbridge.rig.scenario``).

Domain rules checked here (``rules.py`` has the ones about time): staff and customers belong
to a declared provider, one active tag per customer, a tag's UID declared once, a name
declared before a record refers to it. A malformed file raises ``ScenarioError``: one line
naming the file, line and field, so that a hand-written scenario is quick to fix.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from drivers.products import PRODUCTS
from nfcbridge.limits import MAX_HOLD_SECONDS, MAX_SCENARIO_SECONDS, moment_error
from nfcbridge.rig.scenario import (
    DEFAULT_HOLD,
    TAG_STATES,
    VERSION,
    Customer,
    LoneTap,
    ManualRegistration,
    Scenario,
    ScenarioError,
    Staff,
    Tag,
    Visit,
)
from provisioning.customer_life import END_REASONS

MANUAL_REASONS = ("technical_fault", "started_outside", "ended_outside")  # nfcbridge.manual

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CLOCK = re.compile(r"^([0-9]{1,6}):([0-5][0-9])(?::([0-5][0-9](?:\.[0-9]{1,9})?))?$")


class _Record:
    """One parsed line with field access that names the line and field on error."""

    def __init__(self, data: dict[str, Any], source: str, line: int) -> None:
        self.data, self.source, self.line = data, source, line
        self.used = {"kind", "note"}

    def error(self, name: str | None, message: str) -> ScenarioError:
        where = f"{self.source}:{self.line}"
        return ScenarioError(
            f"{where}: field {name!r}: {message}" if name else f"{where}: {message}"
        )

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        self.used.add(name)
        if name not in self.data:
            if default is ...:
                raise self.error(name, "missing")
            return default
        value = self.data[name]
        if value is None and default is None:
            return None
        if isinstance(value, bool) or not isinstance(value, kind):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise self.error(name, f"expected {names}, got {json.dumps(value)}")
        return value

    def name(self, key: str, default: Any = ...) -> str:
        value = self.get(key, str, default)
        if value is not None and not _NAME.match(value):
            raise self.error(key, f"{value!r} must be 1-64 letters, digits, '-' or '_'")
        return value  # type: ignore[no-any-return]

    def time(self, key: str, default: Any = ...) -> float | None:
        value = self.get(key, (int, float, str), default)
        if value is None:
            return None
        if isinstance(value, str):
            m = _CLOCK.match(value)
            if not m:
                raise self.error(key, f"{value!r} is not seconds or HH:MM[:SS]")
            value = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3) or 0)
        if not 0 <= value <= MAX_SCENARIO_SECONDS:  # also refuses NaN; before float()
            raise self.error(key, f"must be between 0 and {MAX_SCENARIO_SECONDS:g} s")
        return float(value)

    def seconds(self, key: str, default: float) -> float:
        value = self.get(key, (int, float), default)
        if not 0 < value <= MAX_HOLD_SECONDS:
            raise self.error(key, f"must be positive and at most {MAX_HOLD_SECONDS:g} s")
        return float(value)

    def finish(self) -> None:
        extra = sorted(set(self.data) - self.used)
        if extra:
            raise self.error(extra[0], f"unknown field for kind {self.data['kind']!r}")


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Parse and check a scenario; ``ScenarioError`` names the first line at fault."""
    from nfcbridge.rig.rules import check_timing

    scenario: Scenario | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            data = json.loads(stripped, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"{source}:{number}: not valid JSON: {exc.msg}") from None
        except RecursionError:
            raise ScenarioError(f"{source}:{number}: JSON nested too deeply") from None
        except ValueError as exc:  # NaN/Infinity, integers of 4300+ digits
            raise ScenarioError(f"{source}:{number}: not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ScenarioError(f"{source}:{number}: expected a JSON object")
        rec = _Record(data, source, number)
        kind = rec.get("kind", str)
        if scenario is None:
            if kind != "scenario":
                raise rec.error("kind", "the first record must be the header (kind 'scenario')")
            scenario = _header(rec)
        elif kind not in _HANDLERS:
            raise rec.error("kind", f"unknown kind {kind!r} (known: {', '.join(_HANDLERS)})")
        else:
            _HANDLERS[kind](scenario, rec)
        rec.finish()
    if scenario is None:
        raise ScenarioError(f"{source}: empty scenario (no header record)")
    check_timing(scenario)
    return scenario


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_scenario(path: str | Path) -> Scenario:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not UTF-8 text") from None
    return parse_scenario(text, str(path))


def _header(rec: _Record) -> Scenario:
    version = rec.get("version", int, VERSION)
    if version != VERSION:
        raise rec.error("version", f"version {version} is not supported (this program reads 1)")
    start_text = rec.get("start", str)
    try:
        start = datetime.fromisoformat(start_text.replace("Z", "+00:00"))
    except ValueError:
        raise rec.error("start", f"{start_text!r} is not an ISO 8601 time") from None
    if start.tzinfo is None or start.utcoffset() is None:
        raise rec.error("start", "needs a time zone (e.g. 2026-11-24T06:00:00Z)")
    if why := moment_error(start):
        raise rec.error("start", f"{start_text!r} {why}")
    return Scenario(
        name=rec.get("name", str, "scenario"),
        start=start.astimezone(UTC),
        station=rec.name("station", "rig"),
        source=rec.source,
    )


def _provider(s: Scenario, rec: _Record) -> None:
    pid = rec.name("id")
    if pid in s.providers:
        raise rec.error("id", f"provider {pid!r} declared twice")
    s.providers.add(pid)


def _customer(s: Scenario, rec: _Record) -> None:
    cid = rec.name("id")
    if cid in s.customers:
        raise rec.error("id", f"customer {cid!r} declared twice")
    provider = _known(rec, "provider", s.providers)
    household = rec.name("household", f"_{cid}")
    end_reason = rec.get("end_reason", str, None)
    ended_on = _date(rec, "ended_on")
    if (end_reason is None) != (ended_on is None):
        raise rec.error("end_reason", "end_reason and ended_on go together")
    if end_reason is not None and end_reason not in END_REASONS:
        raise rec.error("end_reason", f"{end_reason!r} is not one of {', '.join(END_REASONS)}")
    lock = _date(rec, "lock_installed")
    s.customers[cid] = Customer(cid, provider, household, end_reason, ended_on, lock)


def _date(rec: _Record, key: str) -> str | None:
    value = rec.get(key, str, None)
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise rec.error(key, f"{value!r} is not a date (YYYY-MM-DD)") from None


def _ended(s: Scenario, tag: str) -> bool:
    owner = s.tags[tag].customer
    return owner is not None and s.customers[owner].end_reason is not None


def _manual(s: Scenario, rec: _Record) -> None:
    staff = _known(rec, "staff", s.staff)
    customer = _known(rec, "customer", s.customers)
    side = rec.get("side", str)
    if side not in ("start", "end"):
        raise rec.error("side", f"{side!r} must be start or end")
    reason = rec.get("reason", str)
    if reason not in MANUAL_REASONS:
        raise rec.error("reason", f"{reason!r} is not one of {', '.join(MANUAL_REASONS)}")
    note = rec.get("note", str)
    if not note.strip():
        raise rec.error("note", "a manual registration needs a note")
    if s.customers[customer].end_reason is not None:
        raise rec.error("customer", f"customer {customer} has ended: nothing can be registered")
    t = rec.time("t")
    assert t is not None
    s.manual.append(ManualRegistration(staff, customer, side, t, reason, note, rec.line))


def _tag(s: Scenario, rec: _Record) -> None:
    uid_text = rec.get("uid", str)
    try:
        uid = bytes.fromhex(uid_text.replace(":", ""))
    except ValueError:
        raise rec.error("uid", f"{uid_text!r} is not hex") from None
    if len(uid) != 7:
        raise rec.error("uid", f"{uid_text!r} is {len(uid)} bytes; NTAG UIDs are 7")
    hexuid = uid.hex().upper()
    if hexuid in s.tags:
        raise rec.error("uid", f"tag {hexuid} declared twice (a UID is unique forever)")
    state = rec.get("state", str, "active")
    if state not in TAG_STATES:
        raise rec.error("state", f"{state!r} is not one of {', '.join(TAG_STATES)}")
    customer = rec.get("customer", str, None)
    if customer is not None and customer not in s.customers:
        raise rec.error("customer", f"no customer {customer!r} declared before this line")
    if state == "active":
        if customer is None:
            raise rec.error("customer", "an active tag needs the customer whose door it is on")
        for other in s.tags.values():
            if other.state == "active" and other.customer == customer:
                raise rec.error("customer", f"{customer} already has active tag {other.uid}")
    if state == "unknown" and customer is not None:
        raise rec.error("customer", "an unknown tag belongs to no customer")
    if state == "issued" and customer is None:
        raise rec.error("customer", "an issued tag needs the customer whose door it is for")
    product = rec.get("product", str, "NTAG213").upper()
    if product not in PRODUCTS:
        known = ", ".join(sorted(PRODUCTS))
        raise rec.error("product", f"{product!r} is not a tag product (known: {known})")
    s.tags[hexuid] = Tag(hexuid, state, customer, product)


def _staff(s: Scenario, rec: _Record) -> None:
    sid = rec.name("id")
    if sid in s.staff:
        raise rec.error("id", f"staff {sid!r} declared twice")
    provider = _known(rec, "provider", s.providers)
    reader = rec.name("reader", sid.lower())
    if any(other.reader == reader for other in s.staff.values()):
        raise rec.error("reader", f"reader {reader!r} already belongs to another staff member")
    s.staff[sid] = Staff(sid, provider, reader)


def _visit(s: Scenario, rec: _Record) -> None:
    staff = _known(rec, "staff", s.staff)
    tag = _tag_ref(s, rec)
    if s.tags[tag].state != "active":
        raise rec.error("tag", f"tag {tag} is {s.tags[tag].state}: use a lone tap, not a visit")
    if _ended(s, tag):
        raise rec.error("tag", f"tag {tag} is on an ended customer's door (retired by the seed)")
    start = rec.time("start")
    if "end" not in rec.data:
        raise rec.error("end", "missing (write null for a missed end tap)")
    end = rec.time("end", None)
    hold_start = rec.seconds("hold_start", DEFAULT_HOLD)
    hold_end = rec.seconds("hold_end", DEFAULT_HOLD)
    assert start is not None
    if end is not None and end < start + hold_start:
        raise rec.error("end", "must come after the start tap (and its hold) is over")
    s.visits.append(Visit(staff, tag, start, end, hold_start, hold_end, rec.line))


def _lone_tap(s: Scenario, rec: _Record) -> None:
    staff = _known(rec, "staff", s.staff)
    tag = _tag_ref(s, rec)
    if s.tags[tag].state == "active" and not _ended(s, tag):
        raise rec.error(
            "tag",
            f"tag {tag} is active: a lone tap on it is half a visit (write a visit, end null)",
        )
    t = rec.time("t")
    assert t is not None
    s.lone_taps.append(LoneTap(staff, tag, t, rec.seconds("hold", DEFAULT_HOLD), rec.line))


def _known(rec: _Record, key: str, names: set[str] | dict[str, Any]) -> str:
    value = rec.name(key)
    if value not in names:
        raise rec.error(key, f"no {key} {value!r} declared before this line")
    return value


def _tag_ref(s: Scenario, rec: _Record) -> str:
    text: str = rec.get("tag", str)
    uid = text.replace(":", "").upper()
    if uid not in s.tags:
        raise rec.error("tag", f"no tag {text!r} declared before this line")
    return uid


_HANDLERS = {
    "provider": _provider,
    "customer": _customer,
    "tag": _tag,
    "staff": _staff,
    "visit": _visit,
    "tap": _lone_tap,
    "manual": _manual,
}
