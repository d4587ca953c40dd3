"""Ground truth: what a correct receiver must report for a scenario, and the comparison.

The truth is read from the scenario's own records, not from tap pairing: each ``visit``
record is one expected visit (``end: null`` also an expected missing end), each lone
``tap`` on a retired, unknown or issued tag one expected anomaly of that kind (an issued
tag's is ``not_attached``), and every two visit
records by different staff on the same tag that overlap one expected double staffing. A
tag held on the reader (``hold_start`` above ``HELD``) is a planted condition whose only
effect must be none: it is listed under ``planted`` and checked by the visits matching.

``compare`` matches a receiver report (``nfcbridge.receiver.report``) against the truth by
reader, tag and time, with times and durations within ``tolerance`` seconds, and returns
the differences as sentences (empty: the report equals the truth). Plausibility findings:
``nfcbridge.rig.plausible_truth``.
"""

from __future__ import annotations

from typing import Any

from nfcbridge import events as ev
from nfcbridge.receiver.pairing import overlaps
from nfcbridge.receiver.plausibility import Limits
from nfcbridge.rig.plausible_truth import expected_plausibility
from nfcbridge.rig.scenario import Scenario
from nfcbridge.timefmt import parse_iso, utc_iso

HELD = 10.0  # seconds: a hold this long is "a tag held on the reader"
# A scenario tag's state -> the anomaly a station's event names for a tap of it.
ANOMALY_OF_STATE = {
    "retired": ev.RETIRED_TAG,
    "unknown": ev.UNKNOWN_TAG,
    "issued": ev.NOT_ATTACHED,
}


_iso = utc_iso


def expected_report(s: Scenario, limits: Limits | None = None) -> dict[str, Any]:
    visits, missing, planted = [], [], []
    for v in s.visits:
        reader = s.reader_of(v.staff)
        tag = s.tags[v.tag]
        entry = {
            "reader": reader,
            "uid": v.tag,
            "customer": tag.customer,
            "provider": s.customers[tag.customer].provider if tag.customer else None,
            "start": _iso(s.at(v.start)),
            "end": None if v.end is None else _iso(s.at(v.end)),
            "duration_s": None if v.end is None else round(v.end - v.start, 3),
        }
        visits.append(entry)
        if v.end is None:
            missing.append({"reader": reader, "uid": v.tag, "start": entry["start"]})
            planted.append(
                {"kind": "missed_end", "reader": reader, "uid": v.tag, "at": entry["start"]}
            )
        if v.hold_start >= HELD:
            planted.append(
                {
                    "kind": "held",
                    "reader": reader,
                    "uid": v.tag,
                    "at": entry["start"],
                    "hold_s": v.hold_start,
                }
            )
    anomalies = []
    for lt in s.lone_taps:
        tag = s.tags[lt.tag]
        ended = tag.customer is not None and s.customers[tag.customer].end_reason is not None
        state = "retired" if ended else tag.state  # an ended customer's tag is retired
        entry = {
            "kind": ANOMALY_OF_STATE[state],
            "reader": s.reader_of(lt.staff),
            "uid": lt.tag,
            "at": _iso(s.at(lt.t)),
        }
        anomalies.append(entry)
        planted.append({**entry, "kind": state})
    doubles = []
    ordered = sorted(s.visits, key=lambda v: v.start)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            a_until = a.end if a.end is not None else a.start
            if b.start > a_until:
                continue
            b_until = b.end if b.end is not None else b.start
            if (
                a.tag == b.tag
                and a.staff != b.staff
                and overlaps(s.at(a.start), s.at(a_until), s.at(b.start), s.at(b_until))
            ):
                doubles.append(
                    {
                        "uid": a.tag,
                        "readers": sorted([s.reader_of(a.staff), s.reader_of(b.staff)]),
                        "from": _iso(s.at(max(a.start, b.start))),
                    }
                )
    key = lambda e: (e.get("start") or e.get("at") or e.get("from"), e.get("reader", ""))  # noqa: E731
    return {
        "scenario": s.name,
        "visits": sorted(visits, key=key),
        "missing_end": sorted(missing, key=key),
        "double_staffing": sorted(doubles, key=key),
        "anomalies": sorted(anomalies, key=key),
        "planted": sorted(planted, key=key),
        "manual": sorted(
            (
                {
                    "kind": m.side,
                    "staff": m.staff,
                    "customer": f"ext:{m.customer}",  # as nfcbridge.rig.seed registers it
                    "provider": s.customers[m.customer].provider,
                    "reason": m.reason,
                    "at": _iso(s.at(m.t)),
                }
                for m in s.manual
            ),
            key=lambda e: (e["at"], e["staff"]),
        ),
        "plausibility": expected_plausibility(s, limits),
    }


# -- comparison -----------------------------------------------------------------------------
def compare(truth: dict[str, Any], report: dict[str, Any], tolerance: float = 1.0) -> list[str]:
    """Differences between *report* and *truth* (empty when they agree)."""
    problems: list[str] = []
    problems += _match(
        "visit",
        truth["visits"],
        report["visits"],
        ("reader", "uid"),
        lambda e, r: (
            _close(e["start"], r["start"], tolerance)
            and _close(e["end"], r["end"], tolerance)
            and _close_num(e["duration_s"], r["duration_s"], tolerance)
        ),
        lambda e: f"{e['reader']} on {e['uid']} {e['start']} -> {e['end']}",
    )
    problems += _match(
        "missing end",
        truth["missing_end"],
        report["missing_end"],
        ("reader", "uid"),
        lambda e, r: _close(e["start"], r["start"], tolerance),
        lambda e: f"{e['reader']} on {e['uid']} from {e['start']}",
    )
    problems += _match(
        "double staffing",
        truth["double_staffing"],
        report["double_staffing"],
        ("uid",),
        lambda e, r: (
            e["readers"] == sorted(r["readers"]) and _close(e["from"], r["from"], tolerance)
        ),
        lambda e: f"{'+'.join(e['readers'])} on {e['uid']} from {e['from']}",
    )
    problems += _match(
        "implausible",
        truth.get("plausibility", []),
        report.get("plausibility", []),
        ("kind", "uid", "reader"),
        lambda e, r: _close(e["at"], r["at"], tolerance),
        lambda e: (
            f"{e['kind']} on {e['uid']}{' by ' + e['reader'] if e['reader'] else ''} at {e['at']}"
        ),
    )
    problems += _match(
        "anomaly",
        truth["anomalies"],
        report["anomalies"],
        ("kind", "reader", "uid"),
        lambda e, r: _close(e["at"], r["at"], tolerance),
        lambda e: f"{e['kind']} by {e['reader']} on {e['uid']} at {e['at']}",
    )
    problems += _match(
        "manual registration",
        truth.get("manual", []),
        report.get("manual", []),
        ("kind", "staff", "customer", "provider", "reason"),
        lambda e, r: _close(e["at"], r["at"], tolerance),
        lambda e: f"manual {e['kind']} by {e['staff']} for {e['customer']} at {e['at']}",
    )
    return problems


def _match(
    what: str,
    expected: list[dict[str, Any]],
    actual: list[dict[str, Any]],
    keys: tuple[str, ...],
    same: Any,
    describe: Any,
) -> list[str]:
    pool: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for a in actual:
        pool.setdefault(tuple(a.get(k) for k in keys), []).append(a)
    problems = []
    for e in expected:
        candidates = pool.get(tuple(e.get(k) for k in keys), [])
        found = next((a for a in candidates if same(e, a)), None)
        if found is None:
            problems.append(f"missing {what}: {describe(e)}")
        else:
            candidates.remove(found)
    for left in pool.values():
        problems += [f"unexpected {what}: {describe(a)}" for a in left]
    return problems


_parse = parse_iso


def _close(a: str | None, b: str | None, tolerance: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs((_parse(a) - _parse(b)).total_seconds()) <= tolerance


def _close_num(a: float | None, b: float | None, tolerance: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tolerance
