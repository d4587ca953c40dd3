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
from dataclasses import dataclass, field
from pathlib import Path

from provisioning.errors import (
    InvalidIdentity,
    PersonnummerRefused,
    PseudonymKeyError,
    PseudonymKeyMissing,
)

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


# A personnummer inside any text: 10 or 12 digits, an optional - or + (or a space) before the
# last four, not part of a longer run of digits.
_PNR_IN_TEXT = re.compile(r"(?<!\d)(?:\d{2})?\d{6}[-+ ]?\d{4}(?!\d)")


def looks_like_personnummer(text: str) -> bool:
    """True if *text* holds a valid personnummer or samordningsnummer anywhere in it.

    Any written form counts (``YYMMDD-NNNN``, ``YYMMDD+NNNN``, 10 or 12 digits, with or
    without the separator); it must pass the same date and check-digit tests as
    ``normalise_personnummer``, so an arbitrary run of digits is rarely refused.
    """
    return any(_is_personnummer(m.group(0)) for m in _PNR_IN_TEXT.finditer(text))


def _is_personnummer(candidate: str) -> bool:
    digits = re.sub(r"[-+ ]", "", candidate)
    for form in (candidate.replace(" ", "-"), digits):
        try:
            normalise_personnummer(form)
        except InvalidIdentity:
            continue
        return True
    return False


def redact_personnummer(text: str) -> str:
    """*text* with every personnummer-looking number replaced (for messages that echo input)."""
    return _PNR_IN_TEXT.sub(
        lambda m: "<personnummer removed>" if _is_personnummer(m.group(0)) else m.group(0), text
    )


def refuse_personnummer(
    text: str | None, field: str, hint: str = "use the customer's psn:/ext: reference"
) -> None:
    """Refuse free text or an id that holds a personnummer: it would be stored for good.

    The message names the field (and what to do instead, *hint*), never its value.
    """
    if text and looks_like_personnummer(text):
        raise PersonnummerRefused(
            f"{field} looks like it holds a personnummer or samordningsnummer; refused "
            f"(identities never go in free text or ids; {hint})"
        )


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
    refuse_personnummer(value, "the external customer id")
    if not _EXT_ID.match(value):
        raise InvalidIdentity(
            "invalid external customer id (1-64 characters: letters, digits, _ . : / -)"
        )
    return f"ext:{value}"


def is_customer_ref(text: str) -> bool:
    return bool(REF_PATTERN.match(text))


SCHEMES = ("argon2id", "hmac-sha256")
# Argon2id cost of one pseudonym (bench/pseudonym.py measures it): t passes over m KiB.
ARGON2_PARAMS: dict[str, int] = {"t": 3, "m": 65536, "p": 1}


@dataclass(frozen=True)
class Pseudonymizer:
    """Turns a personnummer into ``psn:<key_id>:<64 hex digits>``.

    ``argon2id`` (the default): Argon2id over the 12-digit number, 32 bytes out, with the key
    entering as the salt (``HMAC-SHA256(key, "nfcbridge pseudonym salt:" + key_id)``), an
    equivalent of Argon2's secret input through argon2-cffi's stable API: without the key no
    guess can be tested, and with it every guess costs one memory-hard Argon2id run.
    ``hmac-sha256``: HMAC-SHA256 of the number with the key; what registries made before
    revision 0006_issue12 hold, kept so those pseudonyms resolve until rotated to a new key id.
    """

    key: bytes
    key_id: str = "k1"
    scheme: str = "argon2id"
    params: dict[str, int] = field(default_factory=lambda: dict(ARGON2_PARAMS))

    def __post_init__(self) -> None:
        if len(self.key) < 16:
            raise PseudonymKeyError("pseudonym key is too short (at least 16 bytes)")
        if not _KEY_ID.match(self.key_id):
            raise PseudonymKeyError("pseudonym key id must be 1-32 letters, digits, _ . -")
        if self.scheme not in SCHEMES:
            raise PseudonymKeyError(f"unknown pseudonym scheme {self.scheme!r}")

    def __repr__(self) -> str:  # never show the key
        return f"Pseudonymizer(key_id={self.key_id!r}, scheme={self.scheme!r})"

    @property
    def fingerprint(self) -> str:
        """Identifies the key (recorded in the registry) without revealing it."""
        return hmac.new(
            self.key, b"nfcbridge pseudonym key fingerprint", hashlib.sha256
        ).hexdigest()

    def pseudonym(self, personnummer: str, *, today: dt.date | None = None) -> str:
        canonical = normalise_personnummer(personnummer, today=today).encode("ascii")
        if self.scheme == "hmac-sha256":
            digest = hmac.new(self.key, canonical, hashlib.sha256).hexdigest()
        else:
            from argon2.low_level import Type, hash_secret_raw

            salt = hmac.new(
                self.key, b"nfcbridge pseudonym salt:" + self.key_id.encode(), hashlib.sha256
            ).digest()[:16]
            digest = hash_secret_raw(
                canonical,
                salt,
                time_cost=self.params["t"],
                memory_cost=self.params["m"],
                parallelism=self.params["p"],
                hash_len=32,
                type=Type.ID,
            ).hex()
        return f"psn:{self.key_id}:{digest}"


def key_path(reference: str) -> Path:
    """The file behind a key reference: a path, or ``credential:NAME`` (systemd credential)."""
    if reference.startswith("credential:"):
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise PseudonymKeyError(f"{reference}: $CREDENTIALS_DIRECTORY is not set")
        return Path(directory) / reference.removeprefix("credential:")
    return Path(reference)


def load_key(reference: str | Path) -> bytes:
    """The pseudonym key from a file or a systemd credential: the one way a key is read.

    The content is 32+ hex digits (a generated key) or raw bytes (at least 16 after removing
    surrounding whitespace, so an editor's newline never changes the key). A file that group
    or others may read is refused.
    """
    path = key_path(str(reference))
    try:
        mode = path.stat().st_mode
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PseudonymKeyMissing(f"pseudonym key file {path} does not exist") from None
    except OSError as exc:
        raise PseudonymKeyError(f"cannot read pseudonym key file {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise PseudonymKeyError(
            f"pseudonym key file {path} may be read by others (mode {mode & 0o777:o}): "
            f"chmod 600 {path}"
        )
    text = raw.strip()
    if re.fullmatch(rb"[0-9a-fA-F]{32,}", text) and len(text) % 2 == 0:
        return bytes.fromhex(text.decode("ascii"))
    if len(text) < 16:
        raise PseudonymKeyError(f"pseudonym key file {path} is too short (at least 16 bytes)")
    return text


def create_key(path: Path) -> None:
    """A new random key (64 hex digits, mode 0600) at *path*; never replaces one."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process created it first: theirs is used
    except OSError as exc:
        raise PseudonymKeyError(
            f"cannot create pseudonym key file {path}: {exc.strerror}"
        ) from None
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(KEY_BYTES) + "\n")
