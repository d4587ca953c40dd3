"""`nfcbridge emulate pn532`: a PN532 on a pseudo-terminal, for nfcpy, libnfc and people.

Runs in the foreground until Ctrl-C. The emulated tag is one chip model (drivers.emulated)
with the product, UID and faults given here.
"""

from __future__ import annotations

import click

from nfcbridge.cli.emulate_common import (
    describe_tag,
    emulated_tag_options,
    field_with_tag,
    wait_for_stop_signal,
)


@click.command("pn532")
@click.option(
    "--link",
    metavar="PATH",
    help="Also create this symlink to the pty, e.g. /dev/ttyNFC0 (then the URL is "
    "nfcpy:tty:NFC0:pn532 and nfcpy's own path is tty:ttyNFC0:pn532).",
)
@emulated_tag_options
def pn532(
    link: str | None, product: str, uid: bytes | None, fault: str | None, empty: bool
) -> None:
    """Emulate a PN532 on a pseudo-terminal until Ctrl-C.

    \b
    Examples:
      nfcbridge emulate pn532 --tag ntag215
      nfcbridge emulate pn532 --link /dev/ttyNFC0 --uid 04E10CDA993C80
      LIBNFC_DEVICE=pn532_uart:/dev/pts/5 nfc-list
    """
    from drivers.emulated.pn532 import Pn532Emulator

    field, tag = field_with_tag("pn532", product, uid, fault, empty)
    emulator = Pn532Emulator(field, link=link)
    try:
        emulator.start()
    except OSError as exc:
        raise click.BadParameter(
            f"cannot create the link {link}: {exc.strerror or exc}", param_hint="--link"
        ) from None
    try:
        click.echo(f"PN532 emulator on {emulator.device_path}")
        if link:
            click.echo(f"link             {link}")
        click.echo(f"reader URL       {emulator.reader_url}")
        if emulator.nfcpy_path:
            click.echo(f"nfcpy path       {emulator.nfcpy_path}")
        click.echo(f"libnfc           LIBNFC_DEVICE=pn532_uart:{emulator.device_path}")
        describe_tag(tag)
        click.echo("Ctrl-C to stop.")
        wait_for_stop_signal()
    finally:
        emulator.stop()
