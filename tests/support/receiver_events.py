"""Signed tap events for tests of the reference receiver (a fresh webhook secret per run),
and a receiver running in the background for tests that forward to one."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from nfcbridge.receiver.server import ReceiverHTTPServer
from nfcbridge.receiver.store import EventStore
from nfcbridge.signing import decode_secret, signed_headers
from tests.support.harness import new_secret
from tests.support.loopback_http import LOOPBACK

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
KEY = decode_secret(SECRET)


def event(seq: int = 1, reader: str = "s001", **over: object) -> dict[str, object]:
    """A valid v1 tap event as a sender would post it."""
    return {
        "schema": "nfcbridge.tap/1",
        "event_id": str(uuid.uuid4()),
        "station": "rig",
        "reader": reader,
        "seq": seq,
        "occurred_at": "2026-11-24T07:58:12.345Z",
        "clock_synced": False,
        "tag": {"uid": "04A1B2C3D4E5F6", "product": "NTAG213", "genuine": True},
        "registry": {"state": "active", "customer": "psn:k1:ab", "provider": "P-01"},
        "origin": "simulated",
        "anomalies": [],
        **over,
    }


def post_raw(srv: ReceiverHTTPServer, event_id: str, raw: bytes) -> httpx.Response:
    """POST *raw* signed with ``KEY`` for *event_id*."""
    return LOOPBACK.post(srv.url, content=raw, headers=signed_headers(KEY, event_id, raw))


def post(srv: ReceiverHTTPServer, ev: dict[str, object]) -> httpx.Response:
    return post_raw(srv, str(ev["event_id"]), json.dumps(ev).encode())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ReceiverHTTPServer]:
    """A receiver on 127.0.0.1:0 with a fresh store, keyed with ``KEY``."""
    store = EventStore(tmp_path / "rx.db")
    srv = ReceiverHTTPServer(("127.0.0.1", 0), KEY, store)
    srv.start_background()
    yield srv
    srv.stop()
    store.close()


def start_receiver(directory: Path) -> tuple[ReceiverHTTPServer, Path]:
    """A receiver on 127.0.0.1:0 storing into ``directory/rx.db``, keyed with a fresh secret
    written owner-only to ``directory/whsec.txt``: the server and that file."""
    secret = new_secret()
    secret_file = directory / "whsec.txt"
    secret_file.write_text(secret)
    secret_file.chmod(0o600)
    store = EventStore(directory / "rx.db")
    srv = ReceiverHTTPServer(("127.0.0.1", 0), decode_secret(secret), store)
    srv.start_background()
    return srv, secret_file


def stop_receiver(srv: ReceiverHTTPServer) -> None:
    srv.stop()
    srv.store.close()


@contextmanager
def running_receiver(directory: Path) -> Iterator[tuple[ReceiverHTTPServer, Path]]:
    """``start_receiver`` for the length of a ``with`` block."""
    srv, secret_file = start_receiver(directory)
    try:
        yield srv, secret_file
    finally:
        stop_receiver(srv)
