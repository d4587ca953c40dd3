"""The lazy driver table: scheme -> (module, class, pip extra), extended by entry points.

A driver module is imported only when its scheme is chosen; a missing optional dependency
becomes ``DriverMissing`` naming the pip extra to install.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points

from drivers.base import DetectedReader, Reader
from drivers.errors import DriverMissing, ReaderURLError
from drivers.url import ReaderURL, parse_reader_url


@dataclass(frozen=True)
class DriverEntry:
    module: str
    cls: str
    extra: str | None  # pip extra providing the optional dependency, if any
    needs: str | None = None  # top-level module of that dependency


BUILTIN_DRIVERS: dict[str, DriverEntry] = {
    "mock": DriverEntry("drivers.mock", "MockReader", None),
    "nfcpy": DriverEntry("drivers.nfcpy_reader", "NfcpyReader", "nfcpy", "nfc"),
    "pcsc": DriverEntry("drivers.pcsc", "PcscReader", "pcsc", "smartcard"),
    "serial": DriverEntry("drivers.serial_reader", "SerialReader", None, "serial"),
}


@functools.cache
def _installed_drivers() -> tuple[tuple[str, DriverEntry], ...]:
    """Drivers other packages install (entry points), read once per process."""
    found = []
    for ep in entry_points(group="nfcbridge.readers"):
        module, _, cls = ep.value.partition(":")
        found.append((ep.name, DriverEntry(module, cls, None)))
    return tuple(found)


def driver_table() -> dict[str, DriverEntry]:
    table = dict(BUILTIN_DRIVERS)
    for name, entry in _installed_drivers():
        table.setdefault(name, entry)
    return table


def parse(url: str | ReaderURL) -> ReaderURL:
    if isinstance(url, ReaderURL):
        return url
    return parse_reader_url(url, tuple(driver_table()))


def driver_class(scheme: str, url: str = "") -> type[Reader]:
    table = driver_table()
    try:
        entry = table[scheme]
    except KeyError:
        raise ReaderURLError(
            f"unknown reader scheme {scheme!r} (known: {', '.join(sorted(table))})", url=url
        ) from None
    try:
        module = importlib.import_module(entry.module)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or ""
        if entry.needs and missing.split(".")[0] == entry.needs:
            extra = entry.extra or "all"
            raise DriverMissing(
                f"the {scheme}: driver needs {entry.needs!r}: pip install 'nfcbridge[{extra}]'",
                url=url,
                extra=extra,
            ) from exc
        raise
    cls: type[Reader] = getattr(module, entry.cls)
    return cls


def make_reader(url: str | ReaderURL) -> Reader:
    """A reader for *url*, not yet opened."""
    parsed = parse(url)
    reader: Reader = driver_class(parsed.scheme, str(parsed))(parsed)
    reader.spy = "spy" in parsed.wrappers
    return reader


def open_reader(url: str | ReaderURL) -> Reader:
    """Parse *url*, import its driver and open the reader."""
    reader = make_reader(url)
    try:
        reader.open()
    except BaseException:
        reader.close()
        raise
    return reader


def detect_readers() -> list[DetectedReader]:
    """Every reader any installed driver can see; drivers whose dependency is missing are
    skipped."""
    found: list[DetectedReader] = []
    for scheme in driver_table():
        try:
            cls = driver_class(scheme)
        except DriverMissing:
            continue
        found.extend(cls.detect())
    return found
