"""Plausibility: taps that are each well-formed but together cannot be what they claim.

Found from the stored events alone (their times, readers, stations and the registry facts
the station added at tap time), each finding with the taps behind it:

``impossible_travel``
    closer in time than anyone could travel (``Limits.min_travel``): the same tag seen at
    two stations (two places); or one reader (a staff phone) at the doors of two customers,
    outside a joint visit to cohabitants. A joint visit is two visits whose times overlap,
    or two start taps within the pairing's joint window; when the events carry the
    customers' ``registry.household``, that decides instead.
``open_too_long``
    a visit start with no end tap, after which the same reader taps nothing for longer than
    a working day (``Limits.working_day``; until the newest event when it taps nothing
    more).
``too_many_taps``
    more taps on one tag in one day (``Limits.zone``) than visits could explain
    (``Limits.max_taps_per_day``).
``after_retired``
    taps on a tag the registry had retired when it was tapped.
``before_attached``
    taps on a tag provisioned but not attached to a door yet (in stock or issued).
``customer_ended`` / ``digital_lock``
    taps on the tag of a customer whose home care has ended, or who has a digital lock (the
    lock gives the receipt, a sticker is no longer used). Read from the event's
    ``registry.customer_status`` (``ended`` or ``lock``, the registry's customer status);
    a station whose registry does not say it leaves these out.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from nfcbridge import events as ev
from nfcbridge.receiver.pairing import JOINT_WINDOW, Tap, Visit, overlaps

NOT_ATTACHED = frozenset({"not_attached", "issued", "in_stock"})
KINDS = (
    "impossible_travel",
    "open_too_long",
    "too_many_taps",
    "after_retired",
    "before_attached",
    "customer_ended",
    "digital_lock",
)


@dataclass(frozen=True)
class Limits:
    min_travel: float = 120.0  # seconds between two doors (or two stations)
    working_day: float = 8 * 3600.0  # seconds a start may stay without an end tap
    max_taps_per_day: int = 24  # taps on one tag in a day (12 visits of start and end)
    zone: str = "Europe/Stockholm"  # the day of too_many_taps
    joint_window: float = JOINT_WINDOW


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _zone(name: str) -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except (ImportError, KeyError, ValueError):  # no tz database: days in UTC
        return UTC


@dataclass(frozen=True)
class Seen:
    """One stored event, as plausibility needs it."""

    at: datetime
    reader: str
    station: str
    uid: str
    kinds: tuple[str, ...]  # the report's anomaly kinds of the event
    event: dict[str, Any]

    @property
    def registry(self) -> dict[str, Any]:
        found = self.event.get("registry")
        return found if isinstance(found, dict) else {}

    def as_tap(self) -> dict[str, Any]:
        return {
            "event_id": self.event.get("event_id"),
            "station": self.station,
            "reader": self.reader,
            "uid": self.uid,
            "at": _iso(self.at),
        }


def _finding(kind: str, taps: list[Seen], detail: str, **extra: Any) -> dict[str, Any]:
    first = taps[0]
    return {
        "kind": kind,
        "uid": first.uid,
        "reader": extra.pop("reader", first.reader),
        "at": _iso(first.at),
        "customer": first.registry.get("customer"),
        "provider": first.registry.get("provider"),
        "detail": detail,
        "taps": [t.as_tap() for t in taps],
        **extra,
    }


def find_implausible(
    seen: list[Seen], visits: Iterable[Visit], limits: Limits | None = None
) -> list[dict[str, Any]]:
    """Every finding, ordered by time; *visits* are the report's paired visits."""
    limits = limits or Limits()
    ordered = sorted(seen, key=lambda s: (s.at, s.reader, s.event.get("seq", 0)))
    visit_list = list(visits)
    findings = (
        _travel_between_stations(ordered, limits)
        + _travel_between_doors(visit_list, limits)
        + _open_too_long(ordered, visit_list, limits)
        + _too_many_taps(ordered, limits)
        + _by_state(ordered)
    )
    return sorted(findings, key=lambda f: (f["at"], f["kind"], f["uid"]))


def _travel_between_stations(ordered: list[Seen], limits: Limits) -> list[dict[str, Any]]:
    by_uid: dict[str, list[Seen]] = defaultdict(list)
    for s in ordered:
        by_uid[s.uid].append(s)
    found = []
    for taps in by_uid.values():
        for a, b in itertools.pairwise(taps):
            gap = (b.at - a.at).total_seconds()
            if a.station != b.station and gap < limits.min_travel:
                found.append(
                    _finding(
                        "impossible_travel",
                        [a, b],
                        f"tag at stations {a.station} and {b.station} {gap:.0f} s apart",
                        reader=None,
                    )
                )
    return found


def _travel_between_doors(visits: list[Visit], limits: Limits) -> list[dict[str, Any]]:
    """Consecutive payable taps of one reader on two customers' tags, too close in time."""
    visit_of: dict[int, Visit] = {}
    by_reader: dict[str, list[Tap]] = defaultdict(list)
    for v in visits:
        for tap in (v.start, v.end):
            if tap is not None:
                visit_of[id(tap)] = v
                by_reader[v.reader].append(tap)
    found = []
    for taps in by_reader.values():
        taps.sort(key=lambda t: (t.at, t.order))
        for a, b in itertools.pairwise(taps):
            gap = (b.at - a.at).total_seconds()
            if a.uid == b.uid or gap >= limits.min_travel:
                continue
            va, vb = visit_of[id(a)], visit_of[id(b)]
            if _same_customer(a, b) or _joint(a, b, va, vb, limits):
                continue
            sa, sb = a.ref, b.ref
            found.append(
                _finding(
                    "impossible_travel",
                    [sa, sb],
                    f"reader {sa.reader} at {sa.uid} and {sb.uid} {gap:.0f} s apart",
                )
            )
    return found


def _same_customer(a: Tap, b: Tap) -> bool:
    customer = a.ref.registry.get("customer")
    return bool(customer) and customer == b.ref.registry.get("customer")


def _joint(a: Tap, b: Tap, va: Visit, vb: Visit, limits: Limits) -> bool:
    ha, hb = a.ref.registry.get("household"), b.ref.registry.get("household")
    if ha and hb:
        return bool(ha == hb)
    if va.start is a and vb.start is b and (b.at - a.at).total_seconds() <= limits.joint_window:
        return True
    return overlaps(va.start.at, va.until, vb.start.at, vb.until)


def _open_too_long(
    ordered: list[Seen], visits: list[Visit], limits: Limits
) -> list[dict[str, Any]]:
    if not ordered:
        return []
    horizon = ordered[-1].at
    by_reader: dict[str, list[datetime]] = defaultdict(list)
    for s in ordered:
        by_reader[s.reader].append(s.at)
    found = []
    for v in visits:
        if v.end is not None:
            continue
        later = [t for t in by_reader[v.reader] if t > v.start.at]
        until = later[0] if later else horizon
        idle = (until - v.start.at).total_seconds()
        if idle > limits.working_day:
            what = "next tap" if later else "newest event"
            found.append(
                _finding(
                    "open_too_long",
                    [v.start.ref],
                    f"no end tap; {what} by {v.reader} {idle / 3600:.1f} h later",
                )
            )
    return found


def _too_many_taps(ordered: list[Seen], limits: Limits) -> list[dict[str, Any]]:
    zone = _zone(limits.zone)
    per_day: dict[tuple[str, str], list[Seen]] = defaultdict(list)
    for s in ordered:
        per_day[(s.uid, s.at.astimezone(zone).date().isoformat())].append(s)
    return [
        _finding(
            "too_many_taps",
            taps,
            f"{len(taps)} taps on {day} (at most {limits.max_taps_per_day})",
            reader=None,
            day=day,
        )
        for (_uid, day), taps in per_day.items()
        if len(taps) > limits.max_taps_per_day
    ]


def _by_state(ordered: list[Seen]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[Seen]] = defaultdict(list)
    for s in ordered:
        status = s.registry.get("customer_status")
        if {ev.RETIRED_TAG, "retired"} & set(s.kinds):  # named, or the state alone
            groups[("after_retired", s.uid)].append(s)
        if NOT_ATTACHED.intersection(s.kinds):
            groups[("before_attached", s.uid)].append(s)
        if status == "ended":
            groups[("customer_ended", s.uid)].append(s)
        if status == "lock":
            groups[("digital_lock", s.uid)].append(s)
    words = {
        "after_retired": "tapped after the tag was retired",
        "before_attached": "tapped before the tag was attached to a door",
        "customer_ended": "tapped on a customer whose home care has ended",
        "digital_lock": "tapped on a customer with a digital lock",
    }
    return [
        _finding(kind, taps, f"{len(taps)} tap(s) {words[kind]}", reader=None)
        for (kind, _uid), taps in groups.items()
    ]
