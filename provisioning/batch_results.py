"""What a batch run reports: one ``TagResult`` per tag presented, and the run's ``Tally``.

Outcomes (``TagResult.outcome``):

- ``provisioned``: written, locked, verified and recorded in stock.
- ``refused``: nothing was written. Already in the registry (with its history), unsupported
  or a clone, not genuine, or not blank. Not recorded: it is not our tag.
- ``spoiled``: it failed after an OTP/lock/CFGLCK write was *sent* (acknowledged or not):
  recorded spoiled with the writes sent; it can never be used again.
- ``retry``: it failed (removed, NAK, read-back differs) before anything irreversible. When
  a page had been written, ``record_attempt`` leaves an audit row that lets the same UID,
  no longer blank, be presented again and finished; a tag removed before any write is
  untouched and needs no record.
- ``checked``: ``dry_run`` only: every check passed, nothing written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

OUTCOMES = ("provisioned", "refused", "spoiled", "retry", "checked")


@dataclass(frozen=True)
class TagResult:
    uid: str
    outcome: str  # one of OUTCOMES
    reason: str = ""
    product: str | None = None
    verdict: str | None = None  # originality: nxp, test-key, invalid, missing
    steps: tuple[str, ...] = ()  # what was done to the tag, in order
    elapsed: float = 0.0  # seconds from selection to the recorded outcome
    writes: tuple[str, ...] = ()  # the page writes sent, named (spoiled tags: for the record)

    @property
    def advice(self) -> str:
        """What the operator does with the tag in hand, before the reason."""
        if self.outcome == "spoiled":
            return "put this tag aside, it can never be used"
        if self.outcome == "retry":
            return "present it again"
        if self.outcome == "refused":
            if self.reason.startswith("already provisioned"):
                return "put it back with the provisioned tags, not on the roll"
            return "put this tag aside, nothing was written"
        return ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "outcome": self.outcome,
            "reason": self.reason,
            "advice": self.advice,
            "writes_sent": list(self.writes),
            "product": self.product,
            "verdict": self.verdict,
            "steps": list(self.steps),
            "elapsed_ms": round(self.elapsed * 1000, 1),
        }


@dataclass
class Tally:
    """Counts of one run, for progress bars and summaries."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    started: float = field(default_factory=time.monotonic)

    def add(self, result: TagResult) -> None:
        self.counts[result.outcome] += 1

    @property
    def tags(self) -> int:
        return sum(self.counts.values())

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    @property
    def per_minute(self) -> float:
        return 60.0 * self.tags / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.counts,
            "tags": self.tags,
            "seconds": round(self.seconds, 3),
            "tags_per_minute": round(self.per_minute, 1),
        }
