"""Plant one of each implausible pattern into a scenario (``rig generate --implausible``).

The patterns live in a world of their own, added to the scenario: a provider ``P-IMPL``
with six customers (each a household of one, with an active tag) and four staff, so that
nothing planted touches the generated day's visits, and the day's own findings stay what
they were. All in the first hours of the day (scenario time), with the limits given
(``nfcbridge.receiver.plausibility.Limits``):

- ``impossible_travel``: staff 1 ends a visit at customer 1 and starts one at customer 2
  ``min_travel / 2`` seconds later;
- ``open_too_long``: staff 2 starts a visit at customer 3 at 00:30, never ends it and taps
  nothing more (the day must run on for longer than a working day after it);
- ``too_many_taps``: staff 3 makes ``max_taps_per_day // 2 + 1`` short visits at customer 4;
- ``after_retired``: staff 4 taps customer 5's retired old sticker;
- ``before_attached``: staff 4 taps a new tag issued for customer 6 but not attached yet.

Returns what was planted, ``{"kind", "uid", "reader", "at"}`` as the ground truth states it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nfcbridge.receiver.plausibility import Limits
from nfcbridge.rig.scenario import Customer, LoneTap, Scenario, ScenarioError, Staff, Tag, Visit

PROVIDER = "P-IMPL"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def plant_implausible(s: Scenario, limits: Limits | None = None) -> list[dict[str, Any]]:
    limits = limits or Limits()
    if PROVIDER in s.providers:
        raise ScenarioError(f"{s.source}: provider {PROVIDER} is there already")
    s.providers.add(PROVIDER)
    uid = {}
    for n in range(1, 7):
        cid = f"CI-{n}"
        s.customers[cid] = Customer(cid, PROVIDER, f"HI-{n}")
        uid[n] = f"04FA1500{n:06X}"
        s.tags[uid[n]] = Tag(uid[n], "active", cid)
    retired, issued = "04FA15000000A5", "04FA15000000A6"
    s.tags[retired] = Tag(retired, "retired", "CI-5")
    s.tags[issued] = Tag(issued, "issued", "CI-6")
    reader = {}
    for n in range(1, 5):
        sid = f"SI-{n}"
        reader[n] = f"si{n}"
        s.staff[sid] = Staff(sid, PROVIDER, reader[n])
    end1 = 3600.0 + 15 * 60
    gap = limits.min_travel / 2
    s.visits.append(Visit("SI-1", uid[1], 3600.0, end1))
    s.visits.append(Visit("SI-1", uid[2], end1 + gap, end1 + gap + 15 * 60))
    s.visits.append(Visit("SI-2", uid[3], 1800.0, None))
    visits = limits.max_taps_per_day // 2 + 1
    for k in range(visits):
        start = 2 * 3600.0 + k * 300
        s.visits.append(Visit("SI-3", uid[4], start, start + 180))
    s.lone_taps.append(LoneTap("SI-4", retired, 3.5 * 3600))
    s.lone_taps.append(LoneTap("SI-4", issued, 4 * 3600.0))
    planted = [
        ("impossible_travel", uid[1], reader[1], end1),
        ("open_too_long", uid[3], reader[2], 1800.0),
        ("too_many_taps", uid[4], None, 2 * 3600.0),
        ("after_retired", retired, None, 3.5 * 3600),
        ("before_attached", issued, None, 4 * 3600.0),
    ]
    from nfcbridge.rig.rules import check_timing

    check_timing(s)
    return [{"kind": k, "uid": u, "reader": r, "at": _iso(s.at(t))} for k, u, r, t in planted]
