"""The one parser of listen addresses (``HOST:PORT``) for every server the program starts.

``127.0.0.1:9464``, ``[::1]:8080``, ``:8080`` (the default host). The port is 0-65535 (0
lets the system choose); the host is an IP address, or ``localhost``. With
``loopback_only`` (the metrics endpoint) the host must be a loopback address. A bad value
is a ``ValueError`` whose message the caller puts next to its option or key.
"""

from __future__ import annotations

import ipaddress


def parse_listen(
    text: str,
    *,
    default_host: str = "127.0.0.1",
    loopback_only: bool = False,
    example: str = "127.0.0.1:8080",
) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port), or ``ValueError`` saying what is expected."""
    kind = "a loopback HOST:PORT" if loopback_only else "HOST:PORT"
    wrong = ValueError(f"must be {kind} (port 0-65535) such as {example}, not {text!r}")
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]") or default_host
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise wrong
    if host == "localhost":
        return host, int(port)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise wrong from None
    if loopback_only and not address.is_loopback:
        raise wrong
    return host, int(port)
