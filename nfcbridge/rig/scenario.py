"""Scenario files: who taps which door when, as JSON lines.

One JSON object per line; blank lines and lines starting with ``#`` are comments. Every
object has a ``kind``. The first record is the header; the others may come in any order,
but a name must be declared (provider, customer, tag, staff) before a record refers to it::

    {"kind": "scenario", "version": 1, "name": "district day", "start": "2026-11-24T06:00:00Z",
     "station": "rig-1"}
    {"kind": "provider", "id": "P-01"}
    {"kind": "customer", "id": "C-0001", "provider": "P-01", "household": "H-0001"}
    {"kind": "tag", "uid": "04A1B2C3D4E5F6", "customer": "C-0001"}
    {"kind": "tag", "uid": "04FF00112233AA", "state": "retired", "customer": "C-0001"}
    {"kind": "tag", "uid": "04EE00112233BB", "state": "unknown"}
    {"kind": "staff", "id": "S-001", "provider": "P-01", "reader": "s001"}
    {"kind": "visit", "staff": "S-001", "tag": "04A1B2C3D4E5F6", "start": "01:00:00",
     "end": "01:30:00"}
    {"kind": "visit", "staff": "S-001", "tag": "04A1B2C3D4E5F6", "start": 9000, "end": null}
    {"kind": "tap", "staff": "S-001", "tag": "04EE00112233BB", "t": "02:59:30"}
    {"kind": "customer", "id": "C-0002", "provider": "P-01", "end_reason": "died",
     "ended_on": "2026-11-20"}
    {"kind": "customer", "id": "C-0003", "provider": "P-01", "lock_installed": "2026-10-01"}
    {"kind": "manual", "staff": "S-001", "customer": "C-0001", "side": "end", "t": "01:31:00",
     "reason": "ended_outside", "note": "the phone died on the stairs"}

Fields:

- ``scenario``: ``start`` is the wall-clock moment of scenario time 0 (ISO 8601 with a zone);
  ``station`` the station name simulated events carry (default ``rig``); ``version`` 1.
- ``customer.household``: cohabitants (sammanboende) share a household; each has their own
  tag. Default: a household of one.
- ``tag``: ``uid`` is 7 bytes of hex; ``state`` is ``active`` (default; needs ``customer``,
  one active tag per customer), ``retired`` (an old sticker still on the door; ``customer``
  optional), ``unknown`` (not in any registry) or ``issued`` (picked up for ``customer``'s
  door by its provider, not attached yet: a tap on it comes before it was attached);
  ``product`` defaults to ``NTAG213``.
- ``staff.reader``: the name of the staff member's phone, i.e. the reader the taps come
  from (default: the staff id lower-cased). Letters, digits, ``-`` and ``_`` only.
- ``visit``: a start tap at ``start`` and an end tap at ``end`` on an active tag;
  ``"end": null`` is a missed end tap. ``hold_start`` / ``hold_end`` (seconds, default 1) is
  how long the phone stays on the tag: a long ``hold_start`` is a tag held on the reader,
  which must still be one tap.
- ``tap``: a lone tap at ``t`` on a tag that is not active (a retired sticker, an unknown
  tag, an issued one): an anomaly, never half a visit. ``hold`` as above.
- ``customer.end_reason`` (died, moved_away, care_home, declined, other) with
  ``customer.ended_on`` (YYYY-MM-DD): care has ended; the seed ends the customer, which
  retires the tag on the door, so a visit on it is refused here and a lone ``tap`` on it is
  an expected ``retired`` anomaly (implausible: ``after_retired``, ``customer_ended``).
  ``customer.lock_installed`` (YYYY-MM-DD): a digital lock; the seed records it, the
  customer's tag stays active until collected, its taps still count as visits and are
  implausible as ``digital_lock``.
- ``manual``: a manual registration (no receipt) by ``staff`` for ``customer`` at ``t``:
  ``side`` start or end, ``reason`` technical_fault, started_outside or ended_outside,
  ``note`` required (it stays at the station). Replayed through the daemon's control socket
  only; the receiver lists it under ``manual`` and counts it in the provider's manual share.

Implausible patterns (``nfcbridge.receiver.plausibility``) are planted with these records
alone: two visits of one staff member at two households closer than the minimum travel
time, a visit with ``"end": null`` after which the staff member taps nothing for longer
than a working day, more visits on one tag in a day than the limit allows, a lone tap on a
retired or an issued tag (``nfcbridge.rig.implausible`` plants one of each into a day).
- Times (``start``, ``end``, ``t``) are seconds from the scenario start, as a number or as
  ``"HH:MM[:SS[.fff]]"`` (hours may exceed 23). Any record may carry a ``note`` string.

Reading and checking a file is ``nfcbridge.rig.scenario_parser``
(``load_scenario``, ``parse_scenario``); ``scenario_lines`` here writes one back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nfcbridge.errors import AppError, ExitCode

VERSION = 1
DEFAULT_HOLD = 1.0
TAG_STATES = ("active", "retired", "unknown", "issued")


class ScenarioError(AppError):
    """A scenario file that cannot be used; exit code 3 like any other input file."""

    exit_code = ExitCode.CONFIG


@dataclass(frozen=True)
class Customer:
    id: str
    provider: str
    household: str
    end_reason: str | None = None  # care has ended (the seed retires the door's tag)
    ended_on: str | None = None  # YYYY-MM-DD
    lock_installed: str | None = None  # YYYY-MM-DD: a digital lock replaces the tag


@dataclass(frozen=True)
class ManualRegistration:
    staff: str
    customer: str
    side: str  # "start" or "end"
    t: float
    reason: str
    note: str
    line: int = 0


@dataclass(frozen=True)
class Tag:
    uid: str  # upper-case hex
    state: str
    customer: str | None = None
    product: str = "NTAG213"


@dataclass(frozen=True)
class Staff:
    id: str
    provider: str
    reader: str


@dataclass(frozen=True)
class Visit:
    staff: str
    tag: str
    start: float
    end: float | None
    hold_start: float = DEFAULT_HOLD
    hold_end: float = DEFAULT_HOLD
    line: int = 0


@dataclass(frozen=True)
class LoneTap:
    staff: str
    tag: str
    t: float
    hold: float = DEFAULT_HOLD
    line: int = 0


@dataclass(frozen=True)
class PlannedTap:
    """One tap of the replay, in scenario time."""

    t: float
    staff: str
    reader: str
    uid: str
    hold: float
    role: str  # "start", "end" or "lone"
    line: int


@dataclass
class Scenario:
    name: str
    start: datetime
    station: str = "rig"
    source: str = "<scenario>"
    providers: set[str] = field(default_factory=set)
    customers: dict[str, Customer] = field(default_factory=dict)
    tags: dict[str, Tag] = field(default_factory=dict)
    staff: dict[str, Staff] = field(default_factory=dict)
    visits: list[Visit] = field(default_factory=list)
    lone_taps: list[LoneTap] = field(default_factory=list)
    manual: list[ManualRegistration] = field(default_factory=list)

    def at(self, t: float) -> datetime:
        """The wall-clock moment of scenario time *t*."""
        return self.start + timedelta(seconds=t)

    def reader_of(self, staff: str) -> str:
        return self.staff[staff].reader

    def taps(self) -> list[PlannedTap]:
        """Every tap in time order (ties: file order)."""
        taps = []
        for v in self.visits:
            reader = self.reader_of(v.staff)
            taps.append(PlannedTap(v.start, v.staff, reader, v.tag, v.hold_start, "start", v.line))
            if v.end is not None:
                taps.append(PlannedTap(v.end, v.staff, reader, v.tag, v.hold_end, "end", v.line))
        for lt in self.lone_taps:
            taps.append(
                PlannedTap(
                    lt.t, lt.staff, self.reader_of(lt.staff), lt.tag, lt.hold, "lone", lt.line
                )
            )
        return sorted(taps, key=lambda tap: (tap.t, tap.line, tap.role != "start"))


# -- writing --------------------------------------------------------------------------------
def scenario_lines(s: Scenario) -> list[str]:
    """The scenario as JSON lines (the generator's output; parse_scenario reads it back)."""
    out: list[dict[str, Any]] = [
        {
            "kind": "scenario",
            "version": VERSION,
            "name": s.name,
            "start": s.start.isoformat().replace("+00:00", "Z"),
            "station": s.station,
        }
    ]
    out += [{"kind": "provider", "id": p} for p in sorted(s.providers)]
    for c in s.customers.values():
        crec: dict[str, Any] = {
            "kind": "customer",
            "id": c.id,
            "provider": c.provider,
            "household": c.household,
        }
        if c.end_reason:
            crec.update(end_reason=c.end_reason, ended_on=c.ended_on)
        if c.lock_installed:
            crec["lock_installed"] = c.lock_installed
        out.append(crec)
    for t in s.tags.values():
        rec: dict[str, Any] = {"kind": "tag", "uid": t.uid, "state": t.state}
        if t.customer:
            rec["customer"] = t.customer
        out.append(rec)
    out += [
        {"kind": "staff", "id": st.id, "provider": st.provider, "reader": st.reader}
        for st in s.staff.values()
    ]
    for v in sorted(s.visits, key=lambda v: (v.start, v.staff)):
        rec = {
            "kind": "visit",
            "staff": v.staff,
            "tag": v.tag,
            "start": round(v.start, 3),
            "end": None if v.end is None else round(v.end, 3),
        }
        if v.hold_start != DEFAULT_HOLD:
            rec["hold_start"] = v.hold_start
        out.append(rec)
    out += [
        {"kind": "tap", "staff": lt.staff, "tag": lt.tag, "t": round(lt.t, 3)}
        for lt in sorted(s.lone_taps, key=lambda lt: lt.t)
    ]
    out += [
        {
            "kind": "manual",
            "staff": m.staff,
            "customer": m.customer,
            "side": m.side,
            "t": round(m.t, 3),
            "reason": m.reason,
            "note": m.note,
        }
        for m in sorted(s.manual, key=lambda m: m.t)
    ]
    return [json.dumps(r, separators=(", ", ": ")) for r in out]
