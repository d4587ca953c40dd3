"""A provisioning batch started from the browser runs as a service (the daemon's shape):
started, stopped after the tag on the reader, joined; never a tag left half-done."""

from __future__ import annotations

import time
from pathlib import Path

from nfcbridge.registry_open import open_registry
from nfcbridge.service import Service
from nfcbridge.web.jobs import Jobs
from tests.support.web import web_settings


def test_a_batch_job_has_the_service_shape_and_stops_between_tags(tmp_path: Path) -> None:
    settings = web_settings(tmp_path / "data", desk_reader="mock:jobs-desk?roll=ntag213")
    with open_registry(settings) as registry:
        jobs = Jobs(settings, registry)
        job = jobs.start("roll-9", 10_000, operator="web:test")
        assert isinstance(job, Service) and job.name == "web-batch-roll-9"
        deadline = time.monotonic() + 30
        while len(job.results) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        job.stop()
        job.join(30)
        assert job.thread is not None and not job.thread.is_alive()
        assert job.state == "stopped" and job.healthy()
        batch = registry.batch("roll-9")
        assert batch is not None
        assert 3 <= batch.provisioned < 10_000
        # every tag the job reported is recorded whole: provisioned and in stock
        assert all(registry.tag(r.uid).state == "in_stock" for r in job.results)
        assert len(job.results) == batch.provisioned
        assert jobs.running() is None
