"""The receiver's report: visits, durations, double staffing, missing end taps, anomalies and
sequence gaps, per customer and per provider, from the stored tap events (schema v1).

Which taps count: a tap whose event flags its tag as not payable (``unknown_tag``,
``retired_tag``, ``spoiled_tag``, ``not_attached``: the names of ``nfcbridge.events``, or a
registry state other than ``active``) is an anomaly and never half a visit. Other anomalies
(``not_genuine``) are reported and the tap still pairs.
An event without a registry block and without anomalies comes from a station that has no
registry: its tap pairs, and the customer is shown as ``tag:<UID>``.
Pairing rules: ``nfcbridge.receiver.pairing``. Taps that cannot be what they claim (a tag
at two places at once, a start never ended, ...): ``nfcbridge.receiver.plausibility``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from itertools import pairwise
from typing import Any

from nfcbridge import events as ev
from nfcbridge.receiver.manual_share import DEFAULT_LIMIT, manual_entry, manual_share
from nfcbridge.receiver.pairing import JOINT_WINDOW, MAX_VISIT, Tap, double_staffing, pair_taps
from nfcbridge.receiver.plausibility import Limits, Seen, find_implausible
from nfcbridge.receiver.sun_check import SUN_INVALID, SUN_REPLAYED, SunChecker
from nfcbridge.timefmt import parse_iso, utc_iso

# The event's anomaly names (nfcbridge.events), and registry states a station may send
# without naming an anomaly: a tap flagged with any of them is never half a visit.
NOT_PAYABLE = {
    ev.UNKNOWN_TAG,
    ev.RETIRED_TAG,
    ev.SPOILED_TAG,
    ev.NOT_ATTACHED,
    "retired",
    "spoiled",
    "in_stock",
    "issued",
    "blank",
}
# SUN (issue 14): a tap whose SUN message is missing, wrong or replayed is not a real tap of
# the tag; an opened tamper loop is reported and the tap still pairs.
NOT_PAYABLE |= {"sun_missing", SUN_INVALID, SUN_REPLAYED}


_iso = utc_iso


parse_time = parse_iso


def anomaly_kinds(event: dict[str, Any]) -> list[str]:
    kinds = set()
    for item in event.get("anomalies") or []:
        name = item if isinstance(item, str) else str(item.get("kind") or item.get("type"))
        kinds.add(name.lower())
    registry = event.get("registry")
    if not kinds and isinstance(registry, dict) and registry.get("state") not in (None, "active"):
        kinds.add(str(registry["state"]))  # a station that did not name the anomaly itself
    return sorted(kinds)


def _who(event: dict[str, Any]) -> tuple[str, str]:
    registry = event.get("registry") or {}
    uid = event["tag"]["uid"]
    return registry.get("customer") or f"tag:{uid}", registry.get("provider") or "-"


def _check_sun(events: list[dict[str, Any]], checker: SunChecker | None) -> dict[str, list[str]]:
    """event_id -> SUN anomalies, checking taps in the order they happened."""
    if checker is None:
        return {}
    ordered = sorted(events, key=lambda e: (parse_time(e["occurred_at"]), e.get("seq", 0)))
    return {e["event_id"]: checker.check(e) for e in ordered}


def build_report(
    events: list[dict[str, Any]],
    joint_window: float = JOINT_WINDOW,
    max_visit: float = MAX_VISIT,
    limits: Limits | None = None,
    manual_limit: float = DEFAULT_LIMIT,
    sun_checker: SunChecker | None = None,
) -> dict[str, Any]:
    """The report; *limits*: plausibility thresholds (``nfcbridge.receiver.plausibility``);
    *manual_limit*: the percent of manual registrations above which a provider is flagged;
    with *sun_checker*, SUN messages of taps are verified too (issue 14)."""
    sun_found = _check_sun(events, sun_checker)
    taps, anomalies, seen, manual = [], [], [], []
    registrations: list[tuple[datetime, str, bool]] = []  # (when, provider, manual?)
    origins: dict[str, int] = defaultdict(int)
    for e in events:
        origins[e.get("origin", "?")] += 1
        at = parse_time(e["occurred_at"])
        if e.get("origin") == "manual":  # no tag: listed and counted, never paired
            provider = (e.get("registry") or {}).get("provider") or "-"
            manual.append(manual_entry(e, _iso(at), provider))
            registrations.append((at, provider, True))
            continue
        reader, uid = e["reader"], e["tag"]["uid"].upper()
        kinds = sorted(set(anomaly_kinds(e)) | set(sun_found.get(e["event_id"], ())))
        customer, provider = _who(e)
        for kind in kinds:
            anomalies.append(
                {
                    "kind": kind,
                    "reader": reader,
                    "uid": uid,
                    "at": _iso(at),
                    "customer": customer,
                    "provider": provider,
                    "event_id": e["event_id"],
                }
            )
        one = Seen(at, reader, str(e.get("station", "")), uid, tuple(kinds), e)
        seen.append(one)
        if not NOT_PAYABLE.intersection(kinds):
            taps.append(Tap(reader, uid, at, order=e.get("seq", 0), ref=one))
            registrations.append((at, provider, False))

    visits = pair_taps(taps, joint_window, max_visit)
    rows = []
    for v in visits:
        customer, provider = _who(v.start.ref.event)
        rows.append(
            {
                "reader": v.reader,
                "uid": v.uid,
                "customer": customer,
                "provider": provider,
                "start": _iso(v.start.at),
                "end": _iso(v.end.at) if v.end else None,
                "duration_s": None if v.seconds is None else round(v.seconds, 3),
            }
        )
    doubles = []
    for a, b in double_staffing(visits):
        customer, provider = _who(a.start.ref.event)
        doubles.append(
            {
                "uid": a.uid,
                "customer": customer,
                "provider": provider,
                "readers": sorted([a.reader, b.reader]),
                "from": _iso(max(a.start.at, b.start.at)),
                "to": _iso(min(a.until, b.until)),
            }
        )
    missing = [
        {
            "reader": r["reader"],
            "uid": r["uid"],
            "customer": r["customer"],
            "provider": r["provider"],
            "start": r["start"],
        }
        for r in rows
        if r["end"] is None
    ]
    return {
        "events": len(events),
        "origins": dict(origins),
        "visits": rows,
        "missing_end": missing,
        "double_staffing": doubles,
        "anomalies": sorted(anomalies, key=lambda a: (a["at"], a["reader"])),
        "gaps": sequence_gaps(events),
        "plausibility": find_implausible(
            seen, visits, replace(limits or Limits(), joint_window=joint_window)
        ),
        "manual": manual,
        "manual_share": manual_share(registrations, manual_limit),
        "per_customer": _summarise(rows, doubles, anomalies, "customer"),
        "per_provider": _summarise(rows, doubles, anomalies, "provider"),
    }


def sequence_gaps(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per station and reader, the seq numbers missing between the lowest and highest seen."""
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    for e in events:
        seen[(e.get("station", ""), e["reader"])].add(int(e["seq"]))
    gaps = []
    for (station, reader), seqs in sorted(seen.items()):
        ordered = sorted(seqs)
        for lo, hi in pairwise(ordered):
            if hi > lo + 1:
                gaps.append({"station": station, "reader": reader, "from": lo + 1, "to": hi - 1})
    return gaps


def _summarise(
    rows: list[dict[str, Any]],
    doubles: list[dict[str, Any]],
    anomalies: list[dict[str, Any]],
    key: str,
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}

    def entry(name: str) -> dict[str, Any]:
        return out.setdefault(
            name,
            {"visits": 0, "seconds": 0.0, "missing_end": 0, "double_staffing": 0, "anomalies": 0},
        )

    for r in rows:
        e = entry(r[key])
        e["visits"] += 1
        e["seconds"] = round(e["seconds"] + (r["duration_s"] or 0.0), 3)
        e["missing_end"] += r["end"] is None
        if key == "customer":
            e["provider"] = r["provider"]
    for d in doubles:
        entry(d[key])["double_staffing"] += 1
    for a in anomalies:
        entry(a[key])["anomalies"] += 1
    return dict(sorted(out.items()))


def render_text(report: dict[str, Any]) -> str:
    """A human reading of the report (the JSON has everything)."""
    origins = ", ".join(f"{k} {v}" for k, v in report["origins"].items())
    lines = [
        f"events {report['events']} ({origins})",
        f"visits {len(report['visits'])}, missing end taps {len(report['missing_end'])}, "
        f"double staffing {len(report['double_staffing'])}, anomalies {len(report['anomalies'])}, "
        f"sequence gaps {len(report['gaps'])}, implausible {len(report.get('plausibility', []))}",
        "",
        "provider        visits    hours  missing-end  double  anomalies",
    ]
    for name, p in report["per_provider"].items():
        lines.append(
            f"{name:<14} {p['visits']:>7} {p['seconds'] / 3600:>8.2f} "
            f"{p['missing_end']:>12} {p['double_staffing']:>7} {p['anomalies']:>10}"
        )
    for title, items, fmt in (
        (
            "missing end taps",
            report["missing_end"],
            "  {reader} on {uid} ({customer}) from {start}",
        ),
        (
            "double staffing",
            report["double_staffing"],
            "  {readers} on {uid} ({customer}) {from} - {to}",
        ),
        ("anomalies", report["anomalies"], "  {kind}: {reader} on {uid} at {at}"),
        ("sequence gaps", report["gaps"], "  {station}/{reader}: seq {from}-{to} missing"),
        (
            "manual registrations",
            report.get("manual", []),
            "  {kind} by {staff} for {customer} ({provider}) at {at}: {reason}",
        ),
    ):
        if items:
            lines += ["", f"{title}:"] + [fmt.format(**item) for item in items]
    if any(row["manual"] for row in report.get("manual_share", [])):
        lines += ["", "manual share per provider and month:"]
        for row in report["manual_share"]:
            flag = "  ABOVE THE LIMIT" if row["over_limit"] else ""
            lines.append(
                f"  {row['month']} {row['provider']}: {row['manual']}/{row['registrations']}"
                f" = {row['share_percent']}% (limit {row['limit_percent']:g}%){flag}"
            )
    findings = report.get("plausibility", [])
    if findings:
        lines += ["", "implausible:"]
        for f in findings:
            lines.append(f"  {f['kind']}: {f['uid']} at {f['at']}: {f['detail']}")
            lines += [
                f"    tap {t['at']} {t['station']}/{t['reader']} {t['uid']}" for t in f["taps"]
            ]
    return "\n".join(lines)
