"""Timing rules a scenario must follow so that its taps mean what the scenario says.

The receiver pairs taps into visits by the rules of ``nfcbridge.receiver.pairing``; a
scenario whose taps would pair differently from its visit records is refused here, with the
line at fault, instead of producing a ground truth that no correct backend could match:

- one staff member's taps do not overlap: each starts at least ``MIN_TAP_GAP`` seconds
  after the previous one is over (its hold included);
- one staff member's visits do not overlap, except a joint visit to cohabitants (the same
  household, starts within ``JOINT_WINDOW``) on different tags;
- after a missed end tap, the staff member's next tap on that tag must not be taken as the
  end: a visit elsewhere must start more than ``JOINT_WINDOW`` after the open one, or the
  next tap must come more than ``MAX_VISIT`` later.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from nfcbridge.receiver.pairing import JOINT_WINDOW, MAX_VISIT

if TYPE_CHECKING:
    from nfcbridge.rig.scenario import Scenario, Visit

MIN_TAP_GAP = 2.0  # seconds between the end of one tap's hold and the next tap of one phone


def check_timing(s: Scenario) -> None:
    from nfcbridge.rig.scenario import ScenarioError

    def fail(line: int, message: str) -> ScenarioError:
        return ScenarioError(f"{s.source}:{line}: {message}")

    last: dict[str, tuple[float, int]] = {}
    for tap in s.taps():
        if tap.staff in last and tap.t < last[tap.staff][0] + MIN_TAP_GAP:
            raise fail(
                tap.line,
                f"staff {tap.staff} taps at {tap.t:g} s before the tap of line "
                f"{last[tap.staff][1]} is over (taps of one phone need {MIN_TAP_GAP:g} s between)",
            )
        last[tap.staff] = (tap.t + tap.hold, tap.line)

    by_staff: dict[str, list[Visit]] = defaultdict(list)
    for v in s.visits:
        by_staff[v.staff].append(v)
    for staff, visits in by_staff.items():
        visits.sort(key=lambda v: (v.start, v.line))
        for i, a in enumerate(visits):
            for b in visits[i + 1 :]:
                if a.end is None or b.start >= a.end:
                    continue
                joint = (
                    a.tag != b.tag
                    and b.start - a.start <= JOINT_WINDOW
                    and _household(s, a.tag) == _household(s, b.tag)
                )
                if not joint:
                    raise fail(
                        b.line,
                        f"overlaps staff {staff}'s visit of line {a.line} (only a joint visit to "
                        f"cohabitants may overlap, starting within {JOINT_WINDOW:g} s)",
                    )
            if a.end is None:
                _check_missed_end(s, a, visits[i + 1 :], fail)


def _check_missed_end(s: Scenario, open_visit: Visit, later: list[Visit], fail: object) -> None:
    for b in later:
        if b.start - open_visit.start > MAX_VISIT:
            return
        if b.tag != open_visit.tag and b.start - open_visit.start > JOINT_WINDOW:
            return  # this start closes the open visit
        if b.tag == open_visit.tag:
            raise fail(  # type: ignore[operator]
                open_visit.line,
                f"missed end tap: staff {open_visit.staff}'s next tap on {open_visit.tag} "
                f"(line {b.line}) would be taken as this visit's end; start a visit elsewhere "
                "in between",
            )


def _household(s: Scenario, uid: str) -> str:
    customer = s.tags[uid].customer
    return s.customers[customer].household if customer else f"tag:{uid}"
