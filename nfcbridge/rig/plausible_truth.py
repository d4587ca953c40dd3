"""Ground truth for the receiver's plausibility findings, read from a scenario's records.

The same definitions as ``nfcbridge.receiver.plausibility``, applied to what the scenario
says happened (not to tap pairing), with the household the scenario knows:

- ``impossible_travel``: two consecutive taps of one staff member on active tags of two
  households closer than ``min_travel`` seconds;
- ``open_too_long``: a visit with ``"end": null`` after which its staff member taps nothing
  for longer than ``working_day`` (until the scenario's last tap if nothing follows);
- ``too_many_taps``: more than ``max_taps_per_day`` taps on one tag in one day (``zone``);
- ``after_retired`` / ``before_attached``: lone taps on a retired / an issued tag, one
  finding per tag (an ended customer's tag is retired by the seed);
- ``customer_ended`` / ``digital_lock``: taps on the tag of a customer whose care ended /
  who has a digital lock, one finding per tag at its first tap.

Each expected finding is ``{"kind", "uid", "reader", "at"}`` (``reader`` null for findings
about a tag), matched against the report by ``nfcbridge.rig.truth.compare``.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime
from typing import Any

from nfcbridge.receiver.plausibility import Limits, _zone
from nfcbridge.rig.scenario import PlannedTap, Scenario


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def expected_plausibility(s: Scenario, limits: Limits | None = None) -> list[dict[str, Any]]:
    limits = limits or Limits()
    taps = s.taps()
    found: list[dict[str, Any]] = []

    def add(kind: str, uid: str, reader: str | None, t: float) -> None:
        found.append({"kind": kind, "uid": uid, "reader": reader, "at": _iso(s.at(t))})

    by_staff: dict[str, list[PlannedTap]] = defaultdict(list)
    for tap in taps:
        by_staff[tap.staff].append(tap)
    for staff_taps in by_staff.values():
        payable = [t for t in staff_taps if t.role != "lone"]
        for a, b in itertools.pairwise(payable):
            if (
                a.uid != b.uid
                and b.t - a.t < limits.min_travel
                and _household(s, a.uid) != _household(s, b.uid)
            ):
                add("impossible_travel", a.uid, a.reader, a.t)
    horizon = max((t.t for t in taps), default=0.0)
    for v in s.visits:
        if v.end is not None:
            continue
        later = [t.t for t in by_staff[v.staff] if t.t > v.start]
        if (later[0] if later else horizon) - v.start > limits.working_day:
            add("open_too_long", v.tag, s.reader_of(v.staff), v.start)
    zone = _zone(limits.zone)
    per_day: dict[tuple[str, str], list[float]] = defaultdict(list)
    for tap in taps:
        per_day[(tap.uid, s.at(tap.t).astimezone(zone).date().isoformat())].append(tap.t)
    for (uid, _day), times in per_day.items():
        if len(times) > limits.max_taps_per_day:
            add("too_many_taps", uid, None, min(times))
    first_lone: dict[str, float] = {}
    for lt in s.lone_taps:
        first_lone[lt.tag] = min(lt.t, first_lone.get(lt.tag, lt.t))
    kinds = {"retired": "after_retired", "issued": "before_attached"}
    for uid, t in first_lone.items():
        state = "retired" if _status(s, uid) == "ended" else s.tags[uid].state
        if state in kinds:
            add(kinds[state], uid, None, t)
    first_tap: dict[str, float] = {}
    for tap in taps:
        first_tap.setdefault(tap.uid, tap.t)
    for uid, t in first_tap.items():  # issue 13: the customer's status, from the seed
        status = _status(s, uid)
        if status in ("ended", "lock"):
            add("customer_ended" if status == "ended" else "digital_lock", uid, None, t)
    return sorted(found, key=lambda f: (f["at"], f["kind"], f["uid"]))


def _status(s: Scenario, uid: str) -> str | None:
    """ "ended" or "lock" for a tag on such a customer's door (``customer.end_reason``,
    ``customer.lock_installed``), else None."""
    customer = s.customers.get(s.tags[uid].customer or "")
    if customer is None:
        return None
    if customer.end_reason is not None:
        return "ended"
    return "lock" if customer.lock_installed is not None else None


def _household(s: Scenario, uid: str) -> str:
    customer = s.tags[uid].customer
    return s.customers[customer].household if customer else f"tag:{uid}"
