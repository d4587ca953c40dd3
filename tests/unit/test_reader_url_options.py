"""Each driver declares the URL options it reads; any other option is refused, naming them."""

from __future__ import annotations

import pytest

from drivers import table
from drivers.errors import ReaderURLError
from drivers.table import make_reader, parse


@pytest.mark.parametrize(
    ("url", "known"),
    [
        ("mock:desk?tga=ntag213", "tag, tags, roll, count, uid, sig, fault"),
        ("serial:/dev/ttyUSB0?bauds=115200", "baud, format, hold"),
        ("pcsc:ACR122U?rwa=acr122", "raw, share"),
        ("nfcpy:usb:072f:2200?speed=fast", "none"),
    ],
)
def test_an_unknown_option_is_refused_naming_the_known_ones(url: str, known: str) -> None:
    with pytest.raises(ReaderURLError, match=f"unknown option .* \\(known: {known}\\)"):
        make_reader(url)


def test_declared_options_are_taken() -> None:
    reader = make_reader("serial:/dev/ttyUSB0?baud=115200&format=hex&hold=0.2")
    assert reader.baud == 115200  # type: ignore[attr-defined]
    make_reader("mock:desk?tag=ntag213&uid=04E10CDA993C80&fault=remove@7").close()


def test_the_driver_table_reads_entry_points_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counting(*, group: str) -> list[object]:
        calls.append(group)
        return []

    monkeypatch.setattr(table, "entry_points", counting)
    table._installed_drivers.cache_clear()
    try:
        for _ in range(3):
            parse("mock:desk")
            table.driver_table()
        assert calls == ["nfcbridge.readers"]
    finally:
        table._installed_drivers.cache_clear()
