"""`nfcbridge readers` and `nfcbridge tag ...` (owner: readers-and-tags work)."""

from __future__ import annotations

import click


@click.command()
def readers() -> None:
    """List attached readers with the URL to use."""
    raise click.ClickException("not implemented yet")


@click.group()
def tag() -> None:
    """Read, write and lock a tag on a reader."""
