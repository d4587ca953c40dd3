"""The reference receiver: a small HTTP server for tap events (schema ``nfcbridge.tap/1``).

``POST`` (any path) with a Standard Webhooks signature: 200 ``{"ok": true, "duplicate":
false}`` when stored, 200 with ``"duplicate": true`` for an event id already stored (a
retry after a lost reply: acknowledged, not stored twice), 401 for a bad or stale
signature (the sender should retry with a fresh one, so this is not a permanent failure
for the daemon's signer), 400 for a body that is not a v1 tap event (permanent), 413 for
a body over 1 MiB. A seq that is not the next one for its reader is logged as a gap (the
report lists gaps from what is stored, so late arrivals close them).
``GET /health`` answers the number of events, ``GET /report`` the report as JSON.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from nfcbridge.receiver.report import build_report
from nfcbridge.receiver.store import EventStore
from nfcbridge.signing import SignatureInvalid, verify

log = logging.getLogger("nfcbridge.receiver")
SCHEMA = "nfcbridge.tap/1"
MAX_BODY = 1 << 20


class EventInvalid(ValueError):
    pass


def check_event(event: Any, webhook_id: str) -> dict[str, Any]:
    """*event* if it is a v1 tap event whose id is the webhook id; ``EventInvalid`` if not."""
    if not isinstance(event, dict):
        raise EventInvalid("body is not a JSON object")
    if event.get("schema") != SCHEMA:
        raise EventInvalid(f"schema is {event.get('schema')!r}, expected {SCHEMA!r}")
    for name, kind in (
        ("event_id", str),
        ("station", str),
        ("reader", str),
        ("seq", int),
        ("occurred_at", str),
        ("tag", dict),
        ("anomalies", list),
    ):
        if not isinstance(event.get(name), kind) or isinstance(event.get(name), bool):
            raise EventInvalid(f"field {name!r} missing or not a {kind.__name__}")
    if event["event_id"] != webhook_id:
        raise EventInvalid("event_id differs from webhook-id")
    if not isinstance(event["tag"].get("uid"), str):
        raise EventInvalid("field 'tag.uid' missing")
    if event.get("origin") not in ("reader", "simulated"):
        raise EventInvalid("field 'origin' must be 'reader' or 'simulated'")
    if event.get("registry") is not None and not isinstance(event["registry"], dict):
        raise EventInvalid("field 'registry' must be an object or null")
    try:
        moment = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
    except ValueError:
        raise EventInvalid("field 'occurred_at' is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise EventInvalid("field 'occurred_at' has no time zone")
    return event


class _Handler(BaseHTTPRequestHandler):
    server: ReceiverHTTPServer
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: with Nagle on, the body waits for the client's
    # delayed ACK (40 ms on Linux) on every keep-alive request
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self._reply(413, {"ok": False, "error": "body too large"}, close=True)
            return
        body = self.rfile.read(length)
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

    def do_GET(self) -> None:
        if self.path == "/health":
            self._reply(200, {"ok": True, "events": self.server.store.count()})
        elif self.path == "/report":
            self._reply(200, build_report(self.server.store.events()))
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
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("receiver: " + format, *args)


class ReceiverHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], key: bytes, store: EventStore) -> None:
        super().__init__(address, _Handler)
        self.key = key
        self.store = store

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


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port); loopback by default."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]") or "127.0.0.1", int(port)
