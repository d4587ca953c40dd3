"""``nfcbridge demo``: the README's first command. The work is in ``nfcbridge.demo``; this
module picks the directory, prints the steps for a newcomer (or one JSON document), cleans
up, and turns a report that differs from the scenario into exit code 10."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app

TITLES = {
    "provision": "1. provision",
    "registry": "2. registry",
    "scenario": "3. scenario",
    "start": "4. start",
    "replay": "5. replay",
    "delivery": "6. delivery",
}
INDENT = 14


@click.command("demo", short_help="The whole path on this machine, in seconds.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    help="Work in this new or empty directory (default: a fresh temporary one).",
)
@click.option("--keep", is_flag=True, help="Keep the files (config, registry, outbox, ...).")
@click.option(
    "--customers",
    type=click.IntRange(3, 100),
    default=8,
    show_default=True,
    help="Tags to provision and customers to visit.",
)
@json_option
@pass_app
def demo(app: AppContext, directory: str | None, keep: bool, customers: int, as_json: bool) -> None:
    """See the whole path work on this machine, in well under a minute.

    \b
    Provisions a roll of emulated NTAG213 tags into a registry, hands them to a provider
    and puts one on each customer's door, then replays a morning of door taps (with a
    double-staffed visit, a missed end tap and an unknown tag) through the daemon to the
    reference webhook receiver, and checks the receiver's report against the scenario.
    Nothing needs a server or a reader; everything runs on 127.0.0.1 in one directory
    and is stopped at the end. Exit 0 when the report matches, 10 when it does not.
    """
    from nfcbridge.demo import Demo
    from nfcbridge.errors import VerificationFailed

    work, created = _workdir(directory)

    def say(step: str, line: str) -> None:
        if not as_json:
            title = TITLES.get(step, step).ljust(INDENT)
            wrapped = textwrap.wrap(line, 100 - INDENT) or [""]
            click.echo(title + wrapped[0])
            for more in wrapped[1:]:
                click.echo(" " * INDENT + more)

    if not as_json:
        click.echo(f"nfcbridge demo: tags, registry, daemon and receiver in {work}\n")
    runner = Demo(work, customers, app.operator, say)
    try:
        result = runner.run()
    except BaseException:
        where = _finish(work, created, keep)
        if not as_json:
            click.echo(where)
        raise
    where = _finish(work, created, keep)
    if as_json:
        emit(
            {
                "ok": result.ok,
                "directory": str(work),
                "kept": keep,
                "seconds": result.seconds,
                "steps": result.steps,
                "differences": result.differences,
                "report": result.report,
            },
            True,
        )
    else:
        _print_outcome(result)
        click.echo(where)
    if not result.ok:
        raise VerificationFailed(
            "the receiver's report differs from the scenario: "
            + (result.differences[0] if result.differences else "no report")
        )


def _print_outcome(result: Any) -> None:
    from nfcbridge.receiver.report import render_text

    click.echo("\nthe receiver's report:")
    for line in render_text(result.report).splitlines():
        click.echo(("    " + line).rstrip())
    if result.ok:
        click.echo(
            "\nagainst the scenario's ground truth: EQUAL (every visit, durations within 1 s, "
            "the double staffing, the missed end tap and the unknown tag, nothing extra)"
        )
    else:
        click.echo(f"\nagainst the scenario's ground truth: {len(result.differences)} differences")
        for line in result.differences[:20]:
            click.echo("    " + line)
    click.echo(f"done in {result.seconds:.1f} s")


def _workdir(directory: str | None) -> tuple[Path, bool]:
    """The directory to work in, and whether we created it (then we remove it whole)."""
    import tempfile

    if directory is None:
        return Path(tempfile.mkdtemp(prefix="nfcbridge-demo-")), True
    path = Path(directory).absolute()
    if path.exists():
        if any(path.iterdir()):
            raise click.BadParameter(
                f"{path} is not empty (the demo only writes into a new or empty directory)",
                param_hint="--dir",
            )
        return path, False
    path.mkdir(parents=True)
    return path, True


def _finish(work: Path, created: bool, keep: bool) -> str:
    import shutil

    if keep:
        return (
            f"\nfiles kept in {work}: nfcbridge.toml, registry.db, outbox.db, scenario.jsonl, "
            f"receiver.db, whsec.txt\n  try: nfcbridge --config {work / 'nfcbridge.toml'} status\n"
            f"       nfcbridge receiver report --db {work / 'receiver.db'} "
            f"--expect {work / 'scenario.jsonl'}"
        )
    if created:
        shutil.rmtree(work, ignore_errors=True)
    else:
        for child in work.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    return f"\nremoved {work} and everything in it (run with --keep to look at the files)"
