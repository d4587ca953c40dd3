"""How door taps become visits: the rules the receiver's report and the scenario checks share.

A reader stands for one staff member's phone. Per reader, taps are taken in time order and
those on one tag alternate between visit start and visit end, with two rules for taps that
went missing (a real phone forgets, a person forgets to tap):

1. A visit still open after ``MAX_VISIT`` seconds is not ended by the next tap on its tag:
   the open visit is reported with a missing end and the tap starts a new visit.
2. When a reader starts a visit, its other open visits that started more than
   ``JOINT_WINDOW`` seconds earlier are closed with a missing end: a staff member is at one
   door at a time. Visits that start within the window stay open together: that is a joint
   visit to cohabitants (sammanboende), each with their own tag.

Double staffing (dubbelbemanning) is two readers with overlapping visits on the same tag; a
visit without an end tap counts as the instant of its start.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

JOINT_WINDOW = 120.0  # seconds between the start taps of a joint visit
MAX_VISIT = 8 * 3600.0  # seconds after which an open visit is no longer ended by a tap


@dataclass(frozen=True)
class Tap:
    reader: str
    uid: str
    at: datetime
    order: Any = 0  # tie-breaker within one reader (the event's seq)
    ref: Any = None  # whatever the caller wants back (the event)


@dataclass
class Visit:
    reader: str
    uid: str
    start: Tap
    end: Tap | None = None

    @property
    def until(self) -> datetime:
        return self.end.at if self.end is not None else self.start.at

    @property
    def seconds(self) -> float | None:
        return None if self.end is None else (self.end.at - self.start.at).total_seconds()


def pair_taps(
    taps: Iterable[Tap], joint_window: float = JOINT_WINDOW, max_visit: float = MAX_VISIT
) -> list[Visit]:
    """Visits in order of their start; those without an end tap have ``end=None``."""
    by_reader: dict[str, list[Tap]] = defaultdict(list)
    for tap in taps:
        by_reader[tap.reader].append(tap)
    visits: list[Visit] = []
    for reader_taps in by_reader.values():
        open_visits: dict[str, Visit] = {}
        for tap in sorted(reader_taps, key=lambda t: (t.at, t.order)):
            current = open_visits.pop(tap.uid, None)
            if current is not None and _age(current, tap) <= max_visit:
                current.end = tap
                continue
            for uid, other in list(open_visits.items()):
                if _age(other, tap) > joint_window:
                    del open_visits[uid]
            visit = Visit(tap.reader, tap.uid, tap)
            open_visits[tap.uid] = visit
            visits.append(visit)
    return sorted(visits, key=lambda v: (v.start.at, v.reader))


def overlaps(a_start: datetime, a_until: datetime, b_start: datetime, b_until: datetime) -> bool:
    return max(a_start, b_start) <= min(a_until, b_until)


def double_staffing(visits: Iterable[Visit]) -> list[tuple[Visit, Visit]]:
    """Pairs of visits by different readers on the same tag that overlap in time."""
    by_uid: dict[str, list[Visit]] = defaultdict(list)
    for v in visits:
        by_uid[v.uid].append(v)
    pairs = []
    for uid_visits in by_uid.values():
        uid_visits.sort(key=lambda v: v.start.at)
        for i, a in enumerate(uid_visits):
            for b in uid_visits[i + 1 :]:
                if b.start.at > a.until:
                    break
                if a.reader != b.reader and overlaps(a.start.at, a.until, b.start.at, b.until):
                    pairs.append((a, b))
    return pairs


def _age(visit: Visit, tap: Tap) -> float:
    return (tap.at - visit.start.at).total_seconds()
