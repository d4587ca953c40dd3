"""The one listen-address parser (metrics, web, receiver): the same rules everywhere."""

from __future__ import annotations

import pytest

from nfcbridge.listen import parse_listen


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("[::1]:8080", ("::1", 8080)),
        (":8080", ("127.0.0.1", 8080)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_valid_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", [":99999", "127.0.0.1", "127.0.0.1:http", "host name:80", ""])
def test_invalid_addresses_name_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match="must be HOST:PORT \\(port 0-65535\\)"):
        parse_listen(text)


def test_loopback_only_refuses_other_addresses() -> None:
    assert parse_listen("0.0.0.0:8080") == ("0.0.0.0", 8080)
    with pytest.raises(ValueError, match="must be a loopback HOST:PORT"):
        parse_listen("0.0.0.0:8080", loopback_only=True)
