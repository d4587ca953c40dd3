"""HTTP webhook forwarder, signed per the Standard Webhooks specification.

Headers: ``webhook-id`` (the event id: the receiver deduplicates on it), ``webhook-timestamp``
(Unix seconds of this attempt), ``webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">``, made by ``nfcbridge.signing``, which also reads ``secret_file``
(the same reading as the reference receiver's).

How answers are treated:

- 2xx: delivered.
- 409 Conflict: delivered. Our event ids are unique, so the only conflict a receiver can
  report for a POST of an event is that it already has this id: a re-delivery after a lost
  reply. Retrying would loop forever and dead-lettering would flag a tap that arrived.
- 408, 425, 429 and every 5xx: transient, retried forever (``Retry-After`` honoured, in
  seconds or as an HTTP date).
- answers about the endpoint or the station rather than the event: 401 and 403 (a wrong
  key, a station clock more than 5 minutes off), 404, 405 and 410 (a wrong or retired URL),
  and every 3xx (redirects are not followed: a moved endpoint is a configuration matter).
  Retried forever with backoff too, and ``status`` shows the forwarder as failing: people
  fix the cause, and the same event would be refused for every tap meanwhile, so none may
  become a dead letter (each would wait for ``nfcbridge outbox retry`` after the fix).
- any other 4xx (400, 413, 422...): this event was refused, and the same bytes would be
  refused again; permanent: the event goes to the dead-letter table, kept, and
  ``nfcbridge outbox retry`` sends it again once the cause is fixed. The events after it
  go on.
- network errors and timeouts: transient.
"""

from __future__ import annotations

import functools
import ssl
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from nfcbridge.forwarders.base import Forwarder, Outcome, TransientError
from nfcbridge.outbox import Outbox, StoredEvent
from nfcbridge.signing import sign

TRANSIENT_STATUS = frozenset({408, 425, 429})
ALREADY_DELIVERED_STATUS = frozenset({409})


def refusal_hint(status: int) -> str | None:
    """What people check when *status* refuses every event alike (not authorised, or not
    the endpoint: fixed by people, then delivered; module docstring); None for others."""
    if status in (401, 403):
        return "signature refused: check the secret and the station clock"
    if 300 <= status < 400:
        return "redirected, not followed: check the webhook url"
    if status in (404, 405, 410):
        return "no such endpoint: check the webhook url"
    return None


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The certificate checks httpx makes by default (its CA bundle, ``SSL_CERT_FILE``),
    built once per process and shared by every webhook forwarder: loading the bundle takes
    about 50 ms, at every daemon start and for each forwarder otherwise."""
    return httpx.create_ssl_context()


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


class WebhookForwarder(Forwarder):
    kind = "webhook"

    def __init__(
        self,
        name: str,
        outbox: Outbox,
        *,
        url: str,
        key: bytes,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
        clock: Any = time.time,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, outbox, **kwargs)
        self.url = url
        self.key = key  # decoded by nfcbridge.signing.load_secret / decode_secret
        self.timeout = timeout
        self.clock = clock
        self._own_client = client is None
        self.client = client or httpx.Client(
            timeout=timeout, follow_redirects=False, verify=tls_context()
        )

    def headers(self, event: StoredEvent, body: bytes) -> dict[str, str]:
        timestamp = int(self.clock())
        return {
            "content-type": "application/json",
            "user-agent": "nfcbridge",
            "webhook-id": event.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self.key, event.event_id, timestamp, body),
        }

    def send(self, batch: list[StoredEvent]) -> Outcome:
        outcome = Outcome()
        for event in batch:
            if self._halt.is_set():
                break
            body = event.payload.encode()
            try:
                response = self.client.post(
                    self.url,
                    content=body,
                    headers=self.headers(event, body),
                    timeout=self.timeout,
                )
            except httpx.HTTPError as exc:
                outcome.retry = TransientError(f"{type(exc).__name__}: {exc}")
                return outcome
            status = response.status_code
            if 200 <= status < 300 or status in ALREADY_DELIVERED_STATUS:
                outcome.delivered.append(event)
            elif (hint := refusal_hint(status)) is not None:
                outcome.retry = TransientError(f"HTTP {status} ({hint}): {response.text[:200]}")
                return outcome
            elif status in TRANSIENT_STATUS or status >= 500:
                outcome.retry = TransientError(
                    f"HTTP {status}",
                    retry_after=parse_retry_after(response.headers.get("retry-after")),
                )
                return outcome
            else:
                outcome.dead.append((event, f"HTTP {status}: {response.text[:200]}"))
        return outcome

    def teardown(self) -> None:
        if self._own_client:
            self.client.close()
