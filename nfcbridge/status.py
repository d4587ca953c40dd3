"""What ``nfcbridge status`` shows: readers' health, outbox depth per forwarder, the age of
the oldest undelivered event, the last delivery, dead letters.

The running daemon answers ``{"op": "status"}`` on its control socket with the full picture,
including ``healthy`` and the ``problems`` behind it; without a daemon the CLI still reads
the outbox (depth, dead letters) and says the daemon is not running. ``nfcbridge status``
exits 11 when the daemon is not running or unhealthy (0 only when all is well).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from nfcbridge.outbox import Outbox, OutboxError
from nfcbridge.timefmt import timestamp_iso

_iso = timestamp_iso


def outbox_status(outbox: Outbox, forwarders: Iterable[str] = ()) -> dict[str, Any]:
    now = time.time()
    names = sorted(set(outbox.forwarders()) | set(forwarders))
    rows = []
    for p in outbox.progress_all(names):
        name = p.forwarder
        rows.append(
            {
                "name": name,
                "pending": p.pending,
                "oldest_pending_age_s": round(now - p.oldest_pending_at, 3)
                if p.oldest_pending_at
                else None,
                "last_delivery": _iso(p.last_delivery),
                "dead_letters": p.dead_letters,
            }
        )
    with outbox.reading() as c:
        events, oldest = c.execute("SELECT COUNT(*), MIN(committed_at) FROM events").fetchone()
    return {
        "path": str(outbox.path),
        "events": events,
        "oldest_event_age_s": round(now - oldest, 3) if oldest is not None else None,
        "forwarders": rows,
    }


def daemon_status(
    station: str,
    outbox: Outbox,
    workers: Iterable[Any],
    forwarders: Iterable[Any],
    started_at: float,
) -> dict[str, Any]:
    """The running daemon's picture, with ``healthy`` and the ``problems`` that make it
    unhealthy: a reader not polling, a forwarder failing or dead-lettering, open dead
    letters, an outbox that cannot be read. A query that fails is a problem, never a
    reason to call a running daemon "not running"."""
    forwarders = list(forwarders)
    problems: list[str] = []
    try:
        box = outbox_status(outbox, [f.forwarder_name for f in forwarders])
    except (OutboxError, sqlite3.Error) as exc:
        box = {"path": str(outbox.path), "error": str(exc), "forwarders": []}
        problems.append(f"outbox cannot be read: {exc}")
    live = {f.forwarder_name: f.health.as_dict() for f in forwarders}
    for row in box["forwarders"]:
        health = live.get(row["name"], {})
        row["kind"] = health.get("kind")
        row["state"] = health.get("state", "not configured")
        row["last_error"] = health.get("last_error")
        if row["name"] in live and row["state"] not in ("ok", "starting"):
            problems.append(
                f"forwarder {row['name']} {row['state']}: {row['last_error'] or 'no detail'}"
            )
        if row["dead_letters"]:
            problems.append(f"forwarder {row['name']}: {row['dead_letters']} open dead letters")
    readers = []
    for w in workers:
        h = w.health.as_dict()
        h["since"] = _iso(h["since"])
        h["last_tap_at"] = _iso(h["last_tap_at"])
        h["origin"] = w.origin
        readers.append(h)
        if h["state"] not in ("ok", "starting"):
            problems.append(f"reader {h['name']} {h['state']}: {h['last_error'] or 'no detail'}")
    return {
        "running": True,
        "healthy": not problems,
        "problems": problems,
        "station": station,
        "started_at": _iso(started_at),
        "readers": readers,
        "outbox": box,
    }


def render(data: dict[str, Any]) -> str:
    lines = []
    if data.get("running"):
        health = "healthy" if data.get("healthy", True) else "UNHEALTHY"
        lines.append(
            f"daemon: running, {health} (station {data.get('station', '?')}, "
            f"since {data.get('started_at', '?')})"
        )
        lines += [f"  problem: {p}" for p in data.get("problems", [])]
    else:
        lines.append(f"daemon: not running ({data.get('reason', 'no control socket')})")
    for r in data.get("readers", []):
        err = f", last error: {r['last_error']}" if r.get("last_error") else ""
        lines.append(
            f"reader {r['name']}: {r['state']} ({r['origin']}), {r['taps']} taps, "
            f"{r['reopens']} re-opens{err}"
        )
    box = data.get("outbox", {})
    if box.get("error"):
        lines.append(f"outbox {box.get('path')}: cannot be read: {box['error']}")
        return "\n".join(lines)
    if not box:
        return "\n".join(lines)
    age = box.get("oldest_event_age_s")
    lines.append(
        f"outbox {box.get('path')}: {box.get('events')} events"
        + (f" (oldest {age / 86400:.1f} days)" if age is not None else "")
    )
    if (retention := box.get("retention")) is not None:
        lines.append(_render_retention(retention))
    for f in box.get("forwarders", []):
        age = f["oldest_pending_age_s"]
        lines.append(
            f"forwarder {f['name']}: {f.get('state', '-')}, {f['pending']} pending"
            + (f" (oldest {age:.0f} s)" if age is not None else "")
            + f", last delivery {f['last_delivery'] or 'never'}, "
            f"{f['dead_letters']} dead letters"
        )
    return "\n".join(lines)


def _render_retention(retention: dict[str, Any]) -> str:
    keep = retention.get("keep_days", 0)
    if not keep:
        return "retention: off (keep_days = 0, every event kept)"
    last = retention.get("last")
    if not last:
        error = retention.get("last_error")
        return f"retention: keep {keep} days" + (f", last run failed: {error}" if error else "")
    return (
        f"retention: keep {keep} days, last run {last['started_at']}: {last['removed']} removed,"
        f" {last['kept']} kept ({last['kept_undelivered']} undelivered,"
        f" {last['kept_dead_letter']} dead letters, {last['kept_recent']} recent)"
    )
