"""The reference receiver facing hostile or broken clients: bounded memory and threads,
truncated requests told from forged ones, the report for loopback only."""

from __future__ import annotations

import base64
import logging
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from nfcbridge.receiver.server import MAX_BODY, ReceiverHTTPServer
from nfcbridge.receiver.store import EventStore
from nfcbridge.signing import decode_secret

KEY = decode_secret("whsec_" + base64.b64encode(os.urandom(32)).decode())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ReceiverHTTPServer]:
    store = EventStore(tmp_path / "rx.db")
    srv = ReceiverHTTPServer(("127.0.0.1", 0), KEY, store, max_threads=2, timeout=5.0)
    srv.start_background()
    yield srv
    srv.stop()
    store.close()


def raw_request(server: ReceiverHTTPServer, head: str, body: bytes = b"") -> bytes:
    with socket.create_connection(server.server_address[:2], timeout=10) as s:
        s.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("length", ["abc", "-5", "-1", "1e9"])
def test_a_bad_content_length_is_a_400_and_nothing_is_read(
    server: ReceiverHTTPServer, length: str
) -> None:
    # -1 used to mean "read until the sender stops": 200 MiB in memory before the 401
    answer = raw_request(server, f"POST / HTTP/1.1\nHost: x\nContent-Length: {length}\n", b"x" * 10)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:80]


def test_a_body_over_the_cap_is_never_read(server: ReceiverHTTPServer) -> None:
    answer = raw_request(
        server, f"POST / HTTP/1.1\nHost: x\nContent-Length: {MAX_BODY + 1}\n", b"x" * 100
    )
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_post_without_length_is_refused(server: ReceiverHTTPServer) -> None:
    answer = raw_request(server, "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n")
    assert answer.startswith(b"HTTP/1.1 411")


def test_a_truncated_request_is_not_a_bad_signature(
    server: ReceiverHTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nfcbridge.receiver")
    answer = raw_request(server, "POST / HTTP/1.1\nHost: x\nContent-Length: 500\n", b"{" * 100)
    assert answer == b""  # nothing to answer: the sender is gone
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "truncated" in messages and "signature" not in messages.replace("not a signature", "")
    assert not [r for r in caplog.records if r.exc_info]  # no traceback


def test_the_report_is_for_loopback_clients_only(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "rx.db")
    srv = ReceiverHTTPServer(("127.0.0.1", 0), KEY, store)
    try:
        assert srv.may_report_to("127.0.0.1") and srv.may_report_to("::1")
        assert not srv.may_report_to("192.0.2.7")
        srv.report_anywhere = True
        assert srv.may_report_to("192.0.2.7")
    finally:
        srv.server_close()
        store.close()


def test_threads_are_bounded(server: ReceiverHTTPServer) -> None:
    """Idle connections hold at most max_threads handler threads; the rest wait."""
    before = threading.active_count()
    idle = [socket.create_connection(server.server_address[:2]) for _ in range(6)]
    try:
        threading.Event().wait(0.5)
        assert threading.active_count() - before <= 2
    finally:
        for s in idle:
            s.close()
