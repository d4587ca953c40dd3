"""Test harness for the daemon: a real webhook backend and a daemon run as a subprocess.

``RecordingBackend`` is an ``http.server.ThreadingHTTPServer`` on 127.0.0.1 that checks every
request with the ``standardwebhooks`` package (an implementation nobody here wrote), stores
events by ``webhook-id`` and records every delivery attempt. It can be told to fail a share
of requests in the ways a real backend fails: 503, 429 with Retry-After, a connection
dropped before the request is read, and the nastiest one, a commit whose reply is lost (the
event is stored, then the connection is closed without an answer).

Used by tests/integration/test_daemon_*.py, tests/chaos and bench/taps.py.
"""

from __future__ import annotations

import base64
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from nfcbridge.control import ControlError
from nfcbridge.control import request as control_request

REPO = Path(__file__).resolve().parents[2]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up (a killed daemon) are expected here


class RecordingBackend:
    def __init__(
        self, secret: str, *, port: int = 0, fail_rate: float = 0.0, seed: int = 1
    ) -> None:
        self.verifier = Webhook(secret)
        self.port = port
        self.fail_rate = fail_rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.stored: dict[str, dict[str, Any]] = {}  # event_id -> payload
        self.order: list[str] = []  # event ids in first-arrival order
        self.deliveries: list[str] = []  # every accepted request's webhook-id
        self.bad_signatures = 0
        self.id_mismatch = 0
        self.failures: dict[str, int] = {}
        self.acked_at: dict[str, float] = {}  # event_id -> first 2xx sent (monotonic)
        self.server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> RecordingBackend:
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                backend._handle(self)

        self.server = _QuietServer(("127.0.0.1", self.port), Handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )  # stop() waits for the poll: 0.5 s by default
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/taps"

    # -- requests -------------------------------------------------------------------------
    def _fail(self, kind: str) -> None:
        self.failures[kind] = self.failures.get(kind, 0) + 1

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        with self.lock:
            roll = self.rng.random()
            mode = None
            if roll < self.fail_rate:
                mode = self.rng.choice(["503", "429", "drop_before", "lost_reply", "lost_reply"])
        if mode == "drop_before":
            self._fail(mode)
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return
        length = int(h.headers.get("content-length", "0"))
        body = h.rfile.read(length)
        if len(body) < length:  # the sender died mid-request (SIGKILL): nothing to answer
            self._fail("truncated")
            h.close_connection = True
            return
        headers = {k.lower(): v for k, v in h.headers.items()}
        if mode in ("503", "429"):
            self._fail(mode)
            self._answer(h, int(mode), b"try later", {"retry-after": "0"} if mode == "429" else {})
            return
        try:
            payload = self.verifier.verify(body, headers)
        except WebhookVerificationError:
            with self.lock:
                self.bad_signatures += 1
            self._answer(h, 401, b"bad signature")
            return
        event_id = headers["webhook-id"]
        with self.lock:
            if payload.get("event_id") != event_id:
                self.id_mismatch += 1
            if event_id not in self.stored:
                self.stored[event_id] = payload
                self.order.append(event_id)
            self.deliveries.append(event_id)
        if mode == "lost_reply":  # committed, but the answer never arrives
            self._fail(mode)
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return
        with self.lock:
            self.acked_at.setdefault(event_id, time.monotonic())
        self._answer(h, 204, b"")

    @staticmethod
    def _answer(
        h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        try:
            h.send_response(status)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.send_header("content-length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
        except OSError:
            pass

    def ids(self) -> set[str]:
        with self.lock:
            return set(self.stored)


# -- the daemon as a subprocess --------------------------------------------------------------
def write_config(
    directory: Path,
    *,
    readers: list[tuple[str, str]],
    forwarders: str = "",
    extra: str = "",
    retap_window: float = 0.0,
) -> Path:
    lines = [
        "[station]",
        'name = "test-station"',
        f'data_dir = "{directory}"',
        "[registry]",
        'url = "none"',
        "[logging]",
        'format = "json"',
        'level = "warning"',
    ]
    for name, url in readers:
        lines += [
            "[[readers]]",
            f'name = "{name}"',
            f'url = "{url}"',
            f"retap_window = {retap_window}",
        ]
    text = "\n".join(lines) + "\n" + forwarders + "\n" + extra + "\n"
    path = directory / "nfcbridge.toml"
    path.write_text(text)
    return path


def webhook_forwarder(
    url: str, secret_file: Path, *, max_backoff: float = 0.5, timeout: float = 2.0
) -> str:
    return (
        f'[[forwarders]]\ntype = "webhook"\nname = "backend"\nurl = "{url}"\n'
        f'secret_file = "{secret_file}"\nmax_backoff = {max_backoff}\ntimeout = {timeout}\n'
    )


def start_daemon(config: Path, log: Path | None = None) -> subprocess.Popen[bytes]:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("NOTIFY_SOCKET", None)
    return subprocess.Popen(
        [sys.executable, "-m", "nfcbridge.cli.main", "run", "--config", str(config)],
        cwd=REPO,
        stdout=out,
        stderr=out,
        env=env,
    )


def wait_ready(proc: subprocess.Popen[bytes], sock: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited with {proc.returncode} before it was ready")
        with contextlib.suppress(OSError, ValueError, ControlError):
            if control_request(sock, {"op": "ping"}, timeout=2.0).get("ok"):
                return
        time.sleep(0.05)
    raise TimeoutError("daemon not ready")


def stop_daemon(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def uid_for(i: int) -> str:
    return "04" + (i % (1 << 48)).to_bytes(6, "big").hex().upper()
