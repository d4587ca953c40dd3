"""The interfaces the daemon's components meet at, as Protocols.

A reader worker and a forwarder count what they do through a metrics sink; the daemon
passes ``nfcbridge.metrics.Metrics`` (or nothing), tests may pass a recorder. Typing the
seam instead of ``Any`` lets ``mypy --strict`` check both sides.
"""

from __future__ import annotations

from typing import Protocol


class ReaderMetrics(Protocol):
    """What a reader worker reports (``nfcbridge.worker.ReaderWorker``)."""

    def tap_committed(self, reader: str, origin: str, seconds: float) -> None: ...
    def reader_error(self, reader: str) -> None: ...
    def reader_reopen(self, reader: str) -> None: ...
    def reader_up(self, reader: str, up: bool) -> None: ...


class DeliveryMetrics(Protocol):
    """What a forwarder reports (``nfcbridge.forwarders.base.Forwarder``)."""

    def delivered(self, forwarder: str, count: int) -> None: ...
    def delivery_failure(self, forwarder: str) -> None: ...
    def dead_letter(self, forwarder: str) -> None: ...
