"""The daemon in-process: systemd notifications, watchdog while healthy, drain on stop."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from drivers import mock
from drivers.emulated.chip import EmulatedTag
from nfcbridge.config import load_settings
from nfcbridge.daemon import Daemon
from nfcbridge.sdnotify import SdNotify, watchdog_interval
from tests.support.daemon_config import config


@pytest.fixture
def notify_socket(monkeypatch: pytest.MonkeyPatch):
    name = f"nfcbridge-test-{os.getpid()}-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    yield sock
    sock.close()


def messages(sock: socket.socket, until: str, limit: int = 50) -> list[str]:
    got: list[str] = []
    for _ in range(limit):
        got.append(sock.recv(4096).decode())
        if until in got[-1]:
            return got
    raise AssertionError(f"{until} not received: {got}")


def test_sdnotify_abstract_and_path_sockets(tmp_path: Path, notify_socket) -> None:
    assert SdNotify().ready("hello")
    assert notify_socket.recv(100) == b"READY=1\nSTATUS=hello"
    path = tmp_path / "n.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(str(path))
        assert SdNotify(str(path)).watchdog()
        assert s.recv(100) == b"WATCHDOG=1"
    assert not SdNotify("").ready()  # not under systemd: a no-op


def test_watchdog_interval_is_half_of_watchdog_usec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 2.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert watchdog_interval() is None


def test_ready_after_stores_open_then_watchdog_pings_then_drain(
    tmp_path: Path, notify_socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "100000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    d = Daemon(load_settings(config(tmp_path)))
    thread = threading.Thread(target=d.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    got = messages(notify_socket, "READY=1")
    assert d.outbox is not None and d.outbox.path.exists()  # opened before READY
    got += messages(notify_socket, "WATCHDOG=1")
    # a tap through the mock bench, then stop: the drain delivers it before exiting
    mock.bench("ctl-rig").place(EmulatedTag(uid=bytes.fromhex("04A1B2C3D4E5F6")))
    deadline = time.monotonic() + 10
    while d.outbox.count() == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    d.request_stop()
    got += messages(notify_socket, "STOPPING=1")
    thread.join(30)
    assert not thread.is_alive()
    lines = (tmp_path / "taps.jsonl").read_text().splitlines()
    assert [json.loads(line)["tag"]["uid"] for line in lines] == ["04A1B2C3D4E5F6"]


def test_no_watchdog_ping_when_a_thread_died(tmp_path: Path) -> None:
    d = Daemon(load_settings(config(tmp_path)), notify=SdNotify(""))
    d.prepare()
    d.start()
    try:
        assert d.healthy()
        d.workers["rig"].stop()
        d.workers["rig"].join(5)
        assert not d.healthy()
    finally:
        d.shutdown()


def test_taps_are_enriched_from_a_real_registry(tmp_path: Path) -> None:
    from provisioning.registry import Registry

    url = f"sqlite:///{tmp_path / 'registry.db'}"
    Registry.open(url).close()  # an empty, migrated registry
    text = config(tmp_path).read_text().replace('url = "none"', f'url = "{url}"')
    (tmp_path / "c.toml").write_text(text)
    d = Daemon(load_settings(tmp_path / "c.toml"), notify=SdNotify(""))
    d.prepare()
    try:
        assert d.enricher is not None and d.pipeline is not None
        event = d.pipeline.tap("rig", "04A1B2C3D4E5F6", "simulated")
    finally:
        d.shutdown()
    assert event.registry is None and event.anomalies == ("unknown_tag",)


@pytest.mark.parametrize(
    ("timeout", "anomalies"), [(0.05, ("registry_unavailable",)), (5.0, ("unknown_tag",))]
)
def test_a_tap_waits_for_the_registry_as_long_as_registry_lookup_timeout_says(
    tmp_path: Path, timeout: float, anomalies: tuple[str, ...]
) -> None:
    """A registry lookup that takes a second: within a 5 s ``lookup_timeout`` the tap gets
    the registry's answer; with 0.05 s it is committed without it."""
    import time

    from provisioning.registry import Registry

    url = f"sqlite:///{tmp_path / 'registry.db'}"
    Registry.open(url).close()
    text = config(tmp_path).read_text()
    text = text.replace('url = "none"', f'url = "{url}"\nlookup_timeout = {timeout}')
    (tmp_path / "c.toml").write_text(text)
    d = Daemon(load_settings(tmp_path / "c.toml"), notify=SdNotify(""))
    d.prepare()
    try:
        assert d.registry is not None and d.pipeline is not None
        answer = d.registry.tap_context

        def slow(uid: bytes) -> object:
            time.sleep(1.0)  # a registry across a slow network
            return answer(uid)

        d.registry.tap_context = slow  # type: ignore[method-assign]
        event = d.pipeline.tap("rig", "04A1B2C3D4E5F6", "simulated")
    finally:
        d.shutdown()
    assert event.anomalies == anomalies


def test_an_unreachable_registry_stops_the_start(tmp_path: Path) -> None:
    from nfcbridge.errors import StoreUnavailable

    text = (
        config(tmp_path)
        .read_text()
        .replace('url = "none"', 'url = "postgresql://nobody@127.0.0.1:1/none"')
    )
    (tmp_path / "c.toml").write_text(text)
    with pytest.raises(StoreUnavailable, match=r"registry\.url"):
        Daemon(load_settings(tmp_path / "c.toml"), notify=SdNotify("")).prepare()


def test_a_daemon_owning_its_process_tunes_the_interpreter_until_it_stops(
    tmp_path: Path,
) -> None:
    import gc
    import sys

    before = sys.getswitchinterval()
    seen: dict[str, float] = {}
    d = Daemon(load_settings(config(tmp_path)), notify=SdNotify(""), own_process=True)
    start = d.start

    def start_and_look() -> None:  # tuned before any thread starts
        seen["frozen"] = gc.get_freeze_count()
        seen["interval"] = sys.getswitchinterval()
        start()

    d.start = start_and_look  # type: ignore[method-assign]
    thread = threading.Thread(target=d.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    assert d.ready.wait(30)
    d.request_stop()
    thread.join(30)
    assert seen["frozen"] > 1000  # modules, settings, drivers, clients
    assert seen["interval"] == 0.001
    assert gc.get_freeze_count() == 0 and sys.getswitchinterval() == before  # handed back


def test_an_embedded_daemon_leaves_the_interpreter_alone(tmp_path: Path) -> None:
    import gc
    import sys

    before = sys.getswitchinterval()
    d = Daemon(load_settings(config(tmp_path)), notify=SdNotify(""))
    thread = threading.Thread(target=d.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    assert d.ready.wait(30)
    frozen, interval = gc.get_freeze_count(), sys.getswitchinterval()
    d.request_stop()
    thread.join(30)
    assert frozen == 0 and interval == before
