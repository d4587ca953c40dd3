"""`nfcbridge emulate pn532|vpcd`: front doors to the chip model for other tools."""

from __future__ import annotations

import click


@click.group()
def emulate() -> None:
    """Run an emulated reader that real driver stacks (nfcpy, libnfc, pcscd) can open."""
