"""The provisioning progress display: a tqdm bar on a terminal, plain lines otherwise.

The bar counts the *batch*, not the run: resuming a batch of 2000 that holds 322 tags
starts at 322/2000. Tags that were not provisioned (refused, spoiled, retry) and the
reader's "put a tag on" / "take the tag off" notices are printed as lines above the bar;
without a terminal (logs, pipes, tests) every tag and notice is one plain line.
"""

from __future__ import annotations

import os
from contextlib import suppress
from typing import IO, TYPE_CHECKING

from tqdm import tqdm

if TYPE_CHECKING:
    from provisioning.batch import BatchRunner
    from provisioning.batch_results import TagResult


class Progress:
    def __init__(self, stream: IO[str], runner: BatchRunner) -> None:
        self.stream = stream
        self.runner = runner
        self.done = 0 if runner.dry_run or runner.batch is None else runner.batch.provisioned
        self.total = None if runner.dry_run else runner.count
        self.bar: tqdm[None] | None = None
        if stream.isatty():
            self.bar = tqdm(
                file=stream,
                total=self.total,
                initial=self.done,
                unit="tag",
                desc="checked" if runner.dry_run else f"batch {runner.name}",
                dynamic_ncols=True,
                smoothing=0.1,
            )

    def tag(self, result: TagResult) -> None:
        counted = result.outcome == ("checked" if self.runner.dry_run else "provisioned")
        self.done += counted
        if self.bar is None:
            self._line(f"{tag_line(result)} {self._count()}")
            return
        if not counted:
            self.bar.write(tag_line(result), file=self.stream)
        c = self.runner.tally.counts
        self.bar.set_postfix_str(
            f"{c['refused']} refused, {c['spoiled']} spoiled, {c['retry']} retry", refresh=False
        )
        self.bar.update(int(counted))

    def say(self, text: str) -> None:
        """A notice between tags (what the reader waits for)."""
        if self.bar is None:
            self._line(text)
        else:
            self.bar.write(text, file=self.stream)

    def notice(self, text: str) -> None:
        """From a signal handler: one unbuffered write (a buffered stream written to while
        the interrupted code is inside its own write raises a reentrancy error)."""
        prefix = "\n" if self.bar is not None else ""
        with suppress(OSError, ValueError):  # no real descriptor (captured output): skip
            os.write(self.stream.fileno(), (prefix + text + "\n").encode())

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def _count(self) -> str:
        what = "so far" if self.runner.dry_run else "in the batch"
        return f"[{self.done}/{self.total} {what}]" if self.total else f"[{self.done} {what}]"

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


def tag_line(result: TagResult) -> str:
    product = f" {result.product}" if result.product else ""
    reason = ": ".join(part for part in (result.advice, result.reason) if part)
    reason = f": {reason}" if reason else ""
    return f"{result.outcome:<11} {result.uid}{product}{reason} ({result.elapsed * 1000:.0f} ms)"
