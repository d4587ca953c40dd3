"""The daemon: readers -> tap pipeline -> outbox -> forwarders, supervised, systemd-aware.

Startup is all-or-nothing: ``prepare()`` validates every setting, parses every reader URL
(``drivers.table.parse``), builds every reader object without opening it, opens and checks
the outbox and the registry, reads every secret and checks the control socket path, all
before any thread starts. A mistake is one line naming the file and key (exit 3) or the
store (exit 8); the daemon never runs half-configured.

Then ``start()`` opens the metrics endpoint, starts the forwarders and one worker per
reader, opens the control socket last (a client that reaches it finds everything running),
and tells systemd ``READY=1``. Every one of these parts has the same shape
(``nfcbridge.service``). The main loop pings the watchdog (``WATCHDOG=1``) only while it is
healthy: the outbox answers and every part is healthy; otherwise systemd restarts us.
``run()`` is prepare / start / loop / shutdown in ``try/finally``: whatever fails, every
started part is stopped and the control socket it created is removed.

When the daemon owns its process (``nfcbridge run``: ``own_process=True``) it tunes the
interpreter for tap latency (``tune_process``), and puts it back as it was at shutdown:

- the objects of start-up (modules, settings, drivers, clients: most of the heap) are moved
  out of the garbage collector's sight once prepared (``gc.freeze``), before any thread
  starts. They live as long as the process; a full collection walking them all took 30-55
  ms (``bench/taps.py`` at 100 taps/s), a pause in the path of the taps being committed;
- the thread switch interval is 1 ms instead of 5 ms (``sys.setswitchinterval``): a reader
  thread woken by a tag, or back from its commit's fsync, waits for the GIL while another
  thread (a forwarder's HTTP client, another reader) runs Python, up to the interval each
  time. At 100 taps/s with four readers and a webhook forwarder this took the p99 of tap
  wake-up -> commit start from 1-1.7 ms to 0.3 ms, and of the write lock's wait from 1-3
  ms to 0.2-1 ms. The threads are I/O-bound: more frequent switches cost nothing visible.

A daemon embedded in another program (tests, the demo) leaves that program's interpreter
alone.

SIGTERM (or SIGINT) drains: readers stop first (no new taps), forwarders get up to
``drain_timeout`` seconds to deliver what is pending, then everything is closed and
``run()`` returns 0. Whatever is not delivered stays in the outbox for the next start.
"""

from __future__ import annotations

import gc
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from nfcbridge.config import ReaderSettings, Settings
from nfcbridge.errors import ConfigError, StoreUnavailable
from nfcbridge.forwarders import Forwarder, build_forwarder
from nfcbridge.outbox import Outbox, OutboxError
from nfcbridge.pipeline import Enricher, TapPipeline
from nfcbridge.sdnotify import SdNotify, watchdog_interval
from nfcbridge.service import Service
from nfcbridge.worker import ReaderWorker

if TYPE_CHECKING:
    from nfcbridge.control import ControlServer
    from nfcbridge.manual import NoteStore
    from nfcbridge.metrics import Metrics
    from nfcbridge.retention import Pruner
    from provisioning.registry import Registry

log = logging.getLogger("nfcbridge.daemon")


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        notify: SdNotify | None = None,
        drain_timeout: float = 10.0,
        reader_backoff: tuple[float, float] = (0.2, 30.0),
        prune_interval: float = 3600.0,
        own_process: bool = False,
    ) -> None:
        self.settings = settings
        self.own_process = own_process  # tune the interpreter for latency (module doc)
        self._untune: Callable[[], None] | None = None
        self.notify = notify or SdNotify()
        self.drain_timeout = drain_timeout
        self.reader_backoff = reader_backoff
        self.prune_interval = prune_interval
        self.pruner: Pruner | None = None  # once READY (keep_days > 0)
        self.outbox: Outbox | None = None
        self.registry: Registry | None = None
        self.enricher: Enricher | None = None
        self.pipeline: TapPipeline | None = None
        self.workers: dict[str, ReaderWorker] = {}
        self.forwarders: list[Forwarder] = []
        self.metrics: Metrics | None = None
        self.metrics_port: int | None = None
        self.control: ControlServer | None = None
        self.notes: NoteStore | None = None  # opened with the outbox
        self._notes_purged = float("-inf")
        self.started_at = time.time()
        self._stop = threading.Event()
        self._started: list[Service] = []  # the parts started, in order (see shutdown)
        self.ready = threading.Event()

    # -- validation (no threads) ----------------------------------------------------------
    def prepare(self) -> None:
        s, file = self.settings, self.settings.source
        self._check_readers()
        if s.metrics.listen:
            from nfcbridge.metrics import Metrics, parse_listen

            parse_listen(s.metrics.listen, file=file)
            self.metrics = Metrics()
        try:  # what systemd's StateDirectory= would do for a hand-started daemon
            s.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create {s.data_dir}: {exc.strerror}", file=file, key="station.data_dir"
            ) from None
        control_path = s.control_socket
        if control_path is not None:
            from nfcbridge.control import ControlError, ControlServer

            self.control = ControlServer(control_path, self)
            try:
                self.control.check()
            except ControlError as exc:
                raise ConfigError(str(exc), file=file, key="control.socket") from None
        try:
            self.outbox = Outbox.open(s.outbox_path)
        except OutboxError as exc:
            raise StoreUnavailable(f"{file}: outbox.path: {exc}") from None
        self._open_registry()
        from nfcbridge.manual import NoteStore

        self.notes = NoteStore(s.data_dir / "notes.db")
        self.pipeline = TapPipeline(s.station.name, self.outbox, enricher=self.enricher)
        for i, fs in enumerate(s.forwarders):
            self.forwarders.append(build_forwarder(fs, i, s, self.outbox, metrics=self.metrics))
        for rs in s.readers:
            self.workers[rs.name] = ReaderWorker(
                rs,
                self.pipeline,
                metrics=self.metrics,
                min_backoff=self.reader_backoff[0],
                max_backoff=self.reader_backoff[1],
            )
        if self.metrics is not None:
            outbox = self.outbox
            names = [f.forwarder_name for f in self.forwarders]
            self.metrics.watch_outbox(lambda: outbox.progress_all(names))
            self.metrics.watch_retention(lambda: self.pruner)

    def _check_readers(self) -> None:
        from drivers import table
        from drivers.errors import ReaderError

        file = self.settings.source
        for i, rs in enumerate(self.settings.readers):
            key = f"readers[{i}].url"
            try:
                parsed = table.parse(rs.url)
                table.make_reader(parsed).close()  # imports the driver, validates params
            except ReaderError as exc:
                raise ConfigError(str(exc), file=file, key=key) from None
            if rs.retap_window < 0:
                raise ConfigError(
                    "must not be negative", file=file, key=f"readers[{i}].retap_window"
                )

    def _open_registry(self) -> None:
        s, file = self.settings, self.settings.source
        url = s.registry.url
        if url == "none":
            return
        if not url and not (s.data_dir / "registry.db").exists():
            log.info("no registry configured or found: taps are not enriched")
            return
        from nfcbridge.config import registry_connect_url
        from provisioning.errors import ProvisioningError
        from provisioning.registry import Registry

        try:
            from provisioning.months import MunicipalRules

            rules = MunicipalRules(locking_working_days=s.municipal.locking_working_days)
            self.registry = Registry.open(registry_connect_url(s), rules=rules, migrate=False)
            self.registry.tap_context(b"\x00" * 7)  # proves the schema answers
        except (ProvisioningError, Exception) as exc:
            raise StoreUnavailable(f"{file}: registry.url: {exc}") from None
        self.enricher = Enricher(self.registry, budget=s.registry.lookup_timeout)

    # -- running --------------------------------------------------------------------------
    def start(self) -> None:
        assert self.pipeline is not None, "prepare() first"
        if self.metrics is not None:
            from nfcbridge.metrics import parse_listen

            listen = self.settings.metrics.listen
            self.metrics.address = parse_listen(listen)
            try:
                self._start(self.metrics)
            except OSError as exc:
                raise ConfigError(
                    f"cannot listen on {listen}: {exc.strerror or exc}",
                    file=self.settings.source,
                    key="metrics.listen",
                ) from None
            self.metrics_port = self.metrics.port
        for fw in self.forwarders:
            self.pipeline.subscribe(fw.wake)
            self._start(fw)
        for worker in self.workers.values():
            self._start(worker)
        if self.control is not None:  # last: a client that reaches it finds all running
            self._start(self.control)

    def _start(self, service: Service) -> None:
        service.start()
        self._started.append(service)

    def services(self) -> list[Service]:
        """The started long-running parts, in start order."""
        parts: list[Any] = [self.metrics, *self.forwarders, *self.workers.values()]
        parts += [self.control, self.pruner]
        return [p for p in parts if p is not None and p in self._started]

    def healthy(self) -> bool:
        try:
            assert self.outbox is not None
            self.outbox.ping()
        except OutboxError as exc:
            log.error("outbox unhealthy: %s", exc)
            return False
        sick = [s.name for s in self.services() if not s.healthy()]
        if sick:
            log.error("not running: %s", ", ".join(sick))
            return False
        return True

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def run(self, *, install_signals: bool = True) -> int:
        """prepare / start / loop / shutdown. Whatever fails on the way (a port in use, a
        store that breaks), ``shutdown`` runs: every started thread is stopped and the
        control socket this daemon created is removed."""
        try:
            self.prepare()
            if install_signals:
                self._install_signals()
            if self.own_process:
                self._untune = tune_process()
            self.start()
            self.notify.ready(f"{len(self.workers)} readers, {len(self.forwarders)} forwarders")
            self.ready.set()
            self._start_pruner()
            log.info(
                "nfcbridge daemon ready: %d readers, %d forwarders",
                len(self.workers),
                len(self.forwarders),
            )
            self._loop()
        finally:
            self.shutdown()
        return 0

    def _loop(self) -> None:
        interval = watchdog_interval() or 1.0
        while not self._stop.wait(interval):
            if self.healthy():
                self.notify.watchdog()
            self.purge_notes_if_due()

    def _start_pruner(self) -> None:
        """Outbox retention in its own thread (a long first run never delays the watchdog):
        once now, after READY, then every ``prune_interval`` seconds."""
        keep_days = self.settings.outbox.keep_days
        if keep_days <= 0 or self.outbox is None:
            return
        from nfcbridge.retention import Pruner

        names = [f.forwarder_name for f in self.forwarders]
        self.pruner = Pruner(self.outbox, names, keep_days, interval=self.prune_interval)
        self._start(self.pruner)

    def _install_signals(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            self._stop.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def shutdown(self) -> None:
        """Stop readers, let forwarders deliver within ``drain_timeout``, close. Only the
        parts that were started are stopped (this also runs after a failed start)."""
        self.notify.stopping("draining")
        log.info("stopping: draining the outbox for up to %.0f s", self.drain_timeout)
        started = self.services()
        workers = [s for s in started if isinstance(s, ReaderWorker)]
        forwarders = [s for s in started if isinstance(s, Forwarder)]
        others = [s for s in started if s not in workers and s not in forwarders]
        if self.pruner is not None:  # stops between batches: never holds up the drain
            self.pruner.stop()
        for worker in workers:  # no new taps
            worker.stop()
        for worker in workers:
            worker.join(timeout=5.0)
        if self.control is not None:  # also one that was created but never started
            self.control.close()
        deadline = time.monotonic() + self.drain_timeout
        for fw in forwarders:
            fw.stop(drain=True)
        for fw in forwarders:
            fw.join(timeout=max(0.0, deadline - time.monotonic()))
        for fw in forwarders:
            fw.stop()
        for fw in forwarders:
            fw.join(timeout=5.0)
        for service in reversed(others):
            service.stop()
            service.join(timeout=10.0)
        self._started.clear()
        if self.enricher is not None:
            self.enricher.close()
        if self.registry is not None:
            self.registry.close()
        if self.outbox is not None:
            self.outbox.close()
        if self.notes is not None:
            self.notes.close()
        if self._untune is not None:
            self._untune()
            self._untune = None
        log.info("stopped")

    # -- what the control channel needs ---------------------------------------------------
    def reader_settings(self, name: str) -> ReaderSettings | None:
        return next((r for r in self.settings.readers if r.name == name), None)

    def worker(self, name: str) -> ReaderWorker:
        return self.workers[name]

    def manual(self, request: dict[str, Any]) -> dict[str, Any]:
        """A manual registration from the control socket (``nfcbridge.manual``)."""
        from nfcbridge.control import ControlError
        from nfcbridge.manual import register
        from provisioning.errors import RegistryError

        assert self.pipeline is not None and self.notes is not None
        self.purge_notes_if_due()
        try:
            event = register(request, self.pipeline, self.notes, self.registry)
        except RegistryError as exc:
            raise ControlError(f"refused: {exc}") from None
        except OutboxError as exc:  # voided in the audit trail; the person registers again
            log.error("manual registration NOT stored: %s", exc)
            raise ControlError(f"not stored, register again: {exc}") from None
        return {"ok": True, "event_id": event.event_id, "seq": event.seq, "origin": event.origin}

    def purge_notes_if_due(self, every: float = 3600.0) -> None:
        """Notes of manual registrations go after ``[municipal] manual_note_keep_days``."""
        if self.notes is None or time.monotonic() - self._notes_purged < every:
            return
        self._notes_purged = time.monotonic()
        gone = self.notes.purge(self.settings.municipal.manual_note_keep_days)
        if gone:
            log.info("purged %d note(s) of manual registrations", gone)

    def status(self) -> dict[str, Any]:
        from nfcbridge.status import daemon_status

        assert self.outbox is not None
        data = daemon_status(
            self.settings.station.name,
            self.outbox,
            self.workers.values(),
            self.forwarders,
            self.started_at,
        )
        data["outbox"]["retention"] = (
            self.pruner.as_dict() if self.pruner else {"keep_days": self.settings.outbox.keep_days}
        )
        return data


SWITCH_INTERVAL = 0.001  # seconds (module doc)


def tune_process() -> Callable[[], None]:
    """Tune this interpreter for tap latency (module doc); returns what puts it back.

    Collects once, then moves every object still alive out of the collector's sight
    (``gc.freeze``: later collections walk only what was created after start-up), and sets
    the thread switch interval to ``SWITCH_INTERVAL``."""
    gc.collect()
    gc.freeze()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)

    def untune() -> None:
        sys.setswitchinterval(interval)
        gc.unfreeze()  # what start-up left behind is garbage now: collected as usual

    return untune
