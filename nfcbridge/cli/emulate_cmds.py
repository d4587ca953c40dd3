"""`nfcbridge emulate pn532|vpcd`: front doors to the chip model for other tools."""

from __future__ import annotations

import click

from nfcbridge.cli.emulate_pn532 import pn532
from nfcbridge.cli.emulate_vpcd import vpcd


@click.group(short_help="Emulated readers for nfcpy, libnfc and pcscd.")
def emulate() -> None:
    """Run an emulated reader that real driver stacks (nfcpy, libnfc, pcscd) can open."""


emulate.add_command(pn532)
emulate.add_command(vpcd)
