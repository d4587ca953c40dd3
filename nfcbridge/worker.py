"""One supervised thread per reader.

The reader libraries block, so each reader gets a thread. The thread never dies of an
exception: everything is caught, logged and counted. A reader that disappears
(``ReaderGone``, or any ``ReaderError`` while opening) is closed and re-opened with
exponential backoff while the other readers go on; the daemon is never restarted for it.

Loop: poll -> tag seen -> debounce -> pipeline.tap (commit) -> signal -> wait for removal.
An idle worker blocks in ``reader.wait_for_tag`` for at most ``idle_wait`` seconds at a
time (the driver polls at its own pace; the mock reader sleeps until its bench changes, so
a rig's hundred idle phones cost no CPU), then checks whether it should stop.

Time stamps: ``occurred_at`` is the station clock's, taken when the tag is seen. The one
exception is a simulated tap with a moment given through the control channel
(``stamp_next``, used by scenario replays): honoured only when this worker's origin is
``simulated`` (a mock reader), so a real reader's time can never be set from outside.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from drivers import table
from drivers.base import Capability, Reader, Target
from drivers.errors import NfcError, ReaderError, TagError
from nfcbridge.config import ReaderSettings
from nfcbridge.events import Origin, TapEvent, now_utc
from nfcbridge.outbox import OutboxError
from nfcbridge.pipeline import TapPipeline
from nfcbridge.seams import ReaderMetrics
from nfcbridge.tap_checks import NOT_READ, check_signature

log = logging.getLogger("nfcbridge.worker")

SIMULATED_SCHEMES = frozenset({"mock"})
# Emulators that look like real readers to their drivers: pcscd's virtual reader (vpcd, any
# program on the network may play the card), and a PN532 emulated on a pseudo-terminal.
EMULATOR_NAMES = ("virtual pcd", "vpcd", "/dev/pts/", "tty:pts/")


def origin_for(url: str, reader_name: str = "", configured: str = "auto") -> Origin:
    """Decided by the reader's driver, never by the input: a mock reader's taps are always
    simulated, so a test rig can never pass for a real door. A reader whose URL or opened
    name (*reader_name*, e.g. the PC/SC name) is an emulator's is simulated unless the
    configuration says ``origin = "reader"``; ``origin = "simulated"`` marks any reader."""
    if table.parse(url).scheme in SIMULATED_SCHEMES or configured == "simulated":
        return "simulated"
    if configured == "reader":
        return "reader"
    seen = f"{url} {reader_name}".lower()
    return "simulated" if any(name in seen for name in EMULATOR_NAMES) else "reader"


@dataclass
class ReaderHealth:
    name: str
    url: str
    state: str = "starting"  # starting | ok | reconnecting | stopped
    taps: int = 0
    errors: int = 0
    reopens: int = 0
    last_tap_at: float | None = None
    last_error: str | None = None
    since: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Presentation:
    """What became of one presentation: ``event`` when a tap was committed; ``error`` (why)
    when a tap was NOT stored; neither when it was merged into the previous presentation
    (re-tap window)."""

    uid: str
    event: TapEvent | None = None
    error: str | None = None


def read_sun(reader: Reader, target: Target) -> dict[str, Any] | None:
    """The SUN message of an ISO-DEP tag (NTAG 424 DNA): its NDEF URL, read in a few APDUs.

    None for other tags, or when the read fails (the tap is still committed; a tag the
    registry knows as SUN-capable then gets the ``sun_missing`` anomaly)."""
    if not target.iso_dep or Capability.ISO_DEP not in reader.capabilities:
        return None
    from drivers.ntag424 import Ntag424

    try:
        return {"url": Ntag424(reader.transceive_apdu).read_ndef_uri()}
    except NfcError as exc:
        log.warning("tap of %s: SUN message not read: %s", target.uid_hex, exc)
        return None


class ReaderWorker(threading.Thread):
    def __init__(
        self,
        settings: ReaderSettings,
        pipeline: TapPipeline,
        *,
        metrics: ReaderMetrics | None = None,
        min_backoff: float = 0.2,
        max_backoff: float = 30.0,
        removal_poll: float = 0.05,
        idle_wait: float = 0.2,
    ) -> None:
        super().__init__(name=f"reader-{settings.name}", daemon=True)
        self.settings = settings
        self.pipeline = pipeline
        self.metrics = metrics
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.removal_poll = removal_poll
        self.idle_wait = idle_wait
        self.origin = origin_for(settings.url, configured=settings.origin)
        self.health = ReaderHealth(settings.name, settings.url, since=time.time())
        self.stopping = threading.Event()
        self.field_empty = threading.Event()  # set whenever a poll found no tag
        self.reader: Reader | None = None
        # told after each presentation (committed, merged, or not stored and why)
        self.presentation_listeners: list[Callable[[Presentation], None]] = []
        # (uid, moment, replay run) for the next tap of a simulated reader
        self._stamp: tuple[str, datetime | None, str | None] | None = None
        self._stamp_lock = threading.Lock()

    def stop(self, *, drain: bool = False) -> None:
        """No new taps after the current presentation (a ``Service``: nothing to drain)."""
        self.stopping.set()

    def healthy(self) -> bool:
        return self.is_alive()

    def stamp_next(self, uid: str, moment: datetime | None, run: str | None = None) -> None:
        """The next tap of *uid* on this reader occurred at *moment* (None: the station
        clock) in replay *run*; both None: forget it.

        Ignored unless this reader's taps are simulated: a real reader's occurred_at always
        comes from the station clock."""
        wanted = (moment or run) and self.origin == "simulated"
        with self._stamp_lock:
            self._stamp = (uid.upper(), moment, run) if wanted else None

    def _take_stamp(self, uid: str) -> datetime | None:
        return self._take_stamp_and_run(uid)[0]

    def _take_stamp_and_run(self, uid: str) -> tuple[datetime | None, str | None]:
        """The stamp for this tap of *uid*, once: (moment, run), or (None, None)."""
        with self._stamp_lock:
            stamp, self._stamp = self._stamp, None
        if stamp is None or stamp[0] != uid.upper() or self.origin != "simulated":
            return None, None
        return stamp[1], stamp[2]

    # -- supervision ----------------------------------------------------------------------
    def run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                self.reader = table.make_reader(self.settings.url)
                self.reader.open()
                opened_as = str(getattr(self.reader, "reader_name", "") or "")
                self.origin = origin_for(self.settings.url, opened_as, self.settings.origin)
                if failures or self.health.state == "reconnecting":
                    log.info("reader %s recovered", self.settings.name)
                self._set_state("ok")
                self.health.last_error = None  # recovered: the error is history (counted)
                failures = 0
                self._serve(self.reader)
            except Exception as exc:  # the supervisor never dies
                self.health.errors += 1
                self.health.last_error = f"{type(exc).__name__}: {exc}"
                if self.metrics is not None:
                    self.metrics.reader_error(self.settings.name)
                if isinstance(exc, ReaderError):
                    log.warning("reader %s lost: %s", self.settings.name, exc)
                else:
                    log.exception("reader %s worker error", self.settings.name)
            finally:
                if self.reader is not None:
                    self.reader.close()
                    self.reader = None
            if self.stopping.is_set():
                break
            failures += 1
            self.health.reopens += 1
            self._set_state("reconnecting")
            if self.metrics is not None:
                self.metrics.reader_reopen(self.settings.name)
            cap = min(self.max_backoff, self.min_backoff * 2 ** min(failures, 16))
            self.stopping.wait(random.uniform(cap / 2, cap))
        self._set_state("stopped")

    def _set_state(self, state: str) -> None:
        if self.health.state != state:
            self.health.state = state
            self.health.since = time.time()
        if self.metrics is not None:
            self.metrics.reader_up(self.settings.name, state == "ok")

    # -- one open reader ------------------------------------------------------------------
    def _serve(self, reader: Reader) -> None:
        name = self.settings.name
        while not self.stopping.is_set():
            try:
                target = reader.poll()
            except TagError:
                target = None  # a tag leaving during anticollision is just no tag
            if target is None:
                self.field_empty.set()
                target = self._await_tag(reader)
                if target is None:
                    continue
            self.field_empty.clear()
            uid = target.uid_hex
            try:
                self._presentation(reader, target, uid)
            finally:
                # also when the reader fails while the tag is held: the presentation ends
                # here, or the next tap of this UID, however much later, would be merged
                self.pipeline.debouncer.ended(name, uid)
                self.field_empty.set()

    def _presentation(self, reader: Reader, target: Target, uid: str) -> None:
        if self.pipeline.debouncer.is_new_tap(self.settings.name, uid, self.settings.retap_window):
            outcome = self._tap(reader, target, uid)
        else:
            outcome = Presentation(uid)
        for listener in list(self.presentation_listeners):
            try:
                listener(outcome)
            except Exception:
                log.exception("presentation listener failed")
        self._wait_for_removal(reader, target.uid)

    def _await_tag(self, reader: Reader) -> Target | None:
        try:
            return reader.wait_for_tag(timeout=self.idle_wait)
        except TagError:  # NoTag: nothing within idle_wait; or a tag leaving mid-anticollision
            return None

    def _tap(self, reader: Reader, target: Target, uid: str) -> Presentation:
        started = time.monotonic()
        seen_at = now_utc()
        moment, run = self._take_stamp_and_run(uid)
        checked = NOT_READ
        sun = read_sun(reader, target)  # SUN tags (ISO-DEP): the message proves the chip
        if self.settings.check_signature and not target.iso_dep:
            checked = check_signature(reader, target, self.origin)
        try:
            event = self.pipeline.tap(
                self.settings.name,
                uid,
                self.origin,
                occurred_at=moment,
                seen_at=seen_at,
                product=checked.product,
                genuine=checked.genuine,
                signature=checked.signature,
                run=run,
                sun=sun,
            )
        except OutboxError as exc:
            self._signal(reader, False)
            self.health.errors += 1
            self.health.last_error = str(exc)
            log.error("tap on %s NOT stored (not acknowledged): %s", self.settings.name, exc)
            return Presentation(uid, error=str(exc))
        took = time.monotonic() - started
        # the person hears the answer first; the bookkeeping and the log line (a JSON line
        # at the default level, about 0.1 ms) come after it
        self._signal(reader, True)
        self.health.taps += 1
        self.health.last_tap_at = time.time()
        self.health.last_error = None
        if self.metrics is not None:
            self.metrics.tap_committed(self.settings.name, self.origin, took)
        log.info(
            "tap committed: reader %s seq %d event %s",
            self.settings.name,
            event.seq,
            event.event_id,
        )
        return Presentation(uid, event)

    def _signal(self, reader: Reader, ok: bool) -> None:
        if not self.settings.signal:
            return
        try:
            reader.signal(ok)
        except NfcError as exc:  # a failed beep must not turn into a lost reader loop
            log.warning("reader %s could not signal: %s", self.settings.name, exc)

    def _wait_for_removal(self, reader: Reader, presented: bytes) -> None:
        """Until the tag leaves, or another tag is found in its place (swapped faster than
        a poll: that is a new presentation, handled by the next round of ``_serve``)."""
        while not self.stopping.is_set():
            try:
                if reader.wait_for_removal(timeout=self.removal_poll, uid=presented):
                    return
            except TagError:
                return
