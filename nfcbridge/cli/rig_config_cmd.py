"""``nfcbridge rig config``: the daemon configuration of a scenario's test rig."""

from __future__ import annotations

import click


@click.command("config", short_help="Write the rig's daemon config for a scenario.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the TOML here (default: print it).",
)
@click.option("--data-dir", default="rig", show_default=True, help="The rig's data directory.")
@click.option(
    "--registry",
    "registry_url",
    default="",
    help="The rig's registry URL (default: sqlite:///<data-dir>/registry.db, as `rig seed` "
    "should be given).",
)
@click.option(
    "--receiver",
    default="http://127.0.0.1:8080/",
    show_default=True,
    help="Webhook URL of the receiver (or your backend).",
)
@click.option(
    "--secret-file",
    default="whsec.txt",
    show_default=True,
    help="The webhook secret file, as the receiver is given it.",
)
@click.option(
    "--retap-window",
    type=click.FloatRange(min=0),
    default=0.1,
    show_default=True,
    help="Each reader's re-tap window; keep it below the replay's --retap-gap.",
)
def rig_config(
    file: str,
    out: str | None,
    data_dir: str,
    registry_url: str,
    receiver: str,
    secret_file: str,
    retap_window: float,
) -> None:
    """Write the daemon configuration for a scenario's rig: one [[readers]] block (a mock:
    reader) per staff member's reader, the rig's registry and a webhook forwarder."""
    from nfcbridge.rig.daemon_config import RigConfig, render_rig_config
    from nfcbridge.rig.scenario_parser import load_scenario

    scenario = load_scenario(file)
    options = RigConfig(data_dir, registry_url, receiver, secret_file, retap_window)
    text = render_rig_config(scenario, options)
    if out is None:
        click.echo(text, nl=False)
        return
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(text)
    readers = len({s.reader for s in scenario.staff.values()})
    click.echo(f"wrote {out}: {readers} readers, registry and forwarder for {scenario.name!r}")
