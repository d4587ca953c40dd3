"""The webhook forwarder against a real local HTTP server that fails like real backends."""

from __future__ import annotations

import http.server
import ssl
import threading
import time
from pathlib import Path

from nfcbridge.forwarders.webhook import WebhookForwarder
from nfcbridge.outbox import Outbox
from nfcbridge.signing import decode_secret
from tests.support.certificates import make_ca
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


def quick_retrying(box: Outbox, url: str) -> WebhookForwarder:
    """A forwarder with a key of its own that retries within milliseconds."""
    return WebhookForwarder(
        "web",
        box,
        url=url,
        key=decode_secret(new_secret()),
        idle_wait=0.05,
        base_backoff=0.01,
        max_backoff=0.05,
    )


def test_a_backend_refusing_every_signature_is_retried_and_failing_not_dead_lettered(
    tmp_path: Path,
) -> None:
    """401 for everything (a wrong key, a station clock 5 minutes off): fixed by people;
    meanwhile the event stays pending, the forwarder shows as failing, nothing is lost."""
    backend = RecordingBackend(new_secret()).start()  # another secret: 401 for everything
    box = Outbox.open(tmp_path / "o.db")
    box.commit(make(event_id="lonely"))
    fw = quick_retrying(box, backend.url)
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


class _Accepting(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def test_an_https_backend_whose_certificate_no_trusted_ca_signed_gets_nothing(
    tmp_path: Path,
) -> None:
    """TLS checks are on (the forwarders share one TLS context per process): a backend with a
    certificate from an unknown authority never sees the event; it stays pending, failing."""
    _, cert, key = make_ca(tmp_path, "unknown")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Accepting)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    box = Outbox.open(tmp_path / "o.db")
    box.commit(make(event_id="over-tls"))
    fw = quick_retrying(box, f"https://127.0.0.1:{server.server_address[1]}/hook")
    fw.start()
    deadline = time.monotonic() + 20
    while fw.health.failures < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    fw.stop()
    fw.join(10)
    server.shutdown()
    assert "CERTIFICATE_VERIFY_FAILED" in (fw.health.last_error or ""), fw.health.last_error
    assert box.progress("web").pending == 1 and box.dead_letters() == []
    box.close()
