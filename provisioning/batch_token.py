"""What goes on a receipt tag: an NDEF URI with an unguessable random token, nothing else;
and the provisioning settings that shape it (``BatchSettings``).

The tag carries no personal data and nothing derived from the customer or provider: only
``uri_template`` with ``{token}`` replaced by ``secrets.token_urlsafe(token_bytes)``. The
registry maps the token back to the tag (``tags.token`` is unique). A token of at least
``MIN_TOKEN_BYTES`` random bytes cannot be guessed from others printed on the same roll.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import ndef

MIN_TOKEN_BYTES = 8  # 64 bits: guessing a valid token among millions stays hopeless
MAX_TOKEN_BYTES = 48


def check_template(template: str, token_bytes: int) -> None:
    """ValueError (naming the problem) unless *template* is an absolute URI with exactly one
    ``{token}`` field and *token_bytes* is in range."""
    if not MIN_TOKEN_BYTES <= token_bytes <= MAX_TOKEN_BYTES:
        raise ValueError(
            f"token_bytes must be {MIN_TOKEN_BYTES}-{MAX_TOKEN_BYTES}, not {token_bytes}"
        )
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ValueError(f"uri_template {template!r}: {exc}") from None
    if fields != ["token"]:
        raise ValueError(
            f"uri_template {template!r} must contain {{token}} exactly once and no other field"
        )
    parts = urlsplit(template.format(token="x"))
    if not parts.scheme or not (parts.netloc or parts.path):
        raise ValueError(f"uri_template {template!r} is not an absolute URI")


def new_token(token_bytes: int) -> str:
    """A fresh URL-safe random token (``secrets``: a CSPRNG)."""
    return secrets.token_urlsafe(token_bytes)


def render_uri(template: str, token: str) -> str:
    return template.format(token=token)


def uri_message(uri: str) -> bytes:
    """The NDEF message (one URI record, prefix-compressed by ndeflib) for *uri*."""
    return b"".join(ndef.message_encoder([ndef.UriRecord(uri)]))


def ndef_digest(message: bytes) -> str:
    """Hex SHA-256 of an NDEF message: what the registry keeps to recognise it later."""
    return hashlib.sha256(message).hexdigest()


@dataclass(frozen=True)
class BatchSettings:
    """``[provisioning]`` of the configuration (any object with these attributes)."""

    uri_template: str = "https://kvitto.example.se/t/{token}"
    token_bytes: int = 12
    require_genuine: bool = True
    accept_test_signatures: bool = False  # emulated tags on a real reader (test rigs)
    tag_timeout: float = 30.0  # seconds without a tag: the batch run ends

    def __post_init__(self) -> None:
        check_template(self.uri_template, self.token_bytes)
        if self.tag_timeout < 0:
            raise ValueError("tag_timeout must not be negative")

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> BatchSettings:
        names = ("uri_template", "token_bytes", "require_genuine", "accept_test_signatures")
        values = {n: getattr(settings, n) for n in (*names, "tag_timeout")}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
