"""`nfcbridge emulate vpcd`: a virtual card in pcscd's vpcd reader, for pyscard, pcsc_scan
and people.

Runs in the foreground until Ctrl-C. pcscd (with Debian's vsmartcard-vpcd) must be running:
its "Virtual PCD 00 00" slot listens on TCP 35963, "00 01" on 35964. The card keeps trying
to connect, so pcscd may also be started (or restarted) afterwards.
"""

from __future__ import annotations

import click

from nfcbridge.cli.emulate_common import (
    describe_tag,
    emulated_tag_options,
    field_with_tag,
    wait_for_stop_signal,
)


@click.command("vpcd")
@emulated_tag_options
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=35963,
    show_default=True,
    help="vpcd's port: 35963 is 'Virtual PCD 00 00', 35964 is '00 01'.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Where pcscd runs.")
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
    from drivers.emulated.vpcd import VirtualCard

    field, tag = field_with_tag("vpcd", product, uid, fault, empty)
    with VirtualCard(field, host=host, port=port) as card:
        click.echo(f"virtual card for vpcd at {host}:{port}")
        click.echo(f"reader name      {card.reader_name}")
        click.echo(f"reader URL       {card.reader_url}")
        describe_tag(tag)
        if tag is not None and not card.connected.wait(2.0):
            click.echo(
                f"vpcd not reachable on {host}:{port} yet (is pcscd running with "
                "vsmartcard-vpcd?); still trying",
                err=True,
            )
        click.echo("Ctrl-C to stop.")
        wait_for_stop_signal()
