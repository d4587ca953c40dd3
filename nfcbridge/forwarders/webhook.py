"""HTTP webhook forwarder, signed per the Standard Webhooks specification.

Headers: ``webhook-id`` (the event id: the receiver deduplicates on it), ``webhook-timestamp``
(Unix seconds of this attempt), ``webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">``. The secret comes from ``secret_file``; a ``whsec_`` prefix means the
rest is base64 (the spec's format), anything else is used as raw bytes.

How answers are treated:

- 2xx: delivered.
- 409 Conflict: delivered. Our event ids are unique, so the only conflict a receiver can
  report for a POST of an event is that it already has this id: a re-delivery after a lost
  reply. Retrying would loop forever and dead-lettering would flag a tap that arrived.
- 408, 425, 429 and every 5xx: transient, retried forever (``Retry-After`` honoured, in
  seconds or as an HTTP date).
- any other 4xx and 3xx (redirects are not followed: a moved endpoint is a configuration
  matter): permanent; the event goes to the dead-letter table, kept, and
  ``nfcbridge outbox retry`` sends it again once the cause is fixed.
- network errors and timeouts: transient.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from nfcbridge.forwarders.base import Forwarder, Outcome, TransientError
from nfcbridge.outbox import Outbox, StoredEvent

TRANSIENT_STATUS = frozenset({408, 425, 429})
ALREADY_DELIVERED_STATUS = frozenset({409})


def decode_secret(raw: bytes) -> bytes:
    """The signing key from a secret file's content (``whsec_<base64>`` or raw bytes)."""
    text = raw.strip()
    if text.startswith(b"whsec_"):
        return base64.b64decode(text[len(b"whsec_") :])
    return text


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    to_sign = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, to_sign, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


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
        secret: bytes,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
        clock: Any = time.time,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, outbox, **kwargs)
        self.url = url
        self.key = decode_secret(secret)
        self.timeout = timeout
        self.clock = clock
        self._own_client = client is None
        self.client = client or httpx.Client(timeout=timeout, follow_redirects=False)

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
