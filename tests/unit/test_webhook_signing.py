"""Webhook forwarder with httpx.MockTransport: signatures (checked by the standardwebhooks
package), answer classification, Retry-After, backoff."""

from __future__ import annotations

import base64
import json
import random
import time
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from nfcbridge.forwarders.base import TransientError
from nfcbridge.forwarders.webhook import WebhookForwarder, parse_retry_after
from nfcbridge.outbox import Outbox
from nfcbridge.signing import decode_secret
from tests.support.events import make
from tests.support.harness import new_secret


@pytest.fixture
def box(tmp_path: Path) -> Outbox:
    outbox = Outbox.open(tmp_path / "o.db")
    for i in range(3):
        outbox.commit(make(event_id=f"e{i}"))
    yield outbox
    outbox.close()


def forwarder(box: Outbox, handler, secret: str, **kw) -> WebhookForwarder:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return WebhookForwarder(
        "web", box, url="http://backend.test/taps", key=decode_secret(secret), client=client, **kw
    )


def test_signature_verifies_with_the_standardwebhooks_package(box: Outbox) -> None:
    secret = new_secret()
    got: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        got.append(request)
        return httpx.Response(204)

    fw = forwarder(box, handler, secret)
    outcome = fw.send(box.pending("web"))
    assert len(outcome.delivered) == 3 and outcome.retry is None
    verifier = Webhook(secret)
    for request, stored in zip(got, box.pending("web"), strict=True):
        headers = dict(request.headers)
        assert headers["webhook-id"] == stored.event_id
        assert verifier.verify(request.content, headers)["event_id"] == stored.event_id
        assert request.content == stored.payload.encode()


def test_tampered_body_and_old_timestamp_fail_verification(box: Outbox) -> None:
    secret = new_secret()
    got: list[httpx.Request] = []
    fw = forwarder(
        box,
        lambda r: (got.append(r), httpx.Response(200))[1],
        secret,
        clock=lambda: time.time() - 3600,
    )
    fw.send(box.pending("web")[:1])
    verifier = Webhook(secret)
    headers = dict(got[0].headers)
    with pytest.raises(WebhookVerificationError):  # an hour old
        verifier.verify(got[0].content, headers)
    fresh = forwarder(box, lambda r: (got.append(r), httpx.Response(200))[1], secret)
    fresh.send(box.pending("web")[:1])
    headers = dict(got[1].headers)
    body = json.loads(got[1].content)
    body["seq"] = 999
    with pytest.raises(WebhookVerificationError):
        verifier.verify(json.dumps(body).encode(), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(got[1].content, headers)  # another secret


def test_secret_formats_one_reading_for_daemon_and_receiver() -> None:
    key = bytes(range(16))
    text = base64.b64encode(key)
    assert decode_secret(b"whsec_" + text + b"\n") == key
    assert decode_secret(text) == key  # no prefix: still base64, never raw bytes
    assert decode_secret("whsec_" + text.decode()) == key


@pytest.mark.parametrize(
    "secret",
    ["whsec_", "whsec_not base64!", "whsec_aGVsbG8=", "plain-secret", "whsec_Incorrect-padding"],
)
def test_invalid_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="webhook secret"):
        decode_secret(secret)


@pytest.mark.parametrize(
    "status", [500, 502, 503, 408, 425, 429, 401, 403, 404, 405, 410, 301, 302, 307, 308]
)
def test_transient_answers_stop_the_batch_for_a_retry(box: Outbox, status: int) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(204 if len(calls) == 1 else status)

    outcome = forwarder(box, handler, new_secret()).send(box.pending("web"))
    assert [e.event_id for e in outcome.delivered] == ["e0"]
    assert outcome.retry is not None and outcome.dead == []
    assert len(calls) == 2  # head of line: e2 not sent while e1 waits


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (401, "check the secret and the station clock"),
        (404, "check the webhook url"),
        (301, "redirected, not followed"),
    ],
)
def test_an_endpoint_refusing_every_event_names_what_to_check(
    box: Outbox, status: int, hint: str
) -> None:
    """A wrong URL or key is fixed by people; meanwhile nothing becomes a dead letter and
    ``status`` (the forwarder's last error) says what to check."""
    outcome = forwarder(box, lambda r: httpx.Response(status), new_secret()).send(
        box.pending("web")
    )
    assert outcome.dead == [] and outcome.delivered == []
    assert outcome.retry is not None and hint in str(outcome.retry)


@pytest.mark.parametrize("status", [400, 413, 415, 422])
def test_permanent_rejections_become_dead_letters(box: Outbox, status: int) -> None:
    outcome = forwarder(box, lambda r: httpx.Response(status), new_secret()).send(
        box.pending("web")
    )
    assert [e.event_id for e, _ in outcome.dead] == ["e0", "e1", "e2"]
    assert all(reason.startswith(f"HTTP {status}") for _, reason in outcome.dead)


def test_409_means_already_delivered(box: Outbox) -> None:
    outcome = forwarder(box, lambda r: httpx.Response(409), new_secret()).send(box.pending("web"))
    assert len(outcome.delivered) == 3


def test_network_errors_are_transient(box: Outbox) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    outcome = forwarder(box, handler, new_secret()).send(box.pending("web"))
    assert outcome.delivered == [] and isinstance(outcome.retry, TransientError)


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_retry_after_is_honoured_up_to_max_backoff(box: Outbox) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"retry-after": "7"})

    fw = forwarder(box, handler, new_secret(), max_backoff=60)
    outcome = fw.send(box.pending("web"))
    assert outcome.retry is not None and fw.backoff_delay(outcome.retry) == 7.0
    capped = forwarder(box, handler, new_secret(), max_backoff=3)
    assert capped.backoff_delay(capped.send(box.pending("web")).retry) == 3.0


def test_backoff_is_exponential_with_full_jitter_capped(box: Outbox) -> None:
    fw = forwarder(
        box,
        lambda r: httpx.Response(500),
        new_secret(),
        max_backoff=4.0,
        base_backoff=0.5,
        rng=random.Random(3),
    )
    caps = []
    for failures in range(8):
        fw.health.failures = failures
        delays = [fw.backoff_delay(TransientError("x")) for _ in range(200)]
        assert all(0 <= d <= min(4.0, 0.5 * 2**failures) for d in delays)
        caps.append(max(delays))
    assert caps[0] < caps[2] < caps[4]  # grows
    assert max(caps) <= 4.0
