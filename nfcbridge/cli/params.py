"""Click parameter types and options shared by the commands: UID, reader URL, timeout, and
the personnummer (hidden prompt, validated, never echoed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from drivers.url import ReaderURL

    UidParamBase = click.ParamType[bytes]
    ReaderUrlParamBase = click.ParamType[ReaderURL]
else:  # click < 8.2 has no generic ParamType at run time
    UidParamBase = ReaderUrlParamBase = click.ParamType


class UidParam(UidParamBase):
    """A 7-byte UID in hex, with or without ':' separators (04:A1:B2... or 04A1B2...)."""

    name = "UID"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> bytes:
        if isinstance(value, bytes):
            return value
        text = str(value).strip().replace(":", "")
        try:
            uid = bytes.fromhex(text)
        except ValueError:
            self.fail(f"{value!r} is not a hex UID (e.g. 04A1B2C3D4E5F6)", param, ctx)
        if len(uid) != 7:
            self.fail(f"{value!r} has {len(uid)} bytes; an NTAG21x UID has 7", param, ctx)
        return uid


class ReaderUrlParam(ReaderUrlParamBase):
    """A reader URL, parsed once; an unknown scheme is a usage error listing known ones."""

    name = "URL"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> ReaderURL:
        from drivers.errors import ReaderURLError
        from drivers.table import parse

        try:
            return parse(value)
        except ReaderURLError as exc:
            self.fail(str(exc), param, ctx)


UID = UidParam()
READER_URL = ReaderUrlParam()


def reader_option(f: Any) -> Any:
    return click.option(
        "--reader",
        "reader_url",
        type=READER_URL,
        required=True,
        help="Reader URL, e.g. 'mock:desk?tag=ntag213', pcsc:ACR122U, nfcpy:tty:USB0:pn532.",
    )(f)


def timeout_option(f: Any) -> Any:
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0),
        default=None,
        help="Seconds to wait for a tag (default: provisioning.tag_timeout).",
    )(f)


class OutputPath(click.Path):
    """A file the command will write: its directory must exist (checked before any work)."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        import os

        path = super().convert(value, param, ctx)
        directory = os.path.dirname(os.path.abspath(os.fsdecode(path)))
        if not os.path.isdir(directory):
            self.fail(f"directory {directory} does not exist", param, ctx)
        return path


# -- personnummer: asked at a hidden prompt, validated, never echoed or stored ------------------
ASK = "\x00ask"  # the value of a bare --personnummer: ask at the hidden prompt

PERSONNUMMER_HELP = (
    "Name the customer by personnummer or samordningsnummer, typed at a hidden prompt "
    "(give the option without a value: a number on the command line stays in the shell "
    "history). It is turned into the pseudonym at once and never shown or stored."
)


def personnummer_option(f: Any) -> Any:
    """``--personnummer`` with an optional value: bare, it asks at a hidden prompt."""
    return click.option(
        "--personnummer",
        "personnummer",
        is_flag=False,
        flag_value=ASK,
        default=None,
        metavar="[NUMBER]",
        help=PERSONNUMMER_HELP,
    )(f)


def _validated(text: str) -> str:
    from provisioning.errors import InvalidIdentity
    from provisioning.identity import normalise_personnummer

    try:
        normalise_personnummer(text)
    except InvalidIdentity as exc:  # the message names the check, never the number
        raise click.BadParameter(str(exc)) from None
    return text


def read_personnummer(value: str | None = ASK) -> str:
    """A valid personnummer: *value* as given, or typed at a hidden prompt on stderr (asked
    again while invalid). Raises ``InvalidIdentity`` for an invalid given value."""
    if value is not None and value != ASK:
        from provisioning.identity import normalise_personnummer

        normalise_personnummer(value)  # InvalidIdentity (exit 7) names the failed check
        return value
    try:
        answer: str = click.prompt(
            "Personnummer (not shown)", hide_input=True, err=True, value_proc=_validated
        )
    except click.Abort as exc:  # nothing was done
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise  # Ctrl-C: the boundary exits 130
        raise click.UsageError("no personnummer typed (end of input): nothing was done") from None
    return answer
