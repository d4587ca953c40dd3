"""The control socket: owner-only, peer credentials checked, taps travel the reader path."""

from __future__ import annotations

import json
import os
import socket
import stat
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drivers import mock
from nfcbridge.config import load_settings
from nfcbridge.control import ControlServer, request
from nfcbridge.daemon import Daemon
from nfcbridge.sdnotify import SdNotify
from tests.support.daemon_config import config


@pytest.fixture
def daemon(tmp_path: Path):
    d = Daemon(
        load_settings(
            config(
                tmp_path,
                """
[[readers]]
name = "door"
url = "serial:/dev/nfcbridge-test-absent"
""",
            )
        ),
        notify=SdNotify(""),
        reader_backoff=(0.05, 0.2),
    )
    thread = threading.Thread(target=d.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    assert d.ready.wait(20)
    yield d
    d.request_stop()
    thread.join(30)
    assert not thread.is_alive()


def test_socket_is_owner_only(daemon: Daemon) -> None:
    mode = stat.S_IMODE(os.stat(daemon.settings.control_socket).st_mode)
    assert mode == 0o600


def test_injected_tap_is_committed_simulated_and_then_signalled(daemon: Daemon) -> None:
    sock = daemon.settings.control_socket
    answer = request(sock, {"op": "tap", "reader": "rig", "uid": "04A1B2C3D4E5F6", "hold": 0.05})
    assert answer["ok"] and answer["origin"] == "simulated" and answer["seq"] == 1
    stored = daemon.outbox.events()
    assert [e.event_id for e in stored] == [answer["event_id"]]
    assert '"origin":"simulated"' in stored[0].payload
    assert mock.bench("ctl-rig").signals == [True]
    second = request(sock, {"op": "tap", "reader": "rig", "uid": "04A1B2C3D4E5F7"})
    assert second["seq"] == 2


def test_taps_on_a_real_reader_are_refused(daemon: Daemon) -> None:
    answer = request(
        daemon.settings.control_socket, {"op": "tap", "reader": "door", "uid": "04A1B2C3D4E5F6"}
    )
    assert not answer["ok"] and "mock" in answer["error"]
    assert daemon.outbox.count() == 0


def test_other_readers_go_on_while_one_is_absent(daemon: Daemon) -> None:
    time.sleep(0.3)
    assert daemon.workers["door"].health.reopens >= 1
    assert daemon.workers["door"].health.state == "reconnecting"
    answer = request(
        daemon.settings.control_socket, {"op": "tap", "reader": "rig", "uid": "04A1B2C3D4E5F6"}
    )
    assert answer["ok"] and answer["event_id"]


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"op": "nope"}, "unknown op"),
        ({"op": "tap", "reader": "ghost", "uid": "04A1B2C3D4E5F6"}, "no reader"),
        ({"op": "tap", "reader": "rig", "uid": "zz"}, "bad tap request"),
        ({"op": "tap", "reader": "rig", "uid": "04A1B2C3D4E5F6", "hold": 1e6}, "hold"),
    ],
)
def test_bad_requests_get_an_error_line(daemon: Daemon, message: dict, error: str) -> None:
    answer = request(daemon.settings.control_socket, message)
    assert not answer["ok"] and error in answer["error"]


def test_status_over_the_socket(daemon: Daemon) -> None:
    status = request(daemon.settings.control_socket, {"op": "status"})["status"]
    assert status["running"] and {r["name"] for r in status["readers"]} == {"rig", "door"}
    assert status["outbox"]["forwarders"][0]["name"] == "file"


class _Stub:
    def reader_settings(self, name: str):
        return None

    def worker(self, name: str):
        raise KeyError(name)

    def status(self) -> dict:
        return {"ok": 1}


def test_a_peer_of_another_uid_is_refused(tmp_path: Path) -> None:
    server = ControlServer(tmp_path / "c.sock", _Stub(), allowed_uid=os.geteuid() + 4242)
    server.start()
    try:
        answer = request(tmp_path / "c.sock", {"op": "status"})
    finally:
        server.close()
    assert not answer["ok"] and "refused" in answer["error"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_another_real_user_is_refused_even_with_a_loosened_mode() -> None:
    directory = Path(tempfile.mkdtemp(prefix="nfcb-ctl-"))  # pytest's tmp dirs are 0700
    os.chmod(directory, 0o755)
    path = directory / "c.sock"
    server = ControlServer(path, _Stub())
    server.start()
    os.chmod(path, 0o666)  # an operator's mistake: the peer check still refuses
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: become nobody, ask for the status
        try:
            os.setgid(65534)
            os.setuid(65534)
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(path))
                s.sendall(b'{"op": "status"}\n')
                os.write(write_end, s.makefile("rb").readline() or b"EOF")
        except BaseException as exc:
            os.write(write_end, repr(exc).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    got = os.read(read_end, 4096)
    server.close()
    directory.rmdir()
    assert b"refused" in got and b"65534" in got


def test_a_simulated_tap_carries_the_moment_given_as_at(daemon: Daemon) -> None:
    sock = daemon.settings.control_socket
    answer = request(
        sock,
        {"op": "tap", "reader": "rig", "uid": "04A1B2C3D4E5F6", "at": "2026-11-24T07:58:12.345Z"},
    )
    assert answer["ok"] and answer["origin"] == "simulated"
    later = request(
        sock,
        {"op": "tap", "reader": "rig", "uid": "04A1B2C3D4E5F7", "at": "2026-11-24T09:00:00+01:00"},
    )
    unstamped = request(sock, {"op": "tap", "reader": "rig", "uid": "04A1B2C3D4E5F8"})
    payloads = {e.event_id: json.loads(e.payload) for e in daemon.outbox.events()}
    first, second = payloads[answer["event_id"]], payloads[later["event_id"]]
    assert first["occurred_at"] == "2026-11-24T07:58:12.345Z"
    assert second["occurred_at"] == "2026-11-24T08:00:00.000Z"  # converted to UTC
    assert first["clock_synced"] is False and first["origin"] == "simulated"
    own_clock = payloads[unstamped["event_id"]]["occurred_at"]
    assert own_clock[:4] == str(datetime.now(UTC).year)  # the station clock, not a stamp


@pytest.mark.parametrize(
    ("at", "error"),
    [
        ("yesterday", "not an ISO 8601 time"),
        ("2026-11-24T07:58:12", "needs a time zone"),
        (1764000000, "must be an ISO 8601 string"),
    ],
)
def test_a_malformed_at_is_refused_and_nothing_is_tapped(
    daemon: Daemon, at: object, error: str
) -> None:
    answer = request(
        daemon.settings.control_socket,
        {"op": "tap", "reader": "rig", "uid": "04A1B2C3D4E5F6", "at": at},
    )
    assert not answer["ok"] and error in answer["error"]
    assert daemon.outbox.count() == 0 and mock.bench("ctl-rig").tag is None


def test_a_stamp_is_never_honoured_for_a_real_reader(daemon: Daemon) -> None:
    door = daemon.workers["door"]  # serial: its taps are origin "reader"
    door.stamp_next("04A1B2C3D4E5F6", datetime(2020, 1, 1, tzinfo=UTC))
    assert door.origin == "reader"
    assert door._take_stamp("04A1B2C3D4E5F6") is None


def test_a_stamp_is_for_one_tap_of_one_tag_only(daemon: Daemon) -> None:
    rig = daemon.workers["rig"]
    rig.stamp_next("04A1B2C3D4E5F6", datetime(2020, 1, 1, tzinfo=UTC))
    rig.stamp_next("04A1B2C3D4E5F6", None)  # what the control channel does after each tap
    assert rig._take_stamp("04A1B2C3D4E5F6") is None
    rig.stamp_next("04A1B2C3D4E5F6", datetime(2020, 1, 1, tzinfo=UTC))
    assert rig._take_stamp("04A1B2C3D4E5F7") is None  # another tag: not its moment


def test_a_tap_that_was_not_stored_is_answered_not_ok_with_the_reason(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nfcbridge.outbox import OutboxError

    def disk_full(event: object) -> object:
        raise OutboxError("outbox o.db: database or disk is full")

    monkeypatch.setattr(daemon.outbox, "commit", disk_full)
    answer = request(
        daemon.settings.control_socket,
        {"op": "tap", "reader": "rig", "uid": "04A1B2C3D4E5F6", "hold": 0},
    )
    assert answer["ok"] is False and answer["event_id"] is None
    assert "NOT stored" in answer["error"] and "disk is full" in answer["error"]
    assert daemon.outbox is not None and daemon.outbox.count() == 0


def test_a_manual_registration_that_was_not_stored_is_answered_not_ok_with_the_reason(
    daemon: Daemon,
) -> None:
    assert daemon.outbox is not None
    with daemon.outbox.transaction() as conn:  # SQLite refuses the insert, as on a full disk
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON events"
            " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    answer = request(
        daemon.settings.control_socket,
        {
            "op": "manual",
            "kind": "start",
            "staff": "S-1",
            "customer": "ext:1",
            "provider": "P-1",
            "reason": "technical_fault",
            "note": "kortläsaren svarade inte",
            "at": datetime.now(UTC).isoformat(),
        },
    )
    assert answer["ok"] is False
    assert (
        answer["error"].startswith("not stored, register again")
        and "disk is full" in (answer["error"])
    )
    assert daemon.outbox.count() == 0 and daemon.notes is not None and daemon.notes.count() == 0
