"""The webhook forwarder against a real local HTTP server that fails like real backends."""

from __future__ import annotations

import time
from pathlib import Path

from nfcbridge.forwarders.webhook import WebhookForwarder
from nfcbridge.outbox import Outbox
from nfcbridge.signing import decode_secret
from tests.support.events import make
from tests.support.harness import RecordingBackend, new_secret


def test_every_event_arrives_signed_despite_failures_and_lost_replies(tmp_path: Path) -> None:
    secret = new_secret()
    backend = RecordingBackend(secret, fail_rate=0.4, seed=7).start()
    box = Outbox.open(tmp_path / "o.db")
    ids = []
    for i in range(40):
        ids.append(box.commit(make(event_id=f"id-{i:03d}", reader=f"r{i % 2}")).event_id)
    fw = WebhookForwarder(
        "web",
        box,
        url=backend.url,
        key=decode_secret(secret),
        timeout=2.0,
        max_backoff=0.05,
        base_backoff=0.01,
        idle_wait=0.05,
    )
    fw.start()
    deadline = time.monotonic() + 60
    while box.progress("web").pending:
        assert time.monotonic() < deadline, box.progress("web")
        time.sleep(0.02)
    fw.drain()
    fw.join(10)
    backend.stop()
    box.close()
    assert backend.ids() == set(ids)
    assert backend.bad_signatures == 0 and backend.id_mismatch == 0
    assert backend.failures.get("lost_reply", 0) > 0  # the hard case really happened
    assert len(backend.deliveries) > len(ids)  # so some events arrived twice, same id
    for reader in ("r0", "r1"):  # head-of-line retries keep each reader's order
        seqs = [
            backend.stored[i]["seq"] for i in backend.order if backend.stored[i]["reader"] == reader
        ]
        assert seqs == sorted(seqs)


def test_a_backend_refusing_every_signature_is_retried_and_failing_not_dead_lettered(
    tmp_path: Path,
) -> None:
    """401 for everything (a wrong key, a station clock 5 minutes off): fixed by people;
    meanwhile the event stays pending, the forwarder shows as failing, nothing is lost."""
    backend = RecordingBackend(new_secret()).start()  # another secret: 401 for everything
    box = Outbox.open(tmp_path / "o.db")
    box.commit(make(event_id="lonely"))
    fw = WebhookForwarder(
        "web",
        box,
        url=backend.url,
        key=decode_secret(new_secret()),
        idle_wait=0.05,
        base_backoff=0.01,
        max_backoff=0.05,
    )
    fw.start()
    deadline = time.monotonic() + 20
    while backend.bad_signatures < 3:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    fw.stop()
    fw.join(10)
    backend.stop()
    assert box.dead_letters() == []
    assert box.progress("web").pending == 1
    assert fw.health.failures >= 3 and "401" in (fw.health.last_error or "")
    box.close()
