"""Customer identities: personnummer validation and keyed pseudonyms.

The registry never sees a personnummer. A caller validates it here and gets back a keyed
pseudonym ``psn:<key_id>:<hex>`` (HMAC-SHA256 with a key kept in a file outside the
database), or uses the municipal system's own id as ``ext:<id>``. Error messages never
echo the number, not even masked: they only say which check failed.

Accepted forms: ``YYMMDD-NNNN``, ``YYMMDD+NNNN`` (``+``: 100 years or older), ``YYMMDDNNNN``,
``YYYYMMDDNNNN``, ``YYYYMMDD-NNNN``. A samordningsnummer has 60 added to the day. All forms
of one number normalise to the same 12 digits, so they give the same pseudonym (a 10-digit
form of a centenarian written without ``+`` is read as 100 years younger: prefer 12 digits).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from provisioning.errors import InvalidIdentity, PseudonymKeyError

KEY_BYTES = 32
_PNR = re.compile(r"^(\d{2})?(\d{6})([-+]?)(\d{4})$")
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_EXT_ID = re.compile(r"^[A-Za-z0-9_.:/-]{1,64}$")
REF_PATTERN = re.compile(r"^(psn:[A-Za-z0-9_.-]{1,32}:[0-9a-f]{64}|ext:[A-Za-z0-9_.:/-]{1,64})$")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def normalise_personnummer(text: str, *, today: dt.date | None = None) -> str:
    """The 12-digit form ``YYYYMMDDNNNN`` of a valid personnummer or samordningsnummer.

    Raises ``InvalidIdentity`` naming the failed check (format, date, check digit) and never
    the number itself.
    """
    today = today or dt.date.today()
    match = _PNR.match(text.strip().replace(" ", ""))
    if match is None:
        raise InvalidIdentity("invalid personnummer (format: expected 10 or 12 digits)")
    century, yymmdd, sep, tail = match.groups()
    if not _luhn_ok(yymmdd + tail):
        raise InvalidIdentity("invalid personnummer (check digit)")
    yy, month, day = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6])
    real_day = day - 60 if day > 60 else day  # samordningsnummer
    if century is not None:
        if sep == "+":
            raise InvalidIdentity("invalid personnummer (format: '+' only with 10 digits)")
        year = int(century) * 100 + yy
        date = _date_or_raise(year, month, real_day)
    else:
        year = today.year - (today.year - yy) % 100  # latest year ending in yy, not future
        if sep == "+":
            year -= 100
        date = _date_or_raise(year, month, real_day)
        if date > today and sep != "+":
            year -= 100
            date = _date_or_raise(year, month, real_day)
    if date > today:
        raise InvalidIdentity("invalid personnummer (date in the future)")
    return f"{year:04d}{month:02d}{day:02d}{tail}"


def _date_or_raise(year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise InvalidIdentity("invalid personnummer (date)") from None


def external_ref(external_id: str) -> str:
    """The customer reference for an id from the municipal system."""
    value = external_id.strip()
    if value.startswith("ext:"):
        value = value[4:]
    if not _EXT_ID.match(value):
        raise InvalidIdentity(
            "invalid external customer id (1-64 characters: letters, digits, _ . : / -)"
        )
    return f"ext:{value}"


def is_customer_ref(text: str) -> bool:
    return bool(REF_PATTERN.match(text))


@dataclass(frozen=True)
class Pseudonymizer:
    """Turns a personnummer into ``psn:<key_id>:<hmac-sha256 hex>``."""

    key: bytes
    key_id: str = "k1"

    def __post_init__(self) -> None:
        if len(self.key) < 16:
            raise PseudonymKeyError("pseudonym key is too short (at least 16 bytes)")
        if not _KEY_ID.match(self.key_id):
            raise PseudonymKeyError("pseudonym key id must be 1-32 letters, digits, _ . -")

    def __repr__(self) -> str:  # never show the key
        return f"Pseudonymizer(key_id={self.key_id!r})"

    def pseudonym(self, personnummer: str, *, today: dt.date | None = None) -> str:
        canonical = normalise_personnummer(personnummer, today=today)
        digest = hmac.new(self.key, canonical.encode("ascii"), hashlib.sha256).hexdigest()
        return f"psn:{self.key_id}:{digest}"


def load_key(path: Path, *, create: bool) -> bytes:
    """Read the pseudonym key; with *create*, make a new one (0600, 32 random bytes) if absent.

    The file holds 64 hex digits (a generated key) or raw bytes (at least 16). Only the
    default key path is created automatically: a configured path that is missing is more
    likely a mistake (a different key would silently give every customer a new pseudonym).
    """
    if create and not path.exists():
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: read theirs
        except OSError as exc:
            raise PseudonymKeyError(
                f"cannot create pseudonym key file {path}: {exc.strerror}"
            ) from None
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(KEY_BYTES) + "\n")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PseudonymKeyError(f"pseudonym key file {path} does not exist") from None
    except OSError as exc:
        raise PseudonymKeyError(f"cannot read pseudonym key file {path}: {exc.strerror}") from None
    text = raw.strip()
    if re.fullmatch(rb"[0-9a-fA-F]{32,}", text) and len(text) % 2 == 0:
        return bytes.fromhex(text.decode("ascii"))
    if len(raw) < 16:
        raise PseudonymKeyError(f"pseudonym key file {path} is too short (at least 16 bytes)")
    return raw
