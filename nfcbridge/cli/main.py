"""The ``nfcbridge`` command: one click group, one error boundary.

Every error is turned into a single line on stderr and an exit code (see
``nfcbridge.errors`` and the README); tracebacks only with ``--debug``.
"""

from __future__ import annotations

from typing import Any, NoReturn

import click

from nfcbridge import __version__
from nfcbridge.cli.context import AppContext, emit, json_option, pass_app
from nfcbridge.errors import ExitCode, exit_code_for

EPILOG = """\b
Examples:
  nfcbridge readers
  nfcbridge tag info --reader 'mock:desk?tag=ntag213'
  nfcbridge provision --reader 'mock:desk?roll=ntag213' --batch 2026-11-a --count 10 --yes
  nfcbridge run --config /etc/nfcbridge/nfcbridge.toml

Exit codes: 0 ok, 2 usage, 3 config, 4 reader, 5 no tag, 6 tag, 7 refused by a
registry rule, 8 store unavailable, 9 confirmation required, 10 verification failed
(audit chain, read-back, a failed tag check), 130 interrupted, 1 internal error (a bug).
With --json, errors are JSON on stderr.
"""


JSON_ERRORS = "nfcbridge.json_errors"


def refuse_personnummer_arguments(args: list[str], params: dict[str, Any]) -> None:
    """No personnummer in any argument or option, except the options made for one (whose
    value is pseudonymised at once): it could end in a file name, a log or the audit trail.
    The registry refuses it in what it stores as well (``identity.refuse_personnummer``)."""
    from provisioning.identity import looks_like_personnummer, refuse_personnummer

    refuse_personnummer(params.get("operator"), "the value of --operator")
    skip_next, previous = False, ""
    for i, arg in enumerate(args):
        option = arg.split("=", 1)[0] if arg.startswith("--") else ""
        if skip_next or "personnummer" in option:  # --personnummer X / --personnummer=X
            skip_next = not skip_next and "=" not in arg
        elif looks_like_personnummer(arg):
            name = option if "=" in arg else previous if previous.startswith("-") else ""
            refuse_personnummer(
                arg,
                f"the value of {name}" if name else f"argument {i + 1}",
                "to name a customer, give --personnummer without a value and type it at the "
                "hidden prompt",
            )
        previous = arg


class BoundaryGroup(click.Group):
    """The error boundary: every error becomes one line on stderr and its exit code.

    The codes come from ``nfcbridge.errors.exit_code_for`` (one table). With ``--json`` on
    the command line the line is ``{"error": {"code": N, "message": "..."}}``. Ctrl-C,
    also at a prompt, is 130; end of input at a prompt is a usage error (2).
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[JSON_ERRORS] = "--json" in args  # known before any option is parsed
        ctx.meta["nfcbridge.argv"] = list(args)  # checked in invoke, inside the boundary
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        from nfcbridge.config import redact_url_passwords
        from provisioning.identity import redact_personnummer

        debug = bool(ctx.params.get("debug"))
        as_json = bool(ctx.meta.get(JSON_ERRORS))
        try:
            refuse_personnummer_arguments(ctx.meta.get("nfcbridge.argv", []), ctx.params)
            return super().invoke(ctx)
        except click.exceptions.Exit:
            raise
        except click.ClickException as exc:  # click echoes bad values: never a personnummer
            exc.message = redact_url_passwords(redact_personnummer(exc.message))  # type: ignore[misc]
            if not as_json:
                raise
            fail(ctx, ExitCode(exc.exit_code), exc.format_message(), as_json=True)
        except click.Abort as exc:  # click turns Ctrl-C and end of input at a prompt into it
            if isinstance(exc.__context__, EOFError):
                fail(ctx, ExitCode.USAGE, "no input (end of input at a prompt)", as_json=as_json)
            fail(ctx, ExitCode.INTERRUPTED, "interrupted", as_json=as_json)
        except KeyboardInterrupt:
            fail(ctx, ExitCode.INTERRUPTED, "interrupted", as_json=as_json)
        except Exception as exc:
            code = exit_code_for(exc)
            if debug or code == ExitCode.INTERNAL:
                import traceback

                traceback.print_exc()
            message = redact_url_passwords(redact_personnummer(str(exc) or type(exc).__name__))
            message = message.splitlines()[0]
            if code == ExitCode.INTERNAL:
                message = "internal error: " + message
            fail(ctx, code, message, as_json=as_json)


def fail(ctx: click.Context, code: ExitCode, message: str, *, as_json: bool) -> NoReturn:
    """Print *message* as the one error line (JSON with *as_json*) and exit with *code*."""
    if as_json:
        import json

        line = json.dumps({"error": {"code": int(code), "message": message}}, ensure_ascii=False)
    elif message.startswith("internal error: ") or message == "interrupted":
        line = message
    else:
        line = "error: " + message
    click.echo(line, err=True)
    ctx.exit(int(code))


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


def toml_value(value: Any) -> str:
    """A TOML value: JSON's form is TOML's for strings, numbers, booleans and arrays, except
    DEL (U+007F), which TOML strings must escape (settings floats are always finite)."""
    import json

    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _comment(text: str) -> str:
    """*text* inside a TOML comment: as is when printable, else as an escaped string."""
    return text if text.isprintable() else toml_value(text)


def render_toml(data: dict[str, Any]) -> str:
    """The settings as TOML: tables, arrays of tables, and the derived paths as comments."""

    def pairs(table: dict[str, Any]) -> list[str]:
        return [f"{key} = {toml_value(value)}" for key, value in table.items()]

    lines = [f"# settings in force, from {_comment(str(data['source']))}"]
    for key, value in data.items():
        if key == "source":
            continue
        if key == "derived":
            lines += ["", "# derived from the settings above:"]
            lines += [f"#   {k} = {_comment(str(v))}" for k, v in value.items()]
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
