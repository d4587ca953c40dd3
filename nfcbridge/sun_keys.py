"""Reading the AES keys of SUN verification: files or systemd credentials of 32 hex digits."""

from __future__ import annotations

from nfcbridge.config import read_secret
from nfcbridge.errors import ConfigError


def read_aes_key(reference: str, *, option: str) -> bytes:
    """A 16-byte AES key from a file (or ``credential:NAME``) holding 32 hex digits.

    Any other content is a configuration error (exit 3) naming the option and file.
    """
    raw = read_secret(reference, key=option)
    try:
        text = raw.decode("ascii")
        key = bytes.fromhex(text)
    except (UnicodeDecodeError, ValueError):
        raise ConfigError(
            f"{reference} must hold 32 hex digits (an AES-128 key)", key=option
        ) from None
    if len(key) != 16:
        raise ConfigError(
            f"{reference} holds {len(text)} hex digits, an AES-128 key is 32", key=option
        )
    return key
