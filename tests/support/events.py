"""A tap event with every field filled in, for tests that need one."""

from __future__ import annotations

from datetime import UTC, datetime

from nfcbridge import events as ev
from nfcbridge.events import TagFacts, TapEvent


def make(**kw: object) -> TapEvent:
    base: dict[str, object] = {
        "event_id": ev.new_event_id(),
        "station": "alvsjo-1",
        "reader": "desk-left",
        "occurred_at": datetime(2026, 11, 24, 7, 58, 12, 345678, tzinfo=UTC),
        "tag": TagFacts("04A1B2C3D4E5F6"),
        "origin": "reader",
        "clock_synced": True,
        "seq": 1042,
    }
    base.update(kw)
    return TapEvent(**base)  # type: ignore[arg-type]
