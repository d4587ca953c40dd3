"""Batch provisioning: a generator of per-tag results that the CLI draws and a daemon reports.

For each tag presented on the reader::

    registry lookup (no tag command) -> identify (GET_VERSION) -> originality (READ_SIG)
    -> blank check (FAST_READ) -> write the NDEF URI and read it back -> permanent lock in
    the order of docs/hardware.md, verified after a re-select (``Ntag21x.lock_permanently``)
    -> only then ``record_provisioned``: in_stock

The parts: the read-only checks before any write (``provisioning.batch_checks``), the
results and their outcomes (``provisioning.batch_results``), stopping on Ctrl-C without
losing a tag (``provisioning.batch_stop``), and here the loop and the writes.

Choices, and why:

- A failure after an OTP/lock/CFGLCK write was *sent* (acknowledged or not) spoils the tag;
  one before anything irreversible leaves it to be presented again (``retry``).
- ``count`` is the number of provisioned tags the *batch* should hold, across resumes:
  running the same command again after an interruption finishes the job.
- A tag locked but not recordable (registry gone) is unusable: the error propagates after
  trying to record it spoiled, and the batch stops.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace

from drivers.base import Reader, Target
from drivers.errors import NdefTooLarge, NoTag, TagError, TagGone
from drivers.lockbits import LockLevel
from provisioning.batch_checks import Refused, TracedTag, check_tag, known_refusal
from provisioning.batch_results import TagResult, Tally
from provisioning.batch_stop import BatchInterrupted, StopControl
from provisioning.batch_token import (
    BatchSettings,
    ndef_digest,
    new_token,
    render_uri,
    uri_message,
)
from provisioning.errors import ProvisioningError
from provisioning.intake import check_batch_name
from provisioning.records import BatchRecord
from provisioning.registry import Registry

__all__ = ["BatchRunner", "BatchSettings", "run_batch"]


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
        self.on_wait: Callable[[str], None] = lambda _what: None  # "put a tag on ..." notices
        self.tag_left = False  # the run ended because a tag stayed on the reader
        self._created = False  # the batch row exists (opened by our first record)

    def open(self) -> BatchRecord | None:
        """Look up the batch to resume (None: a new one). A new batch is created only when
        its first tag is recorded, so a run that records nothing (every tag refused, or no
        tag at all) leaves no empty batch behind."""
        check_batch_name(self.name)
        found = self.registry.batch(self.name)
        self.batch = None if found is None else replace(found, resumed=True)
        return self.batch

    def _ensure_batch(self) -> None:
        if not self._created:
            self.registry.open_batch(self.name, operator=self.operator)
            self._created = True

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
            if not self._wait_for_removal():
                return

    def _wait_for_tag(self) -> Target | None:
        """The next tag, or None after ``tag_timeout`` seconds without one (or a stop)."""
        deadline = time.monotonic() + self.settings.tag_timeout
        told = False
        while not self.stop.requested:
            left = deadline - time.monotonic()
            try:
                return self.reader.wait_for_tag(timeout=max(0.0, min(0.25, left)))
            except NoTag:
                if left <= 0:
                    return None
                if not told:
                    self.on_wait(f"put the next tag on the reader ({self._seconds()})")
                    told = True
        return None

    def _wait_for_removal(self) -> bool:
        """Until the tag is taken off; False (and ``tag_left``) after ``tag_timeout``."""
        deadline = time.monotonic() + self.settings.tag_timeout
        told = False
        while not self.stop.requested and not self.reader.wait_for_removal(0.25):
            if time.monotonic() >= deadline:
                self.tag_left = True
                return False
            if not told:
                self.on_wait(f"take the tag off the reader ({self._seconds()})")
                told = True
        return True

    def _seconds(self) -> str:
        return f"waiting up to {self.settings.tag_timeout:g} s"

    # -- one tag ----------------------------------------------------------------------------
    def _one(self, target: Target) -> tuple[TagResult, BaseException | None]:
        started = time.perf_counter()
        uid = target.uid_hex
        steps: list[str] = []
        known = self.registry.tag_status(uid)
        if known is not None:
            return self._result(uid, "refused", known_refusal(known), started, known.product), None
        tag = TracedTag(self.reader, target)
        self.stop.in_tag = True
        try:
            try:
                verdict, retrying = check_tag(
                    tag,
                    steps,
                    registry=self.registry,
                    settings=self.settings,
                    on_mock=self.reader.url.scheme == "mock",
                )
            except Refused as refusal:
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
            self._ensure_batch()
            self.registry.record_provisioned(
                uid,
                tag.product.name,
                token,
                self.name,
                self.operator,
                details,
                ndef_sha256=ndef_digest(message),
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

    def _failed(
        self,
        tag: TracedTag,
        exc: BaseException,
        started: float,
        steps: list[str],
    ) -> TagResult:
        """Record what a failure left: spoiled after anything irreversible, an attempt after
        any write, nothing for an untouched tag."""
        if isinstance(exc, KeyboardInterrupt):
            what = "interrupted (Ctrl-C)"
        elif isinstance(exc, TagGone):
            what = "the tag left the reader mid-way (taken off too early?)"
        else:
            what = str(exc) or type(exc).__name__
        writes = tag.write_names()
        details = {
            "product": tag.product.name if tag.product else None,
            "irreversible": tag.irreversible_attempted,
            "writes_sent": writes,
            "steps": list(steps),
            "error": what,
        }
        self.stop.recording = True
        try:
            if tag.irreversible_attempted:
                self._ensure_batch()
                self.registry.record_spoiled(tag.uid, self.name, self.operator, what, details)
                outcome, why = "spoiled", f"its permanent lock had begun when {_lower(what)}"
            else:
                if writes:
                    self._ensure_batch()
                    self.registry.record_attempt(tag.uid, self.name, self.operator, details)
                outcome, why = "retry", f"{what}; nothing irreversible was written"
        except ProvisioningError as record_error:
            if isinstance(exc, ProvisioningError):
                raise exc from record_error
            raise
        return self._result(tag.uid_hex, outcome, why, started, tag, steps, writes)

    def _result(
        self,
        uid: str,
        outcome: str,
        reason: str,
        started: float,
        tag: TracedTag | str | None = None,
        steps: list[str] | None = None,
        writes: list[str] | None = None,
    ) -> TagResult:
        self.stop.recording = True  # from here the outcome stands: shield it until yielded
        product = tag.product.name if isinstance(tag, TracedTag) and tag.product else tag
        verdict = tag.verdict if isinstance(tag, TracedTag) else None
        return TagResult(
            uid=uid,
            outcome=outcome,
            reason=reason,
            product=product if isinstance(product, str) else None,
            verdict=verdict.value if verdict else None,
            steps=tuple(steps or ()),
            elapsed=time.perf_counter() - started,
            writes=tuple(writes or ()),
        )


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


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
