"""structlog set-up: JSON lines under systemd or when asked, readable console on a terminal.

Stdlib loggers (nfcpy, pyscard, our drivers) go through the same processors. Raw frames are
logged at level FRAMES (5), below DEBUG, because they can carry passwords. httpx logs every
request at INFO, a line per delivered tap beside the tap's own: below ``debug`` only its
warnings are shown (a failed delivery is logged by the forwarder, with what to check).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from nfcbridge.config import Settings

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _use_json(fmt: str) -> bool:
    if fmt == "json":
        return True
    if fmt == "console":
        return False
    return bool(os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID")) or (
        not sys.stderr.isatty()
    )


def _redact_url_passwords(
    logger: object, method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """No ``scheme://user:password@`` in any log line, whoever logged it."""
    from nfcbridge.config import redact_url_passwords

    for key, value in event.items():
        if isinstance(value, str) and "@" in value:
            event[key] = redact_url_passwords(value)
    return event


def configure_logging(
    level: str | None = None, settings: Settings | None = None, fmt: str | None = None
) -> None:
    """Idempotent. Logs go to stderr so that stdout stays clean for --json output."""
    name = level or (settings.logging.level if settings else "warning")
    fmt = fmt or (settings.logging.format if settings else "auto")
    shared: list[structlog.types.Processor] = [
        _redact_url_passwords,
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if _use_json(fmt)
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_nfcbridge", False):
            root.removeHandler(h)
    handler._nfcbridge = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(_LEVELS.get(name, logging.INFO))
    chatty = logging.NOTSET if root.level <= logging.DEBUG else logging.WARNING
    for library in ("httpx", "httpcore"):
        logging.getLogger(library).setLevel(chatty)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
