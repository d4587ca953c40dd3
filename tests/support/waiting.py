"""Polling for a condition that another thread or process brings about."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, poll: float = 0.01) -> bool:
    """Whether *condition* came to hold within *timeout* seconds (tested every *poll*)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True
