"""The tap event, schema ``nfcbridge.tap/1``: one typed record per tap, serialised once.

The JSON form is what every forwarder sends and what the outbox stores, byte for byte, so a
re-delivery after a crash carries exactly the same body and the same ``event_id``::

    {"schema": "nfcbridge.tap/1", "event_id": "<UUIDv7>", "station": "alvsjo-1",
     "reader": "desk-left", "seq": 1042, "occurred_at": "2026-11-24T07:58:12.345Z",
     "clock_synced": true,
     "tag": {"uid": "04A1B2C3D4E5F6", "product": "NTAG213", "genuine": true,
             "signature": "nxp"},
     "registry": {"state": "active", "customer": "psn:k1:3f9c...", "provider": "P-0042"},
     "origin": "reader", "anomalies": []}

``tag.sun`` (``{"url": ...}``) is present on taps of SUN tags (NTAG 424 DNA): the daemon
reads the NDEF file (a few APDUs) and forwards the URL with its SUN message; the keys stay
with the verifier (``nfcbridge sun verify``, docs/ntag424.md).

A manual registration (a visit start or end registered without a receipt: a technical
fault, a visit started or ended outside the home) is the same event with ``origin:
"manual"``, ``tag: null`` (no tag was read), ``clock_synced: false`` (the time was typed in)
and a ``manual`` block; its note never travels, only a reference and a salted hash of it
(``nfcbridge.manual``)::

     "origin": "manual", "manual": {"kind": "start", "staff": "S-001", "customer": "ext:4711",
     "reason": "technical_fault", "note_ref": "<uuid>", "note_sha256": "<hex>"}

``tag.product``, ``tag.genuine`` and ``tag.signature`` are null unless the reader learned
them at tap time: by default the daemon reads the UID only (from anticollision), so a tap
is never slowed by a tag read (see ``nfcbridge.pipeline``); a reader with
``check_signature`` reads the originality signature on each tap (``nfcbridge.tap_checks``:
``signature`` is the verdict, ``genuine`` its judgement). ``registry`` is null when no
registry is configured or it could not be asked (then ``anomalies`` says
``registry_unavailable``). A simulated tap replayed by ``rig run`` also carries ``"run"``,
the replay's id, so that a receiver holding several replays can tell them apart.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, Literal

from nfcbridge.timefmt import utc_iso

SCHEMA = "nfcbridge.tap/1"
Origin = Literal["reader", "simulated", "manual"]

# The anomaly vocabulary (stable strings: backends match on them).
UNKNOWN_TAG = "unknown_tag"  # the registry has never seen this UID
RETIRED_TAG = "retired_tag"  # the tag was retired: it must not be on a door any more
SPOILED_TAG = "spoiled_tag"  # failed provisioning: it must never be in use
NOT_ATTACHED = "not_attached"  # known and usable, but not attached to a customer
NOT_GENUINE = "not_genuine"  # originality signature failed (when the reader checked it)
REGISTRY_UNAVAILABLE = "registry_unavailable"  # enrichment failed; the tap is still kept
SUN_MISSING = "sun_missing"  # the registry knows a SUN tag, the tap carried no SUN message


@dataclass(frozen=True)
class TagFacts:
    uid: str  # upper-case hex
    product: str | None = None
    genuine: bool | None = None
    signature: str | None = None  # the originality verdict when read at tap time
    sun: dict[str, Any] | None = None  # SUN tags only: {"url": <the NDEF URL as read>}

    def to_dict(self) -> dict[str, Any]:
        # every key always present (null when not read at tap time): a stable shape;
        # ``sun`` only on taps of SUN tags (NTAG 424 DNA), where the daemon read the message
        out: dict[str, Any] = {
            "uid": self.uid,
            "product": self.product,
            "genuine": self.genuine,
            "signature": self.signature,
        }
        if self.sun is not None:
            out["sun"] = self.sun
        return out


@dataclass(frozen=True)
class RegistryFacts:
    state: str
    customer: str | None
    provider: str | None
    # the customer's status when the tag is on one: "active", "lock" (a digital lock gives
    # the receipt: the sticker should have been collected) or "ended"; absent otherwise
    customer_status: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {"state": self.state, "customer": self.customer, "provider": self.provider}
        if self.customer_status is not None:
            data["customer_status"] = self.customer_status
        return data


@dataclass(frozen=True)
class ManualFacts:
    """What a manual registration says instead of a tag (the note stays at the station)."""

    kind: Literal["start", "end"]
    staff: str
    customer: str
    reason: str
    note_ref: str
    note_sha256: str


@dataclass(frozen=True)
class TapEvent:
    event_id: str
    station: str
    reader: str
    occurred_at: datetime
    tag: TagFacts | None  # None only for a manual registration
    origin: Origin
    clock_synced: bool
    seq: int = 0  # assigned by the outbox inside the commit transaction
    registry: RegistryFacts | None = None
    anomalies: tuple[str, ...] = field(default=())
    run: str | None = None  # the replay a simulated tap came from (``rig run``); else None
    manual: ManualFacts | None = None

    @property
    def occurred_at_text(self) -> str:
        """``occurred_at`` as stored and sent (``format_time``), formatted once per event
        (kept beside the fields; ``functools.cached_property`` takes a lock on 3.11)."""
        text: str | None = self.__dict__.get("_occurred_at_text")
        if text is None:
            text = self.__dict__["_occurred_at_text"] = format_time(self.occurred_at)
        return text

    def with_seq(self, seq: int) -> TapEvent:
        """This event with the sequence number the outbox assigned, every other field the
        same. A copy of the fields: ``dataclasses.replace`` re-runs ``__init__`` through
        field introspection, several microseconds inside every tap's write transaction."""
        stored = object.__new__(type(self))
        stored.__dict__.update(self.__dict__, seq=seq)
        return stored

    def to_dict(self) -> dict[str, Any]:
        data = {
            "schema": SCHEMA,
            "event_id": self.event_id,
            "station": self.station,
            "reader": self.reader,
            "seq": self.seq,
            "occurred_at": self.occurred_at_text,
            "clock_synced": self.clock_synced,
            "tag": self.tag.to_dict() if self.tag is not None else None,
            "registry": self.registry.to_dict() if self.registry is not None else None,
            "origin": self.origin,
            "anomalies": list(self.anomalies),
        }
        if self.run is not None:  # only simulated taps of a replay carry it
            data["run"] = self.run
        if self.manual is not None:  # only then: a tap's bytes stay as they always were
            data["manual"] = asdict(self.manual)
        return data

    def to_json(self) -> str:
        """Compact, key order fixed: the exact bytes stored, signed and sent
        (``json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)``)."""
        return _encode(self.to_dict())


def _json_encoder() -> Callable[[Any], str]:
    """``json.dumps`` with the event's options. ``json.dumps`` builds its C encoder again on
    every call, a third of a tap's serialisation; this one is built once (no circular
    reference check: an event is plain data). Outside CPython, the standard encoder."""
    options: dict[str, Any] = {"separators": (",", ":"), "ensure_ascii": False}
    standard = json.JSONEncoder(**options)
    if c_make_encoder is None:  # pragma: no cover - CPython always has it
        return standard.encode
    make = c_make_encoder(
        None, standard.default, encode_basestring, None, ":", ",", False, False, True
    )
    return lambda data: "".join(make(data, 0))


_encode = _json_encoder()


# UUIDv7 (RFC 9562): Unix milliseconds in the top 48 bits, version 7, variant 0b10, and 74
# random bits
_UUID7_RANDOM = ((1 << 80) - 1) & ~(0xF << 76) & ~(0x3 << 62)
_UUID7_MARKS = (7 << 76) | (0b10 << 62)


def new_event_id() -> str:
    """A UUIDv7: time-ordered (sorts by creation time, to the millisecond), random enough
    to be unique everywhere. Made here in a few integer operations: a library's UUID
    object, checked and then formatted, cost a tap three times as much."""
    value = time.time_ns() // 1_000_000 << 80
    value |= int.from_bytes(os.urandom(10), "big") & _UUID7_RANDOM | _UUID7_MARKS
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``: ``2026-11-24T07:58:12.345Z``."""
    return utc_iso(moment)


def now_utc() -> datetime:
    return datetime.now(UTC)


# -- clock synchronisation ----------------------------------------------------------------
_TIME_ERROR = 5  # adjtimex() result when the kernel considers the clock unsynchronised
_libc: Any = None
_timex = threading.local()  # each thread's struct timex buffer, made once


def clock_synced() -> bool:
    """Whether the kernel considers the system clock synchronised (NTP, timesyncd, chrony).

    Read-only ``adjtimex(2)`` (``modes = 0``, no privilege needed): every NTP client on
    Linux disciplines the clock through it and clears ``STA_UNSYNC`` once synchronised; the
    kernel then returns a clock state other than ``TIME_ERROR``. This is the same test
    ``timedatectl``'s "System clock synchronized" and chrony's ``waitsync`` rely on, without
    a D-Bus round trip; one syscall, cheap enough for every tap. Anything that goes wrong
    (not Linux, no libc) reports False: a backend must not trust a time we cannot vouch for.
    """
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        timex = getattr(_timex, "buffer", None)
        if timex is None:  # struct timex is 208 bytes; modes (0: only read) comes first and
            # the kernel never writes it back, so the buffer can be used again as it is
            timex = _timex.buffer = ctypes.create_string_buffer(512)
        result = int(_libc.adjtimex(timex))
    except (OSError, AttributeError):
        return False
    return 0 <= result != _TIME_ERROR


def event_from_json(text: str) -> dict[str, Any]:
    """Parse a stored payload (used by tools and tests; forwarders send the text as is)."""
    data: dict[str, Any] = json.loads(text)
    return data
