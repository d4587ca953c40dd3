"""``nfcbridge provision``: write, lock and record a roll of tags, with a live progress bar.

Locking is permanent, so the command refuses to run without ``--yes``; ``--dry-run`` checks
each tag (registry, chip, originality signature, blank) and writes nothing, not even the
batch. There is no "write but do not lock" mode: a tag that is not locked must never be in
stock, and a written tag is no longer blank.

Ctrl-C between tags stops at once. During a tag the first Ctrl-C lets the tag finish and
be recorded (a fraction of a second), then stops; a second one forces out and the tag is
recorded spoiled or as a failed attempt (``provisioning.batch_stop``). Either way the summary is
printed and the exit code is 130; run the same command again to resume the batch.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app
from nfcbridge.cli.params import reader_option
from nfcbridge.cli.progress import Progress
from nfcbridge.errors import BatchIncomplete, ConfigError, ConfirmationRequired, Interrupted

if TYPE_CHECKING:
    from drivers.url import ReaderURL
    from provisioning.batch import BatchRunner
    from provisioning.batch_results import TagResult
    from provisioning.batch_stop import StopControl


@click.command("provision", short_help="Provision a roll of tags (write, lock, record).")
@reader_option
@click.option(
    "--batch", "batch_name", required=True, help="Batch name (the roll); reuse it to resume."
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    help="Stop when the batch holds N provisioned tags (counted across resumes).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    help="Stop after S seconds without a tag (default [provisioning] tag_timeout).",
)
@click.option("--yes", is_flag=True, help="Confirm: every tag is locked read-only forever.")
@click.option("--dry-run", is_flag=True, help="Only check each tag; write and record nothing.")
@json_option
@pass_app
def provision(
    app: AppContext,
    reader_url: ReaderURL,
    batch_name: str,
    count: int | None,
    timeout: float | None,
    yes: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Provision tags presented one after another: check, write an NDEF URI with a random
    token, lock permanently, verify after re-select, record in stock."""
    from drivers import open_reader
    from nfcbridge.cli.registry_access import open_registry
    from provisioning.batch import BatchRunner, BatchSettings
    from provisioning.batch_stop import StopControl

    if not yes and not dry_run:
        raise ConfirmationRequired(
            "provisioning writes and permanently locks every tag presented on "
            f"{reader_url} (read-only forever, configuration frozen) and records it in batch "
            f"{batch_name!r}: add --yes to confirm, or --dry-run to only check the tags"
        )
    try:
        settings = BatchSettings.from_settings(app.settings.provisioning, tag_timeout=timeout)
    except ValueError as exc:
        raise ConfigError(str(exc), file=app.settings.source, key="provisioning") from None
    stop = StopControl()
    with open_registry(app) as registry, open_reader(reader_url) as reader:
        runner = BatchRunner(
            reader,
            registry,
            batch_name,
            operator=app.operator,
            settings=settings,
            count=count,
            stop=stop,
            dry_run=dry_run,
        )
        before = runner.open()
        _announce(runner, reader_url)
        progress = Progress(sys.stderr, runner)
        runner.on_wait = progress.say
        results: list[TagResult] = []
        interrupted = False
        try:
            with deferred_sigint(stop, progress.notice):
                for result in runner:
                    results.append(result)
                    progress.tag(result)
        except KeyboardInterrupt:  # a forced-out tag's result was yielded before this
            interrupted = True
        finally:
            progress.close()
        interrupted = interrupted or stop.requested
        after = registry.batch(runner.name)
    summary = _summary(runner, results, interrupted, before is not None, after)
    emit(summary, as_json, _human(summary))
    if interrupted:
        done = after.provisioned if after is not None else 0
        raise Interrupted(f"batch {runner.name} stopped at {done} provisioned tags")
    if runner.tag_left:
        raise BatchIncomplete(  # exit 5, like a reader left without a tag
            f"batch {runner.name}: a tag stayed on the reader for {settings.tag_timeout:g} s; "
            "take it off and run the same command again to go on"
        )
    if count and not dry_run and (after.provisioned if after else 0) < count:
        raise BatchIncomplete(  # exit 5: scripts see the roll is not done
            f"batch {runner.name} holds {after.provisioned if after else 0} of {count} tags: "
            f"no tag presented "
            f"within {settings.tag_timeout:g} s; run the same command again to go on"
        )


@contextmanager
def deferred_sigint(stop: StopControl, notice: Any) -> Iterator[None]:
    """SIGINT stops at once between tags, is deferred while a tag is in progress (a second
    press forces out) and while its outcome is recorded (a third press forces out)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum: int, frame: Any) -> None:
        stop.presses += 1
        first = not stop.requested
        stop.request()
        if not stop.in_tag or (not stop.recording and not first) or stop.presses >= 3:
            raise KeyboardInterrupt
        if first:
            notice("stopping after this tag (Ctrl-C again to force)")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _announce(runner: BatchRunner, url: ReaderURL) -> None:
    b = runner.batch
    if runner.dry_run:
        head = f"dry run on batch {runner.name}: nothing is written"
    elif b is not None and b.resumed:
        head = (
            f"resuming batch {b.name}: {b.provisioned} provisioned, {b.spoiled} spoiled, "
            f"{b.attempts} failed attempts so far"
        )
    else:
        head = f"new batch {runner.name}"
    left = runner.remaining()
    todo = "" if left is None else f"; {left} to go"
    click.echo(f"{head}{todo}. Present tags on {url}; Ctrl-C stops.", err=True)


def _summary(
    runner: BatchRunner, results: list[TagResult], interrupted: bool, existed: bool, after: Any
) -> dict[str, Any]:
    totals = None
    if after is not None:
        totals = {k: getattr(after, k) for k in ("provisioned", "spoiled", "attempts")}
    return {
        "batch": runner.name,
        "dry_run": runner.dry_run,
        "resumed": bool(existed and runner.batch is not None and runner.batch.resumed),
        "interrupted": interrupted,
        "target": runner.count,
        "run": runner.tally.as_dict(),
        "batch_totals": totals,
        "tags": [r.to_dict() for r in results],
    }


def _human(summary: dict[str, Any]) -> str:
    run = summary["run"]
    first = "checked" if summary["dry_run"] else "provisioned"
    line = (
        f"batch {summary['batch']}: {run[first]} {first}, {run['refused']} refused, "
        f"{run['spoiled']} spoiled, {run['retry']} retry in {run['seconds']:.1f} s "
        f"({run['tags_per_minute']:.1f} tags/min)"
    )
    totals = summary["batch_totals"]
    if totals is not None:
        line += (
            f"\nbatch total: {totals['provisioned']} provisioned, {totals['spoiled']} spoiled, "
            f"{totals['attempts']} failed attempts"
        )
        if summary["target"] is not None:
            line += f" (target {summary['target']})"
    elif not summary["dry_run"]:
        line += f"\nnothing recorded: batch {summary['batch']} was not created"
    if summary["interrupted"]:
        line += f"\ninterrupted: run the same command again to resume batch {summary['batch']}"
    return line
