"""What the `emulate` commands share: the emulated tag's options and waiting for a stop."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from nfcbridge.cli.params import UID

if TYPE_CHECKING:
    from drivers.emulated.chip import EmulatedTag
    from drivers.emulated.field import Field

TAG_CHOICES = ("ntag213", "ntag215", "ntag216", "mf0ul11", "mf0ul21", "ntag424", "ntag424tt")
SUN_CHOICES = ("ntag424", "ntag424tt")  # NTAG 424 DNA (TagTamper): ISO-DEP, factory keys


def emulated_tag_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--tag, --uid, --fault and --empty: the tag put into the emulated field."""
    for option in reversed(
        (
            click.option(
                "--tag",
                "product",
                type=click.Choice(TAG_CHOICES, case_sensitive=False),
                default="ntag213",
                show_default=True,
                help="The emulated tag in the field.",
            ),
            click.option("--uid", type=UID, help="7-byte UID in hex (default: random)."),
            click.option(
                "--fault",
                metavar="KIND@N",
                help="Faults at the N-th tag command, e.g. remove@7,tear@9,eeprom@12.",
            ),
            click.option("--empty", is_flag=True, help="Start with no tag in the field."),
        )
    ):
        f = option(f)
    return f


def field_with_tag(
    name: str, product: str, uid: bytes | None, fault: str | None, empty: bool
) -> tuple[Field, EmulatedTag | None]:
    """A field holding the tag the options describe (none with --empty)."""
    from drivers.emulated.chip import EmulatedTag, parse_faults
    from drivers.emulated.field import Field

    try:
        faults = parse_faults(fault)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None
    field = Field(name)
    if empty:
        return field, None
    if product.lower() in SUN_CHOICES:
        from drivers.emulated.ntag424 import Ntag424Chip

        if faults:
            raise click.BadParameter("faults are not modelled on the 424 DNA", param_hint="--fault")
        tt = product.lower() == "ntag424tt"
        chip = Ntag424Chip(uid, tt) if uid is not None else Ntag424Chip(tagtamper=tt)
        return field, field.place(chip)  # type: ignore[arg-type]
    return field, field.place(EmulatedTag(product.upper(), uid=uid, faults=faults))


def describe_tag(tag: EmulatedTag | None) -> None:
    if tag is not None:
        product = getattr(tag, "product", None)
        name = (
            product.name
            if product is not None
            else "NTAG 424 DNA" + (" TT" if getattr(tag, "tagtamper", False) else "")
        )
        click.echo(f"tag              {name} UID {tag.uid.hex().upper()}")


def wait_for_stop_signal() -> None:
    """Block until SIGINT or SIGTERM (a service manager stops us with SIGTERM; what the
    emulator created must be removed either way)."""
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
    click.echo("stopped", err=True)
