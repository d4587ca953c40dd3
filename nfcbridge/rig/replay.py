"""Replay a scenario's taps in time order, at real time or accelerated, into a tap sink.

Sinks: the daemon's control channel (``ControlSink``) or the in-process station of
``nfcbridge.rig.standalone``. Each reader (staff phone) has its own lane thread, so a slow
tap on one phone never delays another; within a lane taps keep their order, each tag stays
on the reader for ``max(hold / speed, min_hold)`` real seconds, and two taps on the same
tag are at least ``retap_gap`` real seconds apart so the daemon's re-tap window (default
2 s) cannot merge a visit's start and end into one tap.

Time. Scenario time ``t`` becomes real time ``t / speed``, except that no pause between two
consecutive taps of the whole scenario lasts longer than ``max_idle`` real seconds: idle
stretches (the night, a quiet hour) are skipped. The real schedule therefore distorts
durations, and cannot be otherwise at 100x (one 50 ms of scheduling jitter is 5 scenario
seconds). Durations stay exact because every tap carries its scenario moment (``at``, the
scenario start plus ``t``) and the event's ``occurred_at`` is stamped with it; the receiver
computes durations from ``occurred_at`` as for real taps, and the events say
``origin: simulated``. With ``stamp=False`` (``rig run --clock daemon``) the daemon's clock
is used instead: right for a real-time demo, wrong for durations at any speed above 1.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from nfcbridge.errors import AppError, ExitCode
from nfcbridge.rig.scenario import PlannedTap, Scenario

if TYPE_CHECKING:
    from nfcbridge.rig.control_client import ControlClient

log = logging.getLogger("nfcbridge.rig")


class ReplayFailed(AppError):
    """A tap could not be presented (the daemon refused it, the reader did not see it)."""

    exit_code = ExitCode.READER


class TapSink(Protocol):
    def tap(self, reader: str, uid: str, hold: float, at: datetime | None) -> dict[str, Any]:
        """Present tag *uid* on *reader* for *hold* real seconds; return when it is done."""
        ...


class ControlSink:
    """Taps into a running daemon through its control socket."""

    def __init__(self, client: ControlClient, run: str | None = None) -> None:
        self.client = client
        self.run = run  # every tap's event carries it (``rig run`` makes one per replay)

    def tap(self, reader: str, uid: str, hold: float, at: datetime | None) -> dict[str, Any]:
        return dict(self.client.tap(reader, uid, hold, at, self.run))

    def manual(self, registration: dict[str, Any]) -> dict[str, Any]:
        return dict(self.client.manual(registration))


class Timeline:
    """Scenario seconds -> real seconds since the replay began (see the module docstring)."""

    def __init__(self, times: list[float], speed: float, max_idle: float | None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.offsets: dict[float, float] = {}
        real, previous = 0.0, None
        for t in sorted(set(times)):
            if previous is not None:
                step = (t - previous) / speed
                real += step if max_idle is None else min(step, max_idle)
            self.offsets[t] = real
            previous = t

    def __getitem__(self, t: float) -> float:
        return self.offsets[t]

    @property
    def length(self) -> float:
        return max(self.offsets.values(), default=0.0)


@dataclass
class ReplayResult:
    taps: int = 0
    replies: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    real_seconds: float = 0.0


def replay(
    scenario: Scenario,
    sink: TapSink,
    *,
    speed: float = 1.0,
    max_idle: float | None = None,
    min_hold: float = 0.1,
    retap_gap: float = 2.5,
    stamp: bool = True,
    on_tap: Callable[[PlannedTap, dict[str, Any]], None] | None = None,
) -> ReplayResult:
    """Run every tap of *scenario* through *sink*; errors are collected, not raised, except
    that the first error stops the replay (a daemon that refuses one tap refuses them all)."""
    taps = scenario.taps()
    timeline = Timeline([tap.t for tap in taps], speed, max_idle)
    lanes: dict[str, list[PlannedTap]] = defaultdict(list)
    for tap in taps:
        lanes[tap.reader].append(tap)
    result = ReplayResult()
    lock = threading.Lock()
    stop = threading.Event()
    began = time.monotonic()

    def run_lane(lane: list[PlannedTap]) -> None:
        free_at = 0.0
        last_on: dict[str, float] = {}
        for tap in lane:
            due = max(began + timeline[tap.t], free_at, last_on.get(tap.uid, 0.0) + retap_gap)
            if stop.wait(max(0.0, due - time.monotonic())):
                return
            hold = max(min_hold, tap.hold / speed)
            sent = time.monotonic()
            try:
                reply = sink.tap(tap.reader, tap.uid, hold, scenario.at(tap.t) if stamp else None)
            except Exception as exc:
                with lock:
                    result.errors.append(f"line {tap.line}: {tap.reader} {tap.uid}: {exc}")
                stop.set()
                return
            done = max(time.monotonic(), sent + hold)
            free_at = done + min_hold  # the field is empty for a moment between two taps
            last_on[tap.uid] = done
            with lock:
                result.taps += 1
                result.replies.append(reply)
            if on_tap is not None:
                on_tap(tap, reply)

    threads = [
        threading.Thread(target=run_lane, args=(lane,), name=f"lane-{reader}", daemon=True)
        for reader, lane in lanes.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if scenario.manual and not result.errors:
        _replay_manual(scenario, sink, result)
    result.real_seconds = time.monotonic() - began
    log.info("replayed %d taps in %.1f s", result.taps, result.real_seconds)
    return result


def _replay_manual(scenario: Scenario, sink: TapSink, result: ReplayResult) -> None:
    """Manual registrations carry their own time: sent after the taps, in time order."""
    send = getattr(sink, "manual", None)
    if send is None:
        result.errors.append("manual registrations can only be replayed through the daemon")
        return
    for m in sorted(scenario.manual, key=lambda m: (m.t, m.line)):
        request = {
            "kind": m.side,
            "staff": m.staff,
            "customer": f"ext:{m.customer}",  # as nfcbridge.rig.seed registers it
            "provider": scenario.customers[m.customer].provider,  # for a daemon without one
            "at": scenario.at(m.t).isoformat(),
            "reason": m.reason,
            "note": m.note,
        }
        try:
            result.replies.append(send(request))
        except Exception as exc:
            result.errors.append(f"line {m.line}: manual {m.side} for {m.customer}: {exc}")
            return
