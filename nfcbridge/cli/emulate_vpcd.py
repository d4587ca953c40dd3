"""`nfcbridge emulate vpcd`: a virtual card in pcscd's vpcd reader, for pyscard, pcsc_scan
and people.

Runs in the foreground until Ctrl-C. pcscd (with Debian's vsmartcard-vpcd) must be running:
its "Virtual PCD 00 00" slot listens on TCP 35963, "00 01" on 35964. The card keeps trying
to connect, so pcscd may also be started (or restarted) afterwards.
"""

from __future__ import annotations

import click

from nfcbridge.cli.emulate_pn532 import TAG_CHOICES, _parse_uid, _wait_for_stop_signal


@click.command("vpcd")
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
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=35963,
    show_default=True,
    help="vpcd's port: 35963 is 'Virtual PCD 00 00', 35964 is '00 01'.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Where pcscd runs.")
@click.option("--empty", is_flag=True, help="Start with no tag in the field.")
def vpcd(
    product: str, uid: bytes | None, fault: str | None, port: int, host: str, empty: bool
) -> None:
    """Put an emulated tag into pcscd's virtual reader until Ctrl-C.

    \b
    Examples:
      nfcbridge emulate vpcd --tag ntag213
      nfcbridge emulate vpcd --port 35964 --uid 04E10CDA993C80 --fault remove@7
      nfcbridge tag info --reader 'pcsc:Virtual PCD 00 00'
    """
    from drivers.emulated.chip import EmulatedTag, parse_faults
    from drivers.emulated.field import Field
    from drivers.emulated.vpcd import VirtualCard

    try:
        faults = parse_faults(fault)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None
    field = Field("vpcd")
    tag = None
    if not empty:
        tag = field.place(EmulatedTag(product.upper(), uid=uid, faults=faults))
    with VirtualCard(field, host=host, port=port) as card:
        click.echo(f"virtual card for vpcd at {host}:{port}")
        click.echo(f"reader name      {card.reader_name}")
        click.echo(f"reader URL       {card.reader_url}")
        if tag is not None:
            click.echo(f"tag              {tag.product.name} UID {tag.uid.hex().upper()}")
            if not card.connected.wait(2.0):
                click.echo(
                    f"vpcd not reachable on {host}:{port} yet (is pcscd running with "
                    "vsmartcard-vpcd?); still trying",
                    err=True,
                )
        click.echo("Ctrl-C to stop.")
        _wait_for_stop_signal()
        click.echo("stopped", err=True)
