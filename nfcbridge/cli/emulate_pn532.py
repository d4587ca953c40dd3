"""`nfcbridge emulate pn532`: a PN532 on a pseudo-terminal, for nfcpy, libnfc and people.

Runs in the foreground until Ctrl-C. The emulated tag is one chip model (drivers.emulated)
with the product, UID and faults given here.
"""

from __future__ import annotations

import signal
import threading

import click

TAG_CHOICES = ("ntag213", "ntag215", "ntag216", "mf0ul11", "mf0ul21")


def _parse_uid(ctx: click.Context, param: click.Parameter, value: str | None) -> bytes | None:
    if value is None:
        return None
    text = value.replace(":", "").replace(" ", "")
    try:
        uid = bytes.fromhex(text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not hexadecimal") from None
    if len(uid) != 7:
        raise click.BadParameter(f"an NTAG21x UID has 7 bytes, {value!r} has {len(uid)}")
    return uid


@click.command("pn532")
@click.option(
    "--link",
    metavar="PATH",
    help="Also create this symlink to the pty, e.g. /dev/ttyNFC0 (then the URL is "
    "nfcpy:tty:NFC0:pn532 and nfcpy's own path is tty:ttyNFC0:pn532).",
)
@click.option(
    "--tag",
    "product",
    type=click.Choice(TAG_CHOICES, case_sensitive=False),
    default="ntag213",
    show_default=True,
    help="The emulated tag in the field.",
)
@click.option("--uid", callback=_parse_uid, metavar="HEX", help="7-byte UID (default: random).")
@click.option(
    "--fault",
    metavar="KIND@N",
    help="Faults at the N-th tag command, e.g. remove@7,tear@9,eeprom@12.",
)
@click.option("--empty", is_flag=True, help="Start with no tag in the field.")
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
    from drivers.emulated.chip import EmulatedTag, parse_faults
    from drivers.emulated.field import Field
    from drivers.emulated.pn532 import Pn532Emulator

    try:
        faults = parse_faults(fault)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None
    field = Field("pn532")
    tag = None
    if not empty:
        tag = field.place(EmulatedTag(product.upper(), uid=uid, faults=faults))
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
        if tag is not None:
            click.echo(f"tag              {tag.product.name} UID {tag.uid.hex().upper()}")
        click.echo("Ctrl-C to stop.")
        _wait_for_stop_signal()
        click.echo("stopped", err=True)
    finally:
        emulator.stop()


def _wait_for_stop_signal() -> None:
    """Block until SIGINT or SIGTERM (a service manager stops us with SIGTERM; the link
    must be removed either way)."""
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while not stop.wait(1.0):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
