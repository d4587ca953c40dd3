"""Batch provisioning: a generator of per-tag results that the CLI draws and a daemon reports.

For each tag presented on the reader::

    registry lookup (no tag command) -> identify (GET_VERSION) -> originality (READ_SIG)
    -> blank check (FAST_READ) -> write the NDEF URI and read it back -> permanent lock in
    the order of HARDWARE.md, verified after a re-select (``Ntag21x.lock_permanently``)
    -> only then ``record_provisioned``: in_stock

Outcomes (``TagResult.outcome``):

- ``provisioned``: written, locked, verified and recorded in stock.
- ``refused``: nothing was written. Already in the registry (with its history), unsupported
  or a clone, not genuine, or not blank. Not recorded: it is not our tag.
- ``spoiled``: it failed after an OTP/lock/CFGLCK write was *sent* (acknowledged or not):
  recorded spoiled with the writes sent; it can never be used again.
- ``retry``: it failed (removed, NAK, read-back differs) before anything irreversible. When
  a page had been written, ``record_attempt`` leaves an audit row that lets the same UID,
  no longer blank, be presented again and finished; a tag removed before any write is
  untouched and needs no record.
- ``checked``: ``dry_run`` only: every check passed, nothing written.

Choices, and why:

- The originality signature is read once, before any write, so a clone is refused while it
  is still blank. It is factory data that no command can change, and the re-select after
  locking re-checks the UID, so reading it again after the lock would cost a command
  (about 20 ms on a USB reader) and prove nothing new.
- Ctrl-C (``StopControl``): between tags it stops at once. During a tag it is deferred:
  the tag is finished (about 0.1 s of air time, never a wait for the operator) and recorded,
  then the batch stops. A second Ctrl-C forces out: the tag is recorded spoiled if an
  irreversible write was sent, as an attempt otherwise, and ``BatchInterrupted`` is raised.
  Recording itself is one transaction and is shielded (only a third Ctrl-C breaks it, and
  the transaction then leaves nothing behind), so the registry is consistent whatever
  happens, and a resumed batch counts every tag once: a UID already recorded is refused.
- ``count`` is the number of provisioned tags the *batch* should hold, across resumes:
  running the same command again after an interruption finishes the job.
- A tag locked but not recordable (registry gone) is unusable: the error propagates after
  trying to record it spoiled, and the batch stops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from drivers.base import Reader, Target
from drivers.errors import NdefTooLarge, NoTag, TagError, TagLocked, TagNak
from drivers.errors import TagUnsupported as ChipUnsupported
from drivers.lockbits import LockLevel
from drivers.ntag import Ntag21x
from drivers.signature import Verdict
from provisioning.batch_token import BatchSettings, new_token, render_uri, uri_message
from provisioning.errors import ProvisioningError
from provisioning.records import BatchRecord, TagRecord
from provisioning.registry import Registry

__all__ = [
    "BatchInterrupted",
    "BatchRunner",
    "BatchSettings",
    "StopControl",
    "TagResult",
    "Tally",
    "run_batch",
]

OUTCOMES = ("provisioned", "refused", "spoiled", "retry", "checked")
KNOWN_DATE = "%Y-%m-%d"


@dataclass(frozen=True)
class TagResult:
    uid: str
    outcome: str  # one of OUTCOMES
    reason: str = ""
    product: str | None = None
    verdict: str | None = None  # originality: nxp, test-key, invalid, missing
    steps: tuple[str, ...] = ()  # what was done to the tag, in order
    elapsed: float = 0.0  # seconds from selection to the recorded outcome

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "outcome": self.outcome,
            "reason": self.reason,
            "product": self.product,
            "verdict": self.verdict,
            "steps": list(self.steps),
            "elapsed_ms": round(self.elapsed * 1000, 1),
        }


class StopControl:
    """Stop requests (Ctrl-C in the CLI, shutdown in a daemon), honoured between tags.

    ``in_tag`` is set while a tag's sequence runs, ``recording`` from the moment its
    outcome is being written until the result has been handed to the consumer; a SIGINT
    handler uses them to defer (``nfcbridge.cli.provision_cmd.deferred_sigint``)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.in_tag = False
        self.recording = False
        self.presses = 0

    def request(self) -> None:
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()


class BatchInterrupted(KeyboardInterrupt):
    """Forced out of a tag (second Ctrl-C); *result* is what was recorded for it."""

    def __init__(self, result: TagResult) -> None:
        super().__init__(f"interrupted during tag {result.uid}: {result.outcome}")
        self.result = result


@dataclass
class Tally:
    """Counts of one run, for progress bars and summaries."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    started: float = field(default_factory=time.monotonic)

    def add(self, result: TagResult) -> None:
        self.counts[result.outcome] += 1

    @property
    def tags(self) -> int:
        return sum(self.counts.values())

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    @property
    def per_minute(self) -> float:
        return 60.0 * self.tags / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.counts,
            "tags": self.tags,
            "seconds": round(self.seconds, 3),
            "tags_per_minute": round(self.per_minute, 1),
        }


class _TracedTag(Ntag21x):
    """The tag layer, remembering every page write it sent (for the spoiled record)."""

    def __init__(self, reader: Reader, target: Target) -> None:
        super().__init__(reader, target)
        self.writes: list[int] = []
        self.verdict: Verdict | None = None

    def write_page(self, page: int, data: bytes) -> None:
        self.writes.append(page)
        super().write_page(page, data)

    def write_names(self) -> list[str]:
        p = self.product
        names = {2: "static lock", 3: "CC"}
        if p is not None:
            names[p.cfg1_page] = "CFGLCK"
            if p.dynamic_lock_page is not None:
                names[p.dynamic_lock_page] = "dynamic lock"
        return [names.get(page, f"page {page}") for page in self.writes]


class _Refused(Exception):
    pass


class BatchRunner:
    """One batch run on one reader. Iterate it for per-tag results."""

    def __init__(
        self,
        reader: Reader,
        registry: Registry,
        name: str,
        *,
        operator: str,
        settings: BatchSettings | None = None,
        count: int | None = None,
        stop: StopControl | None = None,
        dry_run: bool = False,
    ) -> None:
        self.reader = reader
        self.registry = registry
        self.name = name.strip()
        self.operator = operator
        self.settings = settings or BatchSettings()
        self.count = count
        self.stop = stop or StopControl()
        self.dry_run = dry_run
        self.tally = Tally()
        self.batch: BatchRecord | None = None

    def open(self) -> BatchRecord | None:
        """Open or resume the batch (idempotent); a dry run only looks it up."""
        if self.dry_run:
            self.batch = self.registry.batch(self.name)
        else:
            self.batch = self.registry.open_batch(self.name, operator=self.operator)
        return self.batch

    def remaining(self) -> int | None:
        if self.count is None:
            return None
        done = self.batch.provisioned if self.batch else 0
        return max(0, self.count - done - self.tally.counts["provisioned"])

    # -- the loop ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[TagResult]:
        if self.batch is None:
            self.open()
        while self.remaining() != 0 and not self.stop.requested:
            target = self._wait_for_tag()
            if target is None:
                return
            try:
                result, error = self._one(target)
                self.tally.add(result)
                yield result
            finally:  # shielded until the consumer has the result (see StopControl)
                self.stop.in_tag = self.stop.recording = False
            if error is not None:
                raise error
            if self.stop.requested or self.remaining() == 0:
                return
            self._wait_for_removal()

    def _wait_for_tag(self) -> Target | None:
        deadline = time.monotonic() + self.settings.tag_timeout
        while not self.stop.requested:
            left = deadline - time.monotonic()
            try:
                return self.reader.wait_for_tag(timeout=max(0.0, min(0.25, left)))
            except NoTag:
                if left <= 0:
                    return None
        return None

    def _wait_for_removal(self) -> None:
        while not self.stop.requested and not self.reader.wait_for_removal(0.25):
            pass

    # -- one tag ----------------------------------------------------------------------------
    def _one(self, target: Target) -> tuple[TagResult, BaseException | None]:
        started = time.perf_counter()
        uid = target.uid_hex
        steps: list[str] = []
        known = self.registry.tag_status(uid)
        if known is not None:
            return self._result(uid, "refused", self._known(known), started, known.product), None
        tag = _TracedTag(self.reader, target)
        self.stop.in_tag = True
        try:
            try:
                verdict, retrying = self._check(tag, steps)
            except _Refused as refusal:
                return self._result(uid, "refused", str(refusal), started, tag, steps), None
            if self.dry_run:
                return self._result(uid, "checked", "ready", started, tag, steps), None
            token = new_token(self.settings.token_bytes)
            message = uri_message(render_uri(self.settings.uri_template, token))
            tag.write_ndef(message)
            steps.append("written")
            after = tag.lock_permanently(expected_message=message)
            steps.append("locked")
            if after.level is not LockLevel.LOCKED or tag.read_ndef().message != message:
                raise TagError(f"tag {uid}: lock or content not as written after re-select")
            steps.append("verified")
            details = {"verdict": verdict.value, "retried": retrying}
            self.stop.recording = True
            assert tag.product is not None
            self.registry.record_provisioned(
                uid, tag.product.name, token, self.name, self.operator, details
            )
            steps.append("recorded")
            note = "retried an earlier attempt" if retrying else ""
            return self._result(uid, "provisioned", note, started, tag, steps), None
        except NdefTooLarge:
            raise  # the template does not fit this product: configuration, stop the batch
        except (Exception, KeyboardInterrupt) as exc:  # record what was done, then decide
            result = self._failed(tag, exc, started, steps)
            if isinstance(exc, KeyboardInterrupt):
                return result, BatchInterrupted(result)
            if isinstance(exc, TagError):
                return result, None
            return result, exc

    def _check(self, tag: _TracedTag, steps: list[str]) -> tuple[Verdict, bool]:
        """The read-only checks; ``_Refused`` says why a tag is not taken."""
        try:
            product = tag.identify()
        except ChipUnsupported as exc:
            raise _Refused(f"unsupported or clone: {exc}") from None
        steps.append("identified")
        if not product.is_ntag or not product.has_cfglck or product.dynamic_lock_page is None:
            raise _Refused(f"unsupported product {product.name}: receipt tags are NTAG21x")
        verdict = tag.verdict = tag.originality()
        steps.append("signature")
        if why := self._signature_refusal(verdict):
            raise _Refused(why)
        try:
            if tag.is_blank():
                steps.append("blank")
                return verdict, False
            if self._may_retry(tag):
                steps.append("retry")
                return verdict, True
        except (TagNak, TagLocked) as exc:
            raise _Refused(f"not blank: {exc}") from None
        raise _Refused("not blank (written, locked or configured before), and no earlier attempt")

    def _signature_refusal(self, verdict: Verdict) -> str | None:
        if verdict is Verdict.NXP:
            return None
        if verdict is Verdict.TEST_KEY:
            if self.reader.url.scheme == "mock" or self.settings.accept_test_signatures:
                return None
            return "signed with the emulator test key on a real reader: a clone"
        if not self.settings.require_genuine:
            return None
        return f"not genuine: originality signature {verdict.value}"

    def _may_retry(self, tag: _TracedTag) -> bool:
        """A tag that an earlier attempt of ours wrote to, with nothing irreversible sent
        (per the registry) and nothing irreversible on the chip either."""
        history = self.registry.history(tag.uid)
        last = history[-1] if history else None
        if last is None or last.action != "tag.attempt_failed" or last.details.get("irreversible"):
            return False
        p = tag.identify()
        lock = tag.lock_state()
        return (
            lock.level is LockLevel.UNLOCKED
            and lock.cc == p.factory_cc
            and lock.auth0 is not None
            and lock.auth0 >= p.pages
            and lock.cfg0 is not None
            and not lock.cfg0[0] & 0xC0
            and lock.cfg1 is not None
            and lock.cfg1[0] == 0
        )

    def _failed(
        self,
        tag: _TracedTag,
        exc: BaseException,
        started: float,
        steps: list[str],
    ) -> TagResult:
        """Record what a failure left: spoiled after anything irreversible, an attempt after
        any write, nothing for an untouched tag."""
        what = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else str(exc)
        what = what or type(exc).__name__
        writes = tag.write_names()
        details = {
            "product": tag.product.name if tag.product else None,
            "irreversible": tag.irreversible_attempted,
            "writes_sent": writes,
            "steps": list(steps),
        }
        self.stop.recording = True
        try:
            if tag.irreversible_attempted:
                self.registry.record_spoiled(tag.uid, self.name, self.operator, what, details)
                outcome, why = "spoiled", f"{what}; sent: {', '.join(writes)}"
            else:
                if writes:
                    self.registry.record_attempt(tag.uid, self.name, self.operator, details)
                outcome, why = "retry", f"{what}; nothing irreversible, present it again"
        except ProvisioningError as record_error:
            if isinstance(exc, ProvisioningError):
                raise exc from record_error
            raise
        return self._result(tag.uid_hex, outcome, why, started, tag, steps)

    @staticmethod
    def _known(record: TagRecord) -> str:
        """Why a UID already in the registry is refused, from its history."""
        day = record.created_at.strftime(KNOWN_DATE)
        batch = f"batch {record.batch}" if record.batch else "the registry"
        if record.state == "spoiled":
            return f"spoiled in {batch} on {day}: never usable again"
        if record.state == "retired":
            ended = record.ended_at.strftime(KNOWN_DATE) if record.ended_at else "?"
            return f"retired on {ended} (provisioned in {batch} on {day})"
        where = {"issued": f", now issued to {record.provider}", "active": ", now on a door"}
        return f"already provisioned in {batch} on {day}{where.get(record.state, '')}"

    def _result(
        self,
        uid: str,
        outcome: str,
        reason: str,
        started: float,
        tag: _TracedTag | str | None = None,
        steps: list[str] | None = None,
    ) -> TagResult:
        self.stop.recording = True  # from here the outcome stands: shield it until yielded
        product = tag.product.name if isinstance(tag, _TracedTag) and tag.product else tag
        verdict = tag.verdict if isinstance(tag, _TracedTag) else None
        return TagResult(
            uid=uid,
            outcome=outcome,
            reason=reason,
            product=product if isinstance(product, str) else None,
            verdict=verdict.value if verdict else None,
            steps=tuple(steps or ()),
            elapsed=time.perf_counter() - started,
        )


def run_batch(
    reader: Reader,
    registry: Registry,
    name: str,
    *,
    operator: str,
    count: int | None = None,
    settings: BatchSettings | None = None,
    stop: StopControl | None = None,
    dry_run: bool = False,
) -> Iterator[TagResult]:
    """Open or resume batch *name* and provision the tags presented on *reader*, yielding
    one ``TagResult`` per tag, until the batch holds *count* provisioned tags, no tag comes
    within ``settings.tag_timeout``, or *stop* is requested."""
    runner = BatchRunner(
        reader,
        registry,
        name,
        operator=operator,
        settings=settings,
        count=count,
        stop=stop,
        dry_run=dry_run,
    )
    runner.open()
    return iter(runner)
