"""The reference receiver over real HTTP on 127.0.0.1:0: signatures (checked against the
independent standardwebhooks package), idempotent storage, gaps."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import standardwebhooks

from nfcbridge.receiver.server import ReceiverHTTPServer
from nfcbridge.receiver.store import EventStore
from nfcbridge.signing import SignatureInvalid, decode_secret, signed_headers, verify
from tests.support.loopback_http import LOOPBACK
from tests.support.receiver_events import KEY, SECRET, event


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ReceiverHTTPServer]:
    store = EventStore(tmp_path / "rx.db")
    srv = ReceiverHTTPServer(("127.0.0.1", 0), KEY, store)
    srv.start_background()
    yield srv
    srv.stop()
    store.close()


def post(
    srv: ReceiverHTTPServer,
    ev: dict[str, object],
    *,
    key: bytes = KEY,
    body: bytes | None = None,
    now: float | None = None,
) -> httpx.Response:
    raw = json.dumps(ev).encode()
    headers = signed_headers(key, str(ev["event_id"]), raw, now=now)
    return LOOPBACK.post(srv.url, content=body if body is not None else raw, headers=headers)


def test_signed_event_is_stored(server: ReceiverHTTPServer) -> None:
    ev = event()
    reply = post(server, ev)
    assert reply.status_code == 200 and reply.json()["duplicate"] is False
    assert server.store.events() == [ev]


def test_duplicate_is_acknowledged_and_not_stored_twice(server: ReceiverHTTPServer) -> None:
    ev = event()
    assert post(server, ev).status_code == 200
    again = post(server, ev)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert server.store.count() == 1


def test_tampered_body_is_refused(server: ReceiverHTTPServer) -> None:
    ev = event()
    tampered = json.dumps({**ev, "seq": 99}).encode()
    assert post(server, ev, body=tampered).status_code == 401
    assert server.store.count() == 0


def test_old_timestamp_and_wrong_secret_are_refused(server: ReceiverHTTPServer) -> None:
    assert post(server, event(), now=time.time() - 3600).status_code == 401
    assert post(server, event(), key=os.urandom(32)).status_code == 401
    assert LOOPBACK.post(server.url, json=event()).status_code == 401  # unsigned
    assert server.store.count() == 0


def test_not_a_tap_event_is_a_permanent_400(server: ReceiverHTTPServer) -> None:
    assert post(server, event(schema="other/1")).status_code == 400
    assert post(server, event(origin="manual")).status_code == 400
    assert post(server, event(occurred_at="yesterday")).status_code == 400
    assert post(server, event(), body=b"[1, 2]").status_code in (400, 401)
    assert server.store.count() == 0


def test_event_id_must_be_the_webhook_id(server: ReceiverHTTPServer) -> None:
    ev = event()
    raw = json.dumps(ev).encode()
    headers = signed_headers(KEY, "another-id", raw)
    assert LOOPBACK.post(server.url, content=raw, headers=headers).status_code == 400


def test_standardwebhooks_signature_is_accepted(server: ReceiverHTTPServer) -> None:
    ev = event()
    raw = json.dumps(ev)
    stamp = int(time.time())
    signature = standardwebhooks.Webhook(SECRET).sign(ev["event_id"], _dt(stamp), raw)
    headers = {
        "webhook-id": ev["event_id"],
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature,
    }
    assert LOOPBACK.post(server.url, content=raw.encode(), headers=headers).status_code == 200


def test_our_signature_verifies_with_standardwebhooks() -> None:
    raw = json.dumps(event()).encode()
    headers = signed_headers(KEY, "msg_1", raw)
    standardwebhooks.Webhook(SECRET).verify(raw, headers)  # raises if wrong
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(raw + b" ", headers)


def test_rotated_keys_any_listed_signature_counts() -> None:
    raw = b"{}"
    headers = signed_headers(KEY, "m", raw)
    headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
    assert verify(KEY, headers, raw) == "m"
    headers["webhook-signature"] = "v1,AAAA"
    with pytest.raises(SignatureInvalid):
        verify(KEY, headers, raw)


def test_gaps_are_flagged_and_closed_by_late_arrivals(
    server: ReceiverHTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    for seq in (1, 2, 5):
        assert post(server, event(seq)).status_code == 200
    assert any("expected 3" in r.getMessage() for r in caplog.records)
    report = LOOPBACK.get(server.url + "report").json()
    assert report["gaps"] == [{"station": "rig", "reader": "s001", "from": 3, "to": 4}]
    post(server, event(3))
    post(server, event(4))
    assert LOOPBACK.get(server.url + "report").json()["gaps"] == []
    assert LOOPBACK.get(server.url + "health").json()["events"] == 5


def test_store_survives_a_restart(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "rx.db")
    ev = event()
    assert store.add(ev)[0] is True
    store.close()
    store = EventStore(tmp_path / "rx.db")
    assert store.add(ev)[0] is False
    assert store.count() == 1
    store.close()


def test_secret_without_prefix_or_too_short_is_handled() -> None:
    assert decode_secret(SECRET.removeprefix("whsec_")) == KEY
    with pytest.raises(ValueError):
        decode_secret("whsec_" + base64.b64encode(b"short").decode())
    with pytest.raises(ValueError):
        decode_secret("whsec_not base64!")


def _dt(stamp: int):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.fromtimestamp(stamp, UTC)
