"""The reader URL grammar, parsed in one place.

[WRAPPER+]SCHEME:TARGET[?KEY=VALUE&...]

mock:desk?tag=ntag213&uid=04E10CDA993C80&fault=remove@7
nfcpy:usb:072f:2200          nfcpy:tty:USB0:pn532
pcsc:ACR122U                 (substring of the PC/SC reader name)
serial:/dev/ttyUSB0?baud=9600&format=hex
spy+mock:desk                (wrapper: logs every frame)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from drivers.errors import ReaderURLError

KNOWN_WRAPPERS = ("spy",)


@dataclass(frozen=True)
class ReaderURL:
    scheme: str
    target: str
    params: tuple[tuple[str, str], ...] = ()
    wrappers: tuple[str, ...] = field(default=())

    def get(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.params:
            if k == key:
                return v
        return default

    def get_all(self, key: str) -> list[str]:
        return [v for k, v in self.params if k == key]

    def __str__(self) -> str:
        prefix = "".join(f"{w}+" for w in self.wrappers)
        query = "&".join(f"{k}={v}" for k, v in self.params)
        return f"{prefix}{self.scheme}:{self.target}" + (f"?{query}" if query else "")


def parse_reader_url(text: str, known_schemes: tuple[str, ...] | None = None) -> ReaderURL:
    """Parse *text*; with *known_schemes*, an unknown scheme is an error listing them."""
    original = text
    text = text.strip()
    if ":" not in text:
        raise ReaderURLError(
            f"reader URL {original!r} has no scheme (expected e.g. mock:desk, pcsc:ACR122U)",
            url=original,
        )
    head, rest = text.split(":", 1)
    *wrappers, scheme = head.split("+")
    scheme = scheme.lower()
    for w in wrappers:
        if w not in KNOWN_WRAPPERS:
            raise ReaderURLError(
                f"unknown reader URL wrapper {w!r} (known: {', '.join(KNOWN_WRAPPERS)})",
                url=original,
            )
    if not scheme.isalnum():
        raise ReaderURLError(f"reader URL {original!r} has an invalid scheme", url=original)
    if known_schemes is not None and scheme not in known_schemes:
        raise ReaderURLError(
            f"unknown reader scheme {scheme!r} in {original!r} "
            f"(known: {', '.join(sorted(known_schemes))})",
            url=original,
        )
    target, _, query = rest.partition("?")
    try:
        params = tuple(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    except ValueError as exc:
        raise ReaderURLError(
            f"reader URL {original!r} has a malformed query", url=original
        ) from exc
    return ReaderURL(scheme=scheme, target=target, params=params, wrappers=tuple(wrappers))
