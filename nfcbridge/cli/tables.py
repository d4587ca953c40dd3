"""Rows of a listing or report as aligned text columns, CSV, or JSON.

The registry listings (providers, customers) and reports print lists of flat dicts; every
row has the same keys, in the order of the first row.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import click

from nfcbridge.cli.context import emit, printable

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would read as a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def print_rows(rows: list[dict[str, Any]], as_json: bool, as_csv: bool = False) -> None:
    """JSON with *as_json*, CSV with *as_csv*, else columns padded to their widest cell."""
    if as_json:
        emit(rows, True)
        return
    if not rows:
        click.echo("(none)")
        return
    columns = list(rows[0])
    if as_csv:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
        click.echo(out.getvalue(), nl=False)
        return
    cells = [[("" if r[c] is None else printable(r[c])) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
