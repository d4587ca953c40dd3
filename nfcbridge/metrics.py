"""Prometheus metrics on loopback (``[metrics] listen = "127.0.0.1:9464"``).

A private registry (not the process-global one) so tests can build several daemons. Outbox
depth is read at scrape time by a collector, so a stuck forwarder shows even when nothing
else happens; so is retention (``nfcbridge.retention.Pruner``), so that an alert can say
when the outbox stops shrinking or holds events past ``keep_days`` that a forwarder never
confirmed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from nfcbridge.errors import ConfigError
from nfcbridge.listen import parse_listen as listen_address


def parse_listen(listen: str, *, file: str | None = None) -> tuple[str, int]:
    """``HOST:PORT`` on a loopback address (metrics never leave the machine)."""
    try:
        return listen_address(listen, loopback_only=True, example="127.0.0.1:9464")
    except ValueError as exc:
        raise ConfigError(str(exc), file=file, key="metrics.listen") from None


class _OutboxCollector(Collector):
    def __init__(self, probe: Callable[[], Iterable[Any]]) -> None:
        self.probe = probe

    def collect(self) -> Iterable[GaugeMetricFamily]:
        pending = GaugeMetricFamily(
            "nfcbridge_outbox_pending", "Undelivered events", labels=["forwarder"]
        )
        oldest = GaugeMetricFamily(
            "nfcbridge_outbox_oldest_pending_seconds",
            "Age of the oldest undelivered event",
            labels=["forwarder"],
        )
        dead = GaugeMetricFamily(
            "nfcbridge_dead_letters", "Open dead letters", labels=["forwarder"]
        )
        try:
            now = time.time()
            for p in self.probe():
                pending.add_metric([p.forwarder], p.pending)
                oldest.add_metric(
                    [p.forwarder], now - p.oldest_pending_at if p.oldest_pending_at else 0.0
                )
                dead.add_metric([p.forwarder], p.dead_letters)
        except Exception:  # a scrape must not crash on a busy outbox
            pass
        yield from (pending, oldest, dead)


class _RetentionCollector(Collector):
    """The pruner's state at scrape time; nothing while retention is off (``keep_days`` 0,
    or before READY: the pruner starts then)."""

    def __init__(self, probe: Callable[[], Any]) -> None:
        self.probe = probe

    def collect(self) -> Iterable[Metric]:
        pruner = self.probe()
        if pruner is None:
            return
        runs = CounterMetricFamily("nfcbridge_outbox_prune_runs", "Outbox retention runs")
        runs.add_metric([], pruner.runs)
        removed = CounterMetricFamily(
            "nfcbridge_outbox_pruned_events", "Events removed by outbox retention"
        )
        removed.add_metric([], pruner.removed_total)
        failing = GaugeMetricFamily(
            "nfcbridge_outbox_prune_failing", "1 when the last retention run failed"
        )
        failing.add_metric([], 1.0 if pruner.last_error else 0.0)
        yield from (runs, removed, failing)
        last = pruner.last
        if last is None:
            return
        when = GaugeMetricFamily(
            "nfcbridge_outbox_last_prune_timestamp_seconds",
            "Start of the last retention run that succeeded",
        )
        when.add_metric([], last.started_at)
        held = GaugeMetricFamily(
            "nfcbridge_outbox_retention_held_events",
            "Events older than keep_days that retention keeps, by why (last run)",
            labels=["reason"],
        )
        held.add_metric(["undelivered"], last.kept_undelivered)
        held.add_metric(["dead_letter"], last.kept_dead_letter)
        yield from (when, held)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.taps = Counter("nfcbridge_taps", "Committed taps", ["reader", "origin"], registry=r)
        self.tap_commit = Histogram(
            "nfcbridge_tap_commit_seconds",
            "Tap seen to outbox commit",
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
        )
        self.reader_errors = Counter(
            "nfcbridge_reader_errors", "Reader errors", ["reader"], registry=r
        )
        self.reader_reopens = Counter(
            "nfcbridge_reader_reopens", "Reader re-opens", ["reader"], registry=r
        )
        self.reader_ok = Gauge(
            "nfcbridge_reader_up", "Reader open and polling", ["reader"], registry=r
        )
        self.deliveries = Counter(
            "nfcbridge_deliveries", "Events delivered", ["forwarder"], registry=r
        )
        self.failures = Counter(
            "nfcbridge_delivery_failures", "Failed delivery attempts", ["forwarder"], registry=r
        )
        self.dead = Counter(
            "nfcbridge_dead_lettered", "Events dead-lettered", ["forwarder"], registry=r
        )
        self._server: Any = None
        self.address: tuple[str, int] = ("127.0.0.1", 0)

    def watch_outbox(self, probe: Callable[[], Iterable[Any]]) -> None:
        self.registry.register(_OutboxCollector(probe))

    def watch_retention(self, probe: Callable[[], Any]) -> None:
        """*probe* returns the daemon's ``Pruner``, or None while there is none."""
        self.registry.register(_RetentionCollector(probe))

    # hooks called by workers and forwarders
    def tap_committed(self, reader: str, origin: str, seconds: float) -> None:
        self.taps.labels(reader, origin).inc()
        self.tap_commit.observe(seconds)

    def reader_error(self, reader: str) -> None:
        self.reader_errors.labels(reader).inc()

    def reader_reopen(self, reader: str) -> None:
        self.reader_reopens.labels(reader).inc()

    def reader_up(self, reader: str, up: bool) -> None:
        self.reader_ok.labels(reader).set(1 if up else 0)

    def delivered(self, forwarder: str, count: int) -> None:
        self.deliveries.labels(forwarder).inc(count)

    def delivery_failure(self, forwarder: str) -> None:
        self.failures.labels(forwarder).inc()

    def dead_letter(self, forwarder: str) -> None:
        self.dead.labels(forwarder).inc()

    # the Service shape (the endpoint's thread belongs to prometheus_client)
    name = "metrics"

    def serve(self, host: str, port: int) -> int:
        """Start the HTTP endpoint; returns the bound port (useful with port 0).
        ``OSError`` when the address cannot be bound."""
        self.address = (host, port)
        self.start()
        return self.port

    @property
    def port(self) -> int:
        """The bound port (0 when not serving)."""
        return int(self._server.server_address[1]) if self._server is not None else 0

    def start(self) -> None:
        from prometheus_client import start_http_server

        host, port = self.address
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server

    def stop(self, *, drain: bool = False) -> None:
        self.close()

    def join(self, timeout: float | None = None) -> None:
        """``close`` already waited for the serving thread."""

    def healthy(self) -> bool:
        return self._server is not None

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
