"""Registry commands: provider, customer, pickup, attach, retire, report, audit, provision."""

from __future__ import annotations

import click


@click.command("history")
@click.argument("uid")
def tag_history(uid: str) -> None:
    """Every state change of one tag."""
    raise click.ClickException("not implemented yet")


COMMANDS: list[click.Command] = []
