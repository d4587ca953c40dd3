"""A realistic district day, generated from a few parameters.

The day follows DOMAIN.md: every customer has one active tag, cohabitants (a household of
two) each their own, and a joint visit taps both tags at start and at end. Each household's
visits are spread over the day (one per slot of ``day_hours / visits``), a visit lasts
15-60 minutes, and staff travel 5-20 minutes between visits, so one staff member's visits
never overlap. Visits of one household by different staff never overlap either, except the
planted double staffing: a second staff member of the same provider who starts within
four minutes of the first and leaves within four minutes of the end.

Anomalies are planted on a share of the visits, in turn: a missed end tap (never on a
staff member's visit followed by another at the same household, which would pair it), a
tag held on the reader for 20-90 s at the start, a tap on an unknown tag and a tap on the
customer's retired tag (both a minute before the visit's start tap). The ground truth is
read from the resulting records (``nfcbridge.rig.truth``), and the scenario passes the same
checks as a hand-written one.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from nfcbridge.limits import MAX_CUSTOMERS, MAX_STAFF, MAX_VISITS_PER_CUSTOMER, moment_error
from nfcbridge.rig.scenario import Customer, LoneTap, Scenario, Staff, Tag, Visit

ANOMALY_KINDS = ("missed_end", "held", "unknown", "retired")
MIN = 60.0
JOINT_END_GAP = 20.0  # seconds between the end taps of a joint visit
JOINT_START_GAP = 20.0  # seconds after the first start tap's hold is over
LONE_TAP_LEAD = 60.0  # an anomaly tap comes this long before the visit's start tap


@dataclass(frozen=True)
class DayParameters:
    customers: int = 500
    staff: int = 120
    visits_per_customer: float = 3.0
    double_staffing: float = 0.05  # share of visits with a second staff member
    anomalies: float = 0.02  # share of visits with a planted anomaly
    cohabitants: float = 0.1  # share of customers living with another customer
    providers: int = 0  # 0: one per 100 customers
    seed: int = 1
    start: str = "2026-11-24T06:00:00Z"
    day_hours: float = 16.0
    name: str = "district day"


@dataclass
class _Job:
    household: list[str]  # customer ids
    provider: str
    preferred: float
    duration: float
    double: bool = False
    anomaly: str | None = None


@dataclass
class _Slot:  # one staff member's part of a job
    staff: str
    start: float
    end: float
    job: _Job
    primary: bool


def generate_day(p: DayParameters) -> Scenario:
    if p.customers < 1 or p.staff < 2:
        raise ValueError("a district day needs at least 1 customer and 2 staff")
    _check_bounds(p)
    rng = random.Random(p.seed)
    start = datetime.fromisoformat(p.start.replace("Z", "+00:00"))
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(f"start {p.start!r} needs a time zone")
    if why := moment_error(start):
        raise ValueError(f"start {p.start!r} {why}")
    start = start.astimezone(UTC)
    s = Scenario(name=p.name, start=start, station="rig")
    n_providers = max(1, min(p.providers or round(p.customers / 100), p.staff // 2))
    providers = [f"P-{i + 1:02d}" for i in range(n_providers)]
    s.providers.update(providers)
    uids: set[str] = set()

    def new_uid() -> str:
        while True:
            uid = (b"\x04" + rng.randbytes(6)).hex().upper()
            if uid not in uids:
                uids.add(uid)
                return uid

    households = _households(p, rng, providers, s)
    for c in s.customers.values():
        uid = new_uid()
        s.tags[uid] = Tag(uid, "active", c.id)
    for i in range(p.staff):
        sid = f"S-{i + 1:03d}"
        s.staff[sid] = Staff(sid, providers[i % n_providers], f"s{i + 1:03d}")

    jobs = _jobs(p, rng, households, s)
    slots = _schedule(p, rng, jobs, s)
    _check_missed_ends(slots)
    tag_of = {t.customer: t.uid for t in s.tags.values() if t.customer is not None}
    for slot in slots:
        _records(rng, s, slot, tag_of, new_uid)
    from nfcbridge.rig.rules import check_timing

    check_timing(s)  # a generator bug must not produce a scenario no receiver could match
    return s


def _check_bounds(p: DayParameters) -> None:
    """Sizes a day can have: the generator holds the whole day in memory."""
    for what, value, high in (
        ("customers", p.customers, MAX_CUSTOMERS),
        ("staff", p.staff, MAX_STAFF),
        ("visits per customer", p.visits_per_customer, MAX_VISITS_PER_CUSTOMER),
    ):
        if not 0 <= value <= high:  # also refuses NaN
            raise ValueError(f"{what} must be between 0 and {high:g}, not {value:g}")
    if not 1 <= p.day_hours <= 24:
        raise ValueError(f"a day has 1 to 24 hours, not {p.day_hours:g}")


def _households(
    p: DayParameters, rng: random.Random, providers: list[str], s: Scenario
) -> list[list[str]]:
    ids = [f"C-{i + 1:04d}" for i in range(p.customers)]
    pairs = min(round(p.customers * p.cohabitants / 2), p.customers // 2)
    groups = [ids[2 * i : 2 * i + 2] for i in range(pairs)] + [[c] for c in ids[2 * pairs :]]
    rng.shuffle(groups)
    for n, group in enumerate(groups):
        provider = providers[n % len(providers)]
        for cid in group:
            s.customers[cid] = Customer(cid, provider, f"H-{n + 1:04d}")
    return groups


def _jobs(
    p: DayParameters, rng: random.Random, households: list[list[str]], s: Scenario
) -> list[_Job]:
    jobs = []
    day = p.day_hours * 3600
    whole, fraction = divmod(p.visits_per_customer, 1)
    for group in households:
        count = int(whole) + (rng.random() < fraction)
        slot = (day - 2 * 3600) / max(count, 1)
        for k in range(count):
            jobs.append(
                _Job(
                    group,
                    s.customers[group[0]].provider,
                    preferred=k * slot + rng.uniform(0, slot * 0.5),
                    duration=rng.choice((15, 20, 25, 30, 30, 45, 60)) * MIN
                    + rng.uniform(-2, 2) * MIN,
                )
            )
    customer_visits = sum(len(j.household) for j in jobs)
    for job in rng.sample(jobs, min(len(jobs), round(customer_visits * p.double_staffing))):
        job.double = True
    planted = rng.sample(jobs, min(len(jobs), round(customer_visits * p.anomalies)))
    for n, job in enumerate(planted):
        job.anomaly = ANOMALY_KINDS[n % len(ANOMALY_KINDS)]
    return sorted(jobs, key=lambda j: j.preferred)


def _schedule(p: DayParameters, rng: random.Random, jobs: list[_Job], s: Scenario) -> list[_Slot]:
    """Greedy: each job (in preferred order) goes to the provider's staff free first."""
    free: dict[str, list[tuple[float, str]]] = {pid: [] for pid in s.providers}
    last_household: dict[str, str] = {}
    for st in s.staff.values():
        heapq.heappush(free[st.provider], (rng.uniform(0, 30 * MIN), st.id))
    household_free: dict[str, float] = {}
    slots = []
    for job in jobs:
        hh = s.customers[job.household[0]].household
        heap = free[job.provider]
        first = _pop_staff(heap, last_household, hh)
        ready = max(job.preferred, first[0] + _travel(rng), household_free.get(hh, 0.0))
        start = ready
        second = None
        offset = 0.0
        if job.double and heap:
            second = _pop_staff(heap, last_household, hh)
            offset = rng.uniform(0, 4 * MIN)
            start = max(ready, second[0] + _travel(rng) - offset)
        end = start + job.duration
        slots.append(_Slot(first[1], start, end, job, primary=True))
        done = end + 3 * MIN  # covers the joint end taps and a held tag
        heapq.heappush(heap, (done, first[1]))
        last_household[first[1]] = hh
        if second is not None:
            end2 = end - rng.uniform(0, 4 * MIN)
            slots.append(_Slot(second[1], start + offset, end2, job, primary=False))
            heapq.heappush(heap, (done, second[1]))
            last_household[second[1]] = hh
        household_free[hh] = done + 30 * MIN
    return slots


def _pop_staff(
    heap: list[tuple[float, str]], last: dict[str, str], household: str
) -> tuple[float, str]:
    """The staff member free first who did not just leave this household."""
    skipped = []
    chosen = None
    while heap:
        entry = heapq.heappop(heap)
        if last.get(entry[1]) != household:
            chosen = entry
            break
        skipped.append(entry)
    if chosen is None:
        chosen = skipped.pop(0)
    for entry in skipped:
        heapq.heappush(heap, entry)
    return chosen


def _travel(rng: random.Random) -> float:
    return rng.uniform(5, 20) * MIN


def _check_missed_ends(slots: list[_Slot]) -> None:
    """A missed end followed by the same staff at the same household would pair: make it a
    held tag instead (the rules module would refuse the scenario otherwise)."""
    by_staff: dict[str, list[_Slot]] = {}
    for slot in sorted(slots, key=lambda sl: sl.start):
        by_staff.setdefault(slot.staff, []).append(slot)
    for staff_slots in by_staff.values():
        for slot, following in zip(staff_slots, [*staff_slots[1:], None], strict=True):
            if (
                slot.primary
                and slot.job.anomaly == "missed_end"
                and following is not None
                and following.job.household == slot.job.household
            ):
                slot.job.anomaly = "held"


def _records(
    rng: random.Random, s: Scenario, slot: _Slot, tag_of: dict[str, str], new_uid: object
) -> None:
    anomaly = slot.job.anomaly if slot.primary else None
    hold = round(rng.uniform(20, 90), 1) if anomaly == "held" else 1.0
    t_start = slot.start
    for k, cid in enumerate(slot.job.household):
        visit_start = round(slot.start + (k and hold + JOINT_START_GAP), 3)
        end = (
            None if (anomaly == "missed_end" and k == 0) else round(slot.end + k * JOINT_END_GAP, 3)
        )
        s.visits.append(
            Visit(slot.staff, tag_of[cid], visit_start, end, hold_start=hold if k == 0 else 1.0)
        )
    if anomaly in ("unknown", "retired"):
        uid = new_uid()  # type: ignore[operator]
        customer = slot.job.household[0] if anomaly == "retired" else None
        s.tags[uid] = Tag(uid, anomaly, customer)
        s.lone_taps.append(LoneTap(slot.staff, uid, round(t_start - LONE_TAP_LEAD, 3)))
