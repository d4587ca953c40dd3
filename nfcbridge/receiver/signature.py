"""Standard Webhooks signatures (https://www.standardwebhooks.com), both sides.

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
from pathlib import Path

from nfcbridge.errors import VerificationFailed

TOLERANCE = 300  # seconds, as the spec recommends
PREFIX = "whsec_"


class SignatureInvalid(VerificationFailed):
    """The request is not signed with our secret, or too old/new."""


def decode_secret(text: str) -> bytes:
    """The key bytes of ``whsec_<base64>`` (the prefix is optional)."""
    body = text.strip().removeprefix(PREFIX)
    try:
        key = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret must be whsec_ followed by base64") from None
    if len(key) < 16:
        raise ValueError("webhook secret is shorter than 16 bytes")
    return key


def load_secret(path: str | Path) -> bytes:
    from nfcbridge.config import read_secret
    from nfcbridge.errors import ConfigError

    try:
        return decode_secret(read_secret(str(path)).decode("ascii", "replace"))
    except ValueError as exc:
        raise ConfigError(str(exc), file=str(path)) from None


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
    """The webhook id of a correctly signed, fresh request; ``SignatureInvalid`` otherwise."""
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
    expected = sign(key, msg_id, timestamp, body).encode()
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected):
            return msg_id
    raise SignatureInvalid("no valid v1 signature")
