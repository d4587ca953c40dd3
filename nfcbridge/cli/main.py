"""The ``nfcbridge`` command: one click group, one error boundary.

Every error is turned into a single line on stderr and an exit code (see
``nfcbridge.errors`` and the README); tracebacks only with ``--debug``.
"""

from __future__ import annotations

from typing import Any

import click

from nfcbridge import __version__
from nfcbridge.cli.context import AppContext, emit, json_option, pass_app
from nfcbridge.errors import AppError

EPILOG = """\b
Examples:
  nfcbridge readers
  nfcbridge tag info --reader 'mock:desk?tag=ntag213'
  nfcbridge provision --reader 'mock:desk?roll=ntag213' --batch 2026-11-a --count 10 --yes
  nfcbridge run --config /etc/nfcbridge/nfcbridge.toml

Exit codes: 0 ok, 2 usage, 3 config, 4 reader, 5 no tag, 6 tag, 7 refused by a
registry rule, 8 store unavailable, 9 confirmation required, 10 verification failed
(audit chain, read-back, a failed tag check), 130 interrupted, 1 internal error.
"""


def exit_code_for(exc: BaseException) -> int:
    """Map an exception from any layer to the documented exit code."""
    from drivers import errors as d

    if isinstance(exc, AppError):
        return exc.exit_code
    if isinstance(exc, d.NoTag):
        return 5
    if isinstance(exc, d.TagError):
        return 6
    if isinstance(exc, d.ReaderError):
        return 4
    try:
        from provisioning import errors as p
    except ImportError:  # pragma: no cover - provisioning is part of the distribution
        return 1
    if isinstance(exc, p.StoreError):
        return 8
    if isinstance(exc, p.RegistryError):
        return 7
    return 1


class BoundaryGroup(click.Group):
    """The error boundary: domain errors become one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:
            code = exit_code_for(exc)
            if debug or code == 1:
                import traceback

                traceback.print_exc()
            message = str(exc) or type(exc).__name__
            prefix = "internal error: " if code == 1 else "error: "
            click.echo(prefix + message.splitlines()[0], err=True)
            ctx.exit(code)


@click.group(
    cls=BoundaryGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="nfcbridge")
@click.option(
    "--config",
    "config_path",
    envvar="NFCBRIDGE_CONFIG",
    type=click.Path(dir_okay=False),
    help="TOML configuration file (default: embedded defaults; env NFCBRIDGE_CONFIG).",
)
@click.option("--operator", help="Who is doing this, for the audit trail (default: login name).")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, operator: str | None, debug: bool) -> None:
    """Provision NFC receipt tags and forward door taps to a backend.

    Readers are chosen by URL: mock:NAME, nfcpy:usb:072f:2200, nfcpy:tty:USB0:pn532,
    pcsc:ACR122U, serial:/dev/ttyUSB0. Run `nfcbridge readers` to see what is attached.
    """
    from nfcbridge.logs import configure_logging

    ctx.obj = AppContext(config_path=config_path, operator_override=operator)
    configure_logging(level="debug" if debug else None, settings=None)


@cli.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show", short_help="Print the settings in force as TOML.")
@json_option
@pass_app
def config_show(app: AppContext, as_json: bool) -> None:
    """Print the settings in force as TOML (defaults filled in; secrets as file names only)."""
    from nfcbridge.config import settings_as_dict

    data = settings_as_dict(app.settings)
    if as_json:
        emit(data, True)
        return
    click.echo(render_toml(data))


def render_toml(data: dict[str, Any]) -> str:
    """The settings as TOML: tables, arrays of tables, and the derived paths as comments."""
    import json

    def pairs(table: dict[str, Any]) -> list[str]:
        return [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in table.items()]

    lines = [f"# settings in force, from {data['source']}"]
    for key, value in data.items():
        if key == "source":
            continue
        if key == "derived":
            lines += ["", "# derived from the settings above:"]
            lines += [f"#   {k} = {v}" for k, v in value.items()]
        elif isinstance(value, (list, tuple)):
            for item in value:
                lines += ["", f"[[{key}]]", *pairs(item)]
        else:
            lines += ["", f"[{key}]", *pairs(value)]
    return "\n".join(lines)


def _register() -> None:
    """Attach the command modules (each owns one part of the CLI)."""
    from nfcbridge.cli import (
        customer_cmds,
        daemon_cmds,
        emulate_cmds,
        lifecycle_cmds,
        manual_cmds,
        process_cmds,
        provider_cmds,
        provision_cmd,
        receiver_cmds,
        report_cmds,
        rig_cmds,
        sun_cmds,
        tag_cmds,
        tag_history,
        web_cmds,
    )

    cli.add_command(tag_cmds.readers)
    cli.add_command(tag_cmds.tag)
    tag_cmds.tag.add_command(tag_history.tag_history)
    cli.add_command(emulate_cmds.emulate)
    cli.add_command(provision_cmd.provision)
    for command in process_cmds.CUSTOMER_COMMANDS:
        customer_cmds.customer.add_command(command)
    for command in process_cmds.PROVIDER_COMMANDS:
        provider_cmds.provider.add_command(command)
    for module in (
        provider_cmds,
        customer_cmds,
        lifecycle_cmds,
        report_cmds,
        process_cmds,
        manual_cmds,
        daemon_cmds,
        rig_cmds,
        receiver_cmds,
        sun_cmds,
        web_cmds,
    ):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    cli.main(prog_name="nfcbridge")


if __name__ == "__main__":  # pragma: no cover
    main()
