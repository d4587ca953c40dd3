"""Control socket requests are untrusted bytes: each case here crashed, or committed a tap
it then called refused, on an earlier main (issue 10). A refused request changes nothing."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from nfcbridge.config import load_settings
from nfcbridge.control import request
from nfcbridge.daemon import Daemon
from nfcbridge.sdnotify import SdNotify
from tests.support.daemon_config import config

UID = "04A1B2C3D4E5F6"


@pytest.fixture
def daemon(tmp_path: Path):
    d = Daemon(load_settings(config(tmp_path)), notify=SdNotify(""))
    thread = threading.Thread(target=d.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    assert d.ready.wait(20)
    yield d
    d.request_stop()
    thread.join(30)
    assert not thread.is_alive()


def _raw(path: Path, line: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(line + b"\n")
        return sock.makefile("rb").readline()


def test_deeply_nested_json_is_a_refused_request_not_an_internal_error(daemon: Daemon) -> None:
    sock = daemon.settings.control_socket
    for line in (b"[" * 20000 + b"]" * 20000, b'{"op": ' + b"[" * 30 + b"]" * 30 + b"}"):
        answer = _raw(sock, line)
        assert b'"ok": false' in answer and b"nested too deeply" in answer
        assert b"internal error" not in answer
    assert request(sock, {"op": "ping"})["ok"]  # the server goes on


@pytest.mark.parametrize("wait", [None, "soon", -1, 61, 1e9, True])
def test_a_refused_wait_commits_no_tap(daemon: Daemon, wait: object) -> None:
    sock = daemon.settings.control_socket
    answer = request(sock, {"op": "tap", "reader": "rig", "uid": UID, "wait": wait})
    assert not answer["ok"] and "wait" in answer["error"]
    assert daemon.outbox.count() == 0


@pytest.mark.parametrize(
    "at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1999-12-31T23:59:59Z"]
)
def test_an_at_outside_the_plausible_years_is_refused(daemon: Daemon, at: str) -> None:
    sock = daemon.settings.control_socket
    answer = request(sock, {"op": "tap", "reader": "rig", "uid": UID, "at": at})
    assert not answer["ok"] and "'at'" in answer["error"]
    assert daemon.outbox.count() == 0


@pytest.mark.parametrize(
    ("fields", "word"),
    [
        ({"uid": 12}, "uid"),
        ({"uid": "04A1"}, "7 bytes"),
        ({"product": "NTAG999"}, "product"),
        ({"product": ["NTAG213"]}, "product"),
        ({"hold": "0.3"}, "hold"),
        ({"hold": -0.5}, "hold"),
    ],
)
def test_bad_tap_fields_are_refused_before_anything_is_placed(
    daemon: Daemon, fields: dict, word: str
) -> None:
    sock = daemon.settings.control_socket
    answer = request(sock, {"op": "tap", "reader": "rig", "uid": UID, **fields})
    assert not answer["ok"] and word in answer["error"]
    assert daemon.outbox.count() == 0


def test_json_constants_and_bad_utf8_are_refused(daemon: Daemon) -> None:
    sock = daemon.settings.control_socket
    for line in (b'{"op": "tap", "hold": NaN}', b'{"op": "\xff"}', b"1" * 5000):
        answer = _raw(sock, line)
        assert b'"ok": false' in answer and b"internal error" not in answer
