"""Webhook secrets and Standard Webhooks signatures (https://www.standardwebhooks.com): the
one module the daemon's webhook forwarder, the reference receiver and the rig use, so a
secret file means the same key to all of them.

A secret is ``whsec_`` followed by base64 (the prefix may be left out; the rest is base64
either way) and decodes to at least 16 bytes. Anything else is a configuration error
naming the key (exit 3), before the daemon or the receiver starts.

The signed content is ``"{webhook-id}.{webhook-timestamp}.{body}"``; the signature is
HMAC-SHA256 with the secret's bytes, base64, sent as ``webhook-signature: v1,<base64>``
(several space-separated signatures are allowed during a key rotation). The secret is
``whsec_`` followed by base64. A timestamp further than ``TOLERANCE`` seconds from now is
refused, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from standardwebhooks.webhooks import Webhook

from nfcbridge.errors import VerificationFailed

TOLERANCE = 300  # seconds, as the spec recommends
PREFIX = "whsec_"


class SignatureInvalid(VerificationFailed):
    """The request is not signed with our secret, or too old/new."""


MIN_KEY_BYTES = 16


def decode_secret(text: str | bytes) -> bytes:
    """The key bytes of ``whsec_<base64>`` (the prefix is optional); ``ValueError`` when it
    is not base64 or shorter than 16 bytes."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    body = text.strip().removeprefix(PREFIX)
    try:
        key = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret must be whsec_ followed by base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(
            f"webhook secret is {len(key)} bytes, shorter than {MIN_KEY_BYTES} "
            "(whsec_ followed by the base64 of at least 16 random bytes)"
        )
    return key


def load_secret(reference: str | Path, *, file: str = "", key: str = "") -> bytes:
    """The key of the secret in a file or ``credential:NAME`` (systemd LoadCredential=).
    ``ConfigError`` naming *file* and *key* (the setting that names the secret) when it is
    missing, unreadable or invalid."""
    from nfcbridge.config import read_secret
    from nfcbridge.errors import ConfigError

    where = file or str(reference)
    raw = read_secret(str(reference), file=where, key=key)
    try:
        return decode_secret(raw)
    except ValueError as exc:
        raise ConfigError(
            f"{exc} (in {reference})" if file else str(exc), file=where, key=key or None
        ) from None


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(
    key: bytes, msg_id: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def verify(key: bytes, headers: Mapping[str, str], body: bytes, now: float | None = None) -> str:
    """The webhook id of a correctly signed, fresh request; ``SignatureInvalid`` otherwise.

    The expected signature is computed by the ``standardwebhooks`` package (an
    implementation nobody here wrote), so the daemon's ``sign`` is checked against an
    independent one on every delivery to the reference receiver."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not (msg_id and stamp and signatures):
        raise SignatureInvalid("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureInvalid("webhook-timestamp is not a number") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > TOLERANCE:
        raise SignatureInvalid(f"webhook-timestamp is {int(current - timestamp)} s off")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:  # not an event (a 400 once the signature holds): our HMAC
        expected = sign(key, msg_id, timestamp, body).encode()
    else:
        moment = datetime.fromtimestamp(timestamp, UTC)
        expected = Webhook(key).sign(msg_id=msg_id, timestamp=moment, data=text).encode()
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected):
            return msg_id
    raise SignatureInvalid("no valid v1 signature")
