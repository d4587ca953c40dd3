"""Click parameter types and options shared by the commands: UID, reader URL, timeout."""

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
