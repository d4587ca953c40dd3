"""The reference receiver: a small HTTP server for tap events (schema ``nfcbridge.tap/1``).

``POST`` (any path) with a Standard Webhooks signature: 200 ``{"ok": true, "duplicate":
false}`` when stored, 200 with ``"duplicate": true`` for an event id already stored (a
retry after a lost reply: acknowledged, not stored twice), 401 for a bad or stale
signature (the sender should retry with a fresh one, so this is not a permanent failure
for the daemon's signer), 400 for a body that is not a v1 tap event (permanent) or a bad
Content-Length, 411 without one, 413 for a body over 1 MiB (never read, whatever the
headers say). A request cut short (a sender that died) is logged as truncated, not as a
bad signature, and gets no answer. Threads are bounded; ``/report`` is for loopback
clients unless the server is told otherwise. A seq that is not the next one for its reader
is logged as a gap (the report lists gaps from what is stored, so late arrivals close them).
``GET /health`` answers the number of events, ``GET /report`` the report as JSON (with SUN
messages verified when the server has the master key: ``nfcbridge.receiver.sun_check``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from nfcbridge.receiver.event_schema import EventInvalid, check_event
from nfcbridge.receiver.report import build_report
from nfcbridge.receiver.store import EventStore
from nfcbridge.receiver.sun_check import SunChecker
from nfcbridge.signing import SignatureInvalid, verify

__all__ = ["EventInvalid", "ReceiverHTTPServer", "check_event"]

log = logging.getLogger("nfcbridge.receiver")
SCHEMA = "nfcbridge.tap/1"
MAX_BODY = 1 << 20


class _Handler(BaseHTTPRequestHandler):
    server: ReceiverHTTPServer
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: with Nagle on, the body waits for the client's
    # delayed ACK (40 ms on Linux) on every keep-alive request
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        body = self._read_body()
        if body is None:
            return
        try:
            webhook_id = verify(self.server.key, dict(self.headers.items()), body)
        except SignatureInvalid as exc:
            log.warning("receiver: refused a request: %s", exc)
            self._reply(401, {"ok": False, "error": str(exc)})
            return
        try:
            event = check_event(json.loads(body), webhook_id)
        except (ValueError, EventInvalid) as exc:
            log.warning("receiver: rejected event %s: %s", webhook_id, exc)
            self._reply(400, {"ok": False, "error": str(exc)})
            return
        new, expected = self.server.store.add(event)
        if expected is not None:
            log.warning(
                "receiver: %s/%s seq %s arrived, expected %s (gap or late arrival)",
                event["station"],
                event["reader"],
                event["seq"],
                expected,
            )
        self._reply(200, {"ok": True, "duplicate": not new, "event_id": webhook_id})

    def _read_body(self) -> bytes | None:
        """The body, or None once answered: at most ``MAX_BODY`` bytes are ever read,
        whatever the headers say; a request cut short (a sender that died) is told apart
        from a forged one and gets no answer."""
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            self._reply(411, {"ok": False, "error": "a Content-Length is required"}, close=True)
            return None
        raw = (self.headers.get("content-length") or "").strip()
        if not raw.isdigit():  # missing, "abc", "-1", "-5", "1e9"
            error = f"bad Content-Length {raw[:20]!r}" if raw else "a Content-Length is required"
            self._reply(400 if raw else 411, {"ok": False, "error": error}, close=True)
            return None
        length = int(raw)
        if length > MAX_BODY:
            self._reply(413, {"ok": False, "error": "body too large"}, close=True)
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            log.warning(
                "receiver: truncated request from %s (%d of %d bytes): the sender hung up; "
                "not a signature failure",
                self.client_address[0],
                len(body),
                length,
            )
            self.close_connection = True
            return None
        return body

    def do_GET(self) -> None:
        if self.path == "/health":
            self._reply(200, {"ok": True, "events": self.server.store.count()})
        elif self.path == "/report" and not self.server.may_report_to(self.client_address[0]):
            self._reply(403, {"ok": False, "error": "the report is served to loopback only"})
        elif self.path == "/report":
            events = self.server.store.events()
            self._reply(200, build_report(events, sun_checker=self.server.new_sun_checker()))
        else:
            self._reply(404, {"ok": False, "error": "not found"})

    def _reply(self, status: int, data: dict[str, Any], close: bool = False) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        if close:
            self.send_header("connection", "close")
            self.close_connection = True
        try:
            self.end_headers()
            self.wfile.write(payload)
        except OSError as exc:  # the sender went away before the answer: its retry will tell
            log.info("receiver: could not answer %s: %s", self.client_address[0], exc)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("receiver: " + format, *args)


class ReceiverHTTPServer(ThreadingHTTPServer):
    """At most ``max_threads`` requests are served at once (further connections wait in the
    listen backlog); a connection idle for ``timeout`` seconds is dropped. ``/report`` is
    answered to loopback clients only unless *report_anywhere*."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        key: bytes,
        store: EventStore,
        *,
        max_threads: int = 32,
        timeout: float = 30.0,
        report_anywhere: bool = False,
        sun_checker: SunChecker | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self.key = key
        self.store = store
        self.sun_checker = sun_checker
        self.report_anywhere = report_anywhere
        self.request_timeout = timeout
        self._slots = threading.BoundedSemaphore(max_threads)

    def new_sun_checker(self) -> SunChecker | None:
        """A fresh checker per report: counters are judged over all stored taps in order."""
        if self.sun_checker is None:
            return None
        return SunChecker(self.sun_checker.master_key, self.sun_checker.key_versions)

    def may_report_to(self, host: str) -> bool:
        if self.report_anywhere:
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()  # bounded: the accept loop waits for a free thread
        try:
            request.settimeout(self.request_timeout)
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.warning("receiver: connection from %s failed", client_address[0], exc_info=True)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start_background(self) -> threading.Thread:
        thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="receiver", daemon=True
        )
        thread.start()
        return thread

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
