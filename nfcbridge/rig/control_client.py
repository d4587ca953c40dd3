"""Client of the daemon's control channel: JSON lines over a Unix socket.

Request ``{"op": "tap", "reader": NAME, "uid": HEX, "hold": SECONDS, "at": ISO8601}``, reply
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. ``at`` is the scenario time of
the tap: the daemon stamps the simulated event's ``occurred_at`` with it, which is how an
accelerated replay keeps visit durations exact (see ``nfcbridge.rig.replay``); without it
the daemon uses its own clock. The socket is owner-only on the daemon side; a refused or
missing socket is ``ControlUnavailable``.

One connection per thread (the replay taps from one thread per reader), reopened once
if the daemon closed it between requests.
"""

from __future__ import annotations

import json
import socket
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from nfcbridge.errors import AppError, ExitCode
from nfcbridge.timefmt import utc_iso


class ControlUnavailable(AppError):
    """The daemon's control socket cannot be reached (not running, or not ours)."""

    exit_code = ExitCode.STORE


class ControlRefused(AppError):
    """The daemon answered ``ok: false``."""

    exit_code = ExitCode.READER


class ControlClient:
    def __init__(self, path: str | Path, timeout: float = 30.0) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[socket.socket] = []

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        line = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.sendall(line)
                reply = self._local.reader.readline()
            except OSError as exc:
                self._drop()
                if attempt == 2:
                    raise ControlUnavailable(f"control socket {self.path}: {exc}") from None
                continue
            if not reply:
                self._drop()
                if attempt == 2:
                    raise ControlUnavailable(f"control socket {self.path}: closed by the daemon")
                continue
            try:
                data = json.loads(reply)
            except json.JSONDecodeError:
                raise ControlRefused(
                    f"control socket {self.path}: not JSON: {reply[:80]!r}"
                ) from None
            if not data.get("ok"):
                raise ControlRefused(f"daemon refused {message.get('op')}: {data.get('error')}")
            return dict(data)
        raise AssertionError("unreachable")

    def tap(
        self,
        reader: str,
        uid: str,
        hold: float,
        at: datetime | None = None,
        run: str | None = None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"op": "tap", "reader": reader, "uid": uid, "hold": hold}
        if at is not None:
            message["at"] = utc_iso(at)
        if run is not None:
            message["run"] = run
        return self.request(message)

    def manual(self, registration: dict[str, Any]) -> dict[str, Any]:
        """A manual registration (``nfcbridge.manual``): kind, staff, customer, at, ..."""
        return self.request({"op": "manual", **registration})

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()

    def _connection(self) -> socket.socket:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.settimeout(self.timeout)
            try:
                conn.connect(self.path)
            except OSError as exc:
                conn.close()
                raise ControlUnavailable(
                    f"cannot reach the daemon's control socket {self.path}: {exc.strerror or exc}"
                    " (is `nfcbridge run` up, and are you its user?)"
                ) from None
            self._local.conn = conn
            self._local.reader = conn.makefile("rb")
            with self._lock:
                self._all.append(conn)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.reader.close()
            conn.close()
            self._local.conn = None
            with self._lock:
                if conn in self._all:
                    self._all.remove(conn)
