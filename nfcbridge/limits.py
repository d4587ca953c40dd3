"""The ranges of values nfcbridge accepts from outside, in one place, as data.

Configuration keys (``CONFIG_RANGES``, checked by ``nfcbridge.config`` before anything
starts), moments of simulated taps (control socket ``at``, scenario ``start``) and the
sizes of scenarios. A value out of range is refused with the range named, never clamped.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from urllib.parse import urlsplit

# -- configuration: "table.key" (arrays of tables without the index) -> (low, high) --------
# (provisioning.token_bytes has its range where tokens are made: provisioning.batch_token)
CONFIG_RANGES: dict[str, tuple[float, float]] = {
    "provisioning.tag_timeout": (0.1, 3600),
    "quota.per_customer": (0, 1000),
    "quota.spare": (0, 1000),
    "readers.retap_window": (0, 3600),
    "outbox.keep_days": (0, 36500),
    "registry.lookup_timeout": (0.01, 30),
    "forwarders.timeout": (0.01, 600),
    "forwarders.port": (1, 65535),
    "forwarders.max_backoff": (0.01, 86400),
    "forwarders.batch_size": (1, 10000),
}


def range_error(key: str, value: object) -> str | None:
    """Why *value* is not allowed for config *key* (``readers[0].retap_window``), or None.

    Every float must be finite (TOML's ``inf`` and ``nan`` are valid TOML but no setting
    means them); keys in ``CONFIG_RANGES`` must lie in their range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, not {value}"
    bounds = CONFIG_RANGES.get(_generic(key))
    if bounds is None or bounds[0] <= value <= bounds[1]:
        return None
    allowed = f"between {bounds[0]:g} and {bounds[1]:g}"
    if value < 0 <= bounds[0]:
        return f"must not be negative (allowed: {allowed}), not {value:g}"
    return f"must be {allowed}, not {value:g}"


def url_error(url: str) -> str | None:
    """Why *url* is not an absolute http(s) URL with a host (a webhook target), or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as exc:
        return f"{url!r} is not a URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http:// or https:// URL with a host"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return f"{url!r} contains spaces or control characters"
    return None


def _generic(key: str) -> str:
    """``forwarders[2].port`` -> ``forwarders.port``."""
    return ".".join(part.split("[", 1)[0] for part in key.split("."))


# -- moments: simulated taps and scenario starts ------------------------------------------
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def moment_error(moment: datetime) -> str | None:
    """Why an aware *moment* is not a plausible tap time (outside 2000-2099 UTC), or None."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
        return "is outside the years 2000-2099"
    if not EARLIEST <= utc < LATEST:
        return "is outside the years 2000-2099"
    return None


# -- scenarios ----------------------------------------------------------------------------
MAX_SCENARIO_SECONDS = 31 * 86400.0  # a scenario covers at most a month of scenario time
MAX_HOLD_SECONDS = 3600.0  # a phone held on a tag for longer is not a tap
MAX_CUSTOMERS = 100_000
MAX_STAFF = 20_000
MAX_VISITS_PER_CUSTOMER = 24.0  # per generated day
