"""Provisioning batches started from the browser, run on the desk's reader.

The batch runner (``provisioning.batch``) is a generator; a job drives it in one thread and
keeps every result for the page, which polls. One job at a time: the desk has one reader.
A job has the daemon's service shape (``nfcbridge.service.Service``: start, stop, join,
healthy); stopping asks the runner to stop after the tag in progress (never mid-tag).
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from nfcbridge.config import Settings
from provisioning.batch_results import TagResult
from provisioning.batch_stop import StopControl
from provisioning.records import BatchRecord
from provisioning.registry import Registry

log = structlog.get_logger("nfcbridge.web.jobs")


@dataclass
class BatchJob:
    id: str
    batch: str
    target: int
    operator: str
    control: StopControl = field(default_factory=StopControl)
    results: list[TagResult] = field(default_factory=list)
    state: str = "running"  # running, done, stopped, failed
    error: str = ""
    totals: BatchRecord | None = None
    run: Callable[[BatchJob], None] | None = None  # the work, given by ``Jobs``
    thread: threading.Thread | None = None

    # -- the service shape (nfcbridge.service.Service) ------------------------------------
    @property
    def name(self) -> str:
        return f"web-batch-{self.batch}"

    def start(self) -> None:
        work = self.run
        assert work is not None, "a job is started by Jobs.start"
        self.thread = threading.Thread(target=work, args=(self,), name=self.name, daemon=True)
        self.thread.start()

    def stop(self, *, drain: bool = False) -> None:
        """After the tag on the reader (a tag is never left half-provisioned)."""
        self.control.request()

    def join(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)

    def healthy(self) -> bool:
        return self.state != "failed"

    def snapshot(self) -> dict[str, Any]:
        totals = self.totals
        return {
            "id": self.id,
            "batch": self.batch,
            "target": self.target,
            "state": self.state,
            "error": self.error,
            "provisioned": totals.provisioned if totals else 0,
            "spoiled": totals.spoiled if totals else 0,
            "results": list(self.results),
        }


class Jobs:
    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.settings = settings
        self.registry = registry
        self._lock = threading.Lock()
        self._jobs: dict[str, BatchJob] = {}

    def running(self) -> BatchJob | None:
        with self._lock:
            return next((j for j in self._jobs.values() if j.state == "running"), None)

    def get(self, job_id: str) -> BatchJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def start(self, batch: str, target: int, *, operator: str) -> BatchJob:
        with self._lock:
            if any(j.state == "running" for j in self._jobs.values()):
                raise RuntimeError("a batch is already running on the desk reader")
            job = BatchJob(secrets.token_urlsafe(12), batch, target, operator, run=self._run)
            self._jobs[job.id] = job
        job.start()
        return job

    def stop_all(self, timeout: float = 10.0) -> None:
        """Ask every job to stop after its current tag, and wait for them."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop()
        for job in jobs:
            job.join(timeout)

    def _run(self, job: BatchJob) -> None:
        from drivers import open_reader
        from provisioning.batch import BatchRunner, BatchSettings

        try:
            settings = BatchSettings.from_settings(self.settings.provisioning)
            with open_reader(self.settings.web.desk_reader) as reader:
                runner = BatchRunner(
                    reader,
                    self.registry,
                    job.batch,
                    operator=job.operator,
                    settings=settings,
                    count=job.target,
                    stop=job.control,
                )
                job.totals = runner.open()
                for result in runner:
                    job.results.append(result)
                    job.totals = self.registry.batch(job.batch)
            job.state = "stopped" if job.control.requested else "done"
        except KeyboardInterrupt:  # the runner's way of saying it stopped mid-way
            job.state = "stopped"
        except Exception as exc:  # shown on the page; the batch can be resumed
            log.warning("web batch failed", batch=job.batch, error=str(exc))
            job.state = "failed"
            job.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        finally:
            with contextlib.suppress(Exception):  # the registry failed: the error says so
                job.totals = self.registry.batch(job.batch)
