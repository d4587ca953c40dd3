"""What every command gets: settings, output mode, operator; and output helpers."""

from __future__ import annotations

import getpass
import json
import os
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import click

from nfcbridge.config import Settings, load_settings


@dataclass
class AppContext:
    config_path: str | None
    operator_override: str | None = None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    @property
    def operator(self) -> str:
        if self.operator_override:
            return self.operator_override
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return f"uid:{os.getuid()}"


pass_app = click.make_pass_decorator(AppContext)


def json_option(f: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(f)


_UNPRINTABLE = frozenset(("Cc", "Cf", "Zl", "Zp"))


def printable(value: object, *, keep_newlines: bool = False) -> str:
    """*value* as text for a terminal: control and format characters (newlines, escape
    sequences, bidi overrides) shown as ``\\xNN`` escapes, so stored text cannot forge lines
    or colours in human output. *keep_newlines* for output that we composed with them."""
    text = str(value)
    out = []
    for ch in text:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif unicodedata.category(ch) in _UNPRINTABLE:
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def emit(data: Any, as_json: bool, human: str | None = None) -> None:
    """Print *data* as JSON, or *human* (default: a readable rendering of *data*)."""
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
    elif human is not None:
        click.echo(printable(human, keep_newlines=True))
    elif isinstance(data, dict):
        width = max((len(str(k)) for k in data), default=0)
        for k, v in data.items():
            click.echo(f"{printable(k).ljust(width)}  {printable(v)}")
    else:
        click.echo(printable(data))
