"""The daemon's local control channel: a Unix socket, owner-only, JSON lines.

Security: the socket is created with mode 0600 (umask during bind, then chmod), and every
connection's peer credentials (``SO_PEERCRED``) are checked: a process of another uid is
refused even if the file mode was loosened by hand.

Protocol: one JSON object per line in, one per line out.

    {"op": "status"}
        -> {"ok": true, "status": {...}}            (what ``nfcbridge status`` prints)
    {"op": "manual", "kind": "start", "staff": "S-001", "customer": "ext:4711",
     "at": "2026-11-24T07:58:00+01:00", "reason": "technical_fault", "note": "..."}
        -> {"ok": true, "event_id": "...", "seq": 3, "origin": "manual"}
           (a manual registration: ``nfcbridge.manual``; the note stays at the station)
    {"op": "tap", "reader": "desk", "uid": "04A1B2C3D4E5F6", "hold": 0.3,
     "at": "2026-11-24T07:58:12.345Z"}
        -> {"ok": true, "event_id": "...", "seq": 12, "origin": "simulated"}
           or {"ok": true, "event_id": null, "note": "..."} when the presentation made no
           new event (re-tap window) or was not seen in time

A tap places an emulated tag with that UID on the mock reader's bench and removes it
``hold`` seconds after the reader saw it, so an injected tap travels the real reader path
(worker, debounce, pipeline, commit, signal): it is one presentation like any other, and it
is ``simulated`` because the reader is a mock. Only readers whose URL scheme is ``mock``
accept it; real readers are refused. Taps on one reader are serialised (a reader has one
field); the reply comes once the worker has handled the presentation, before the hold ends.

``at`` (optional, ISO 8601 with a zone) is the simulated moment of the tap: the event's
``occurred_at`` is stamped with it instead of the station clock, and ``clock_synced`` is
false. A replay at 100x needs it, because a clock cannot measure scenario durations at
that speed (``nfcbridge.rig.replay``). It is only ever honoured for mock readers, whose
events say ``origin: simulated``: a real reader's ``occurred_at`` always comes from the
station clock (``nfcbridge.worker``). A malformed ``at`` is refused before anything is
placed on the reader.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import struct
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from drivers import table
from nfcbridge.config import ReaderSettings
from nfcbridge.control_request import (
    MAX_HOLD,
    ControlError,
    decode_request,
    parse_at,
    parse_tap_request,
)
from nfcbridge.events import TapEvent

if TYPE_CHECKING:
    from drivers.emulated.chip import EmulatedTag
    from drivers.emulated.field import Field
    from nfcbridge.worker import ReaderWorker

__all__ = ["MAX_HOLD", "ControlError", "ControlServer", "parse_at", "request"]

log = logging.getLogger("nfcbridge.control")

MAX_LINE = 65536


class DaemonView(Protocol):
    def reader_settings(self, name: str) -> ReaderSettings | None: ...
    def worker(self, name: str) -> ReaderWorker: ...
    def status(self) -> dict[str, Any]: ...
    def manual(self, request: dict[str, Any]) -> dict[str, Any]: ...


RUN_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def parse_run(value: Any) -> str | None:
    """The ``run`` of a tap request (the replay's id); ``ControlError`` if malformed."""
    if value is None:
        return None
    if not isinstance(value, str) or not RUN_ID.match(value):
        raise ControlError("bad tap request: 'run' must be 1-64 letters, digits, _ . : -")
    return value


def peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


class ControlServer:
    def __init__(
        self, path: str | Path, daemon: DaemonView, *, allowed_uid: int | None = None
    ) -> None:
        self.path = Path(path)
        self.daemon = daemon
        self.allowed_uid = os.geteuid() if allowed_uid is None else allowed_uid
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._closing = threading.Event()

    # -- lifecycle ------------------------------------------------------------------------
    def check(self) -> None:
        """Before binding: path short enough, directory there, no live daemon on it."""
        if len(os.fsencode(self.path)) >= 108:
            raise ControlError(f"control socket path {self.path} is too long (max 107 bytes)")
        if not self.path.parent.is_dir():
            raise ControlError(f"control socket directory {self.path.parent} does not exist")
        if self.path.exists():
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(str(self.path))
            except OSError:
                pass  # stale socket of a daemon that died: replaced on start
            else:
                raise ControlError(
                    f"control socket {self.path} is in use: is another daemon running?"
                )
            finally:
                probe.close()

    def start(self) -> None:
        self.check()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        sock.listen(16)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept_loop, name="control", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    # -- connections ----------------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._closing.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(
                target=self._serve, args=(conn,), name="control-conn", daemon=True
            ).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            uid = peer_uid(conn)
            if uid != self.allowed_uid:
                log.warning("control socket: refused a connection from uid %d", uid)
                conn.settimeout(1.0)  # take (and ignore) the request so the client can read
                with contextlib.suppress(OSError):
                    conn.makefile("rb").readline(MAX_LINE)
                self._reply(conn, {"ok": False, "error": f"refused: uid {uid} is not allowed"})
                return
            reader = conn.makefile("rb")
            for raw in reader:
                if len(raw) > MAX_LINE:
                    self._reply(conn, {"ok": False, "error": "request too long"})
                    return
                try:
                    request = decode_request(raw)
                    answer = self.handle(request)
                except (ValueError, ControlError) as exc:
                    answer = {"ok": False, "error": str(exc)}
                except Exception as exc:
                    log.exception("control request failed")
                    answer = {"ok": False, "error": f"internal error: {exc}"}
                if not self._reply(conn, answer):
                    return

    @staticmethod
    def _reply(conn: socket.socket, answer: dict[str, Any]) -> bool:
        from provisioning.identity import redact_personnummer

        if "error" in answer:  # errors may echo a value: never a personnummer
            answer = {**answer, "error": redact_personnummer(str(answer["error"]))}
        try:
            conn.sendall(json.dumps(answer, default=str).encode() + b"\n")
        except OSError:
            return False
        return True

    # -- operations -----------------------------------------------------------------------
    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        from provisioning.identity import looks_like_personnummer

        for key, value in request.items():  # text that could end in a log or an event
            if looks_like_personnummer(key) or (
                isinstance(value, str) and looks_like_personnummer(value)
            ):
                name = "a field name" if looks_like_personnummer(key) else f"field {key!r}"
                raise ControlError(
                    f"{name} looks like a personnummer or samordningsnummer; refused"
                )
        op = request.get("op")
        if op == "status":
            return {"ok": True, "status": self.daemon.status()}
        if op == "tap":
            return self.tap(request)
        if op == "ping":
            return {"ok": True}
        if op == "manual":
            return self.daemon.manual(request)
        raise ControlError(f"unknown op {op!r} (known: status, tap, manual, ping)")

    def _lock(self, reader: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(reader, threading.Lock())

    def tap(self, request: dict[str, Any]) -> dict[str, Any]:
        from drivers.emulated.chip import EmulatedTag
        from drivers.mock import bench

        req = parse_tap_request(request)  # refused here: nothing placed, nothing committed
        name, uid, hold, at = req.reader, req.uid, req.hold, req.at
        settings = self.daemon.reader_settings(name)
        if settings is None:
            raise ControlError(f"no reader named {name!r}")
        url = table.parse(settings.url)
        if url.scheme != "mock":
            raise ControlError(
                f"reader {name!r} is a {url.scheme}: reader; taps can only be injected into "
                "mock: readers"
            )
        tag = EmulatedTag(req.product, uid=uid)
        run = parse_run(request.get("run"))
        worker = self.daemon.worker(name)
        lock = self._lock(name)
        if not lock.acquire(timeout=MAX_HOLD + 10):
            raise ControlError(f"reader {name!r} is busy")
        field = bench(url.target)
        seen = threading.Event()
        result: dict[str, TapEvent | None] = {}
        uid_hex = uid.hex().upper()

        def listener(presented: str, event: TapEvent | None) -> None:
            if presented == uid_hex and not seen.is_set():
                result["event"] = event
                seen.set()

        worker.presentation_listeners.append(listener)
        worker.stamp_next(uid_hex, at, run)
        try:
            field.place(tag)
            seen.wait(req.wait)
        finally:
            worker.stamp_next(uid_hex, None)  # unused if merged or not seen: never kept
            with contextlib.suppress(ValueError):
                worker.presentation_listeners.remove(listener)
            # the hold counts from the moment the reader saw the tag
            timer = threading.Timer(hold, self._remove, args=(field, tag, worker, lock))
            timer.daemon = True
            timer.start()
        event = result.get("event")
        if event is None:
            note = (
                "merged into the previous presentation (re-tap window)"
                if seen.is_set()
                else "presentation not handled in time (reader down?)"
            )
            return {"ok": True, "event_id": None, "note": note}
        return {
            "ok": True,
            "event_id": event.event_id,
            "seq": event.seq,
            "origin": event.origin,
            "reader": event.reader,
        }

    @staticmethod
    def _remove(field: Field, tag: EmulatedTag, worker: ReaderWorker, lock: threading.Lock) -> None:
        try:
            if field.tag is tag:
                field.remove()
            worker.field_empty.wait(2.0)  # let the worker see the field empty
        finally:
            lock.release()


def request(path: str | Path, message: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """Client side: send one request, return the answer (used by the CLI and tests)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(json.dumps(message).encode() + b"\n")
        data = sock.makefile("rb").readline()
    if not data:
        raise ControlError("the daemon closed the connection without an answer")
    answer: dict[str, Any] = json.loads(data)
    return answer
