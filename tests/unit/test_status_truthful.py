"""Truthful answers: ``status`` shows what fails, secrets mean one thing everywhere."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from drivers.errors import ReaderGone
from drivers.mock import MockReader
from nfcbridge.cli.main import cli
from nfcbridge.config import ReaderSettings, load_settings
from nfcbridge.daemon import Daemon
from nfcbridge.errors import ConfigError
from nfcbridge.forwarders import build_forwarder
from nfcbridge.outbox import Outbox, OutboxError
from nfcbridge.pipeline import TapPipeline
from nfcbridge.receiver.server import ReceiverHTTPServer
from nfcbridge.receiver.store import EventStore
from nfcbridge.sdnotify import SdNotify
from nfcbridge.signing import load_secret
from nfcbridge.worker import ReaderWorker
from tests.support.events import make
from tests.support.harness import RecordingBackend, new_secret
from tests.support.waiting import wait_until


def write_config(tmp_path: Path, forwarders: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f'[station]\nname = "st"\ndata_dir = "{tmp_path}"\n[registry]\nurl = "none"\n'
        '[[readers]]\nname = "rig"\nurl = "mock:truthful"\nretap_window = 0.0\n' + forwarders
    )
    return path


def webhook(url: str, secret_file: Path) -> str:
    return (
        f'[[forwarders]]\ntype = "webhook"\nname = "backend"\nurl = "{url}"\n'
        f'secret_file = "{secret_file}"\nmax_backoff = 0.05\n'
    )


@pytest.fixture
def running() -> Iterator[Callable[[Path], Daemon]]:
    started: list[tuple[Daemon, threading.Thread]] = []

    def start(config: Path) -> Daemon:
        d = Daemon(load_settings(config), notify=SdNotify(""), drain_timeout=0.5)
        thread = threading.Thread(target=d.run, kwargs={"install_signals": False}, daemon=True)
        thread.start()
        assert d.ready.wait(20)
        started.append((d, thread))
        return d

    yield start
    for d, thread in started:
        d.request_stop()
        thread.join(30)


def status(config: Path) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["--config", str(config), "status", "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_a_backend_refusing_every_request_shows_as_failing_and_status_exits_11(
    tmp_path: Path, running: Callable[[Path], Daemon]
) -> None:
    backend = RecordingBackend(new_secret()).start()  # another key: 401 for everything
    try:
        secret = tmp_path / "hook.secret"
        secret.write_text(new_secret())
        config = write_config(tmp_path, webhook(backend.url, secret))
        daemon = running(config)
        assert daemon.outbox is not None
        daemon.pipeline.tap("rig", "04A1B2C3D4E5F6", "simulated")  # type: ignore[union-attr]
        assert wait_until(lambda: backend.bad_signatures >= 2, timeout=20.0, poll=0.02)
        code, data = status(config)
        assert code == 11 and data["running"] and not data["healthy"]
        (row,) = data["outbox"]["forwarders"]
        assert row["state"] == "failing" and "401" in row["last_error"]
        assert row["pending"] == 1 and row["dead_letters"] == 0
    finally:
        backend.stop()


def test_a_running_daemon_whose_outbox_query_fails_is_running_and_unhealthy(
    tmp_path: Path, running: Callable[[Path], Daemon], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, "")
    daemon = running(config)

    def broken(names: list[str]) -> list[object]:
        raise OutboxError("outbox: database is locked")

    monkeypatch.setattr(daemon.outbox, "progress_all", broken)
    code, data = status(config)
    assert code == 11 and data["running"] is True and data["healthy"] is False
    assert any("database is locked" in p for p in data["problems"])


def test_a_healthy_daemon_status_exits_0(tmp_path: Path, running: Callable[[Path], Daemon]) -> None:
    config = write_config(tmp_path, "")
    running(config)
    code, data = status(config)
    assert code == 0 and data["healthy"] and data["problems"] == []


def test_a_recovered_reader_has_no_last_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = MockReader._open
    calls: list[int] = []

    def absent_once(self: MockReader) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ReaderGone("reader unplugged")
        original(self)

    monkeypatch.setattr(MockReader, "_open", absent_once)
    box = Outbox.open(tmp_path / "o.db")
    worker = ReaderWorker(
        ReaderSettings("desk", "mock:recovers"), TapPipeline("st", box), min_backoff=0.01
    )
    worker.start()
    try:
        assert wait_until(
            lambda: worker.health.reopens == 1 and worker.health.state == "ok",
            timeout=20.0,
            poll=0.02,
        )
        assert worker.health.errors == 1  # counted, history
        assert worker.health.last_error is None  # but no longer the reader's state
    finally:
        worker.stop()
        worker.join(5)
        box.close()


@pytest.mark.parametrize(
    "content",
    ["whsec_", "whsec_not-base64!", "whsec_" + base64.b64encode(b"short").decode()],
)
def test_an_invalid_webhook_secret_is_a_config_error_naming_the_key(
    tmp_path: Path, content: str
) -> None:
    secret = tmp_path / "hook.secret"
    secret.write_text(content)
    config = write_config(tmp_path, webhook("http://127.0.0.1:9/taps", secret))
    daemon = Daemon(load_settings(config), notify=SdNotify(""))
    with pytest.raises(ConfigError) as caught:
        daemon.run(install_signals=False)
    assert caught.value.exit_code == 3 and caught.value.key == "forwarders[0].secret_file"


def test_one_secret_file_without_prefix_delivers_from_daemon_to_receiver(tmp_path: Path) -> None:
    secret = tmp_path / "hook.secret"
    secret.write_text(base64.b64encode(os.urandom(24)).decode() + "\n")  # no whsec_ prefix
    store = EventStore(tmp_path / "rx.db")
    server = ReceiverHTTPServer(("127.0.0.1", 0), load_secret(secret), store)
    server.start_background()
    box = Outbox.open(tmp_path / "o.db")
    try:
        settings = load_settings(write_config(tmp_path, webhook(server.url, secret)))
        fw = build_forwarder(settings.forwarders[0], 0, settings, box)
        box.commit(make(event_id="0190f7a4-0000-7000-8000-000000000001"))
        fw.start()
        assert wait_until(lambda: store.count() == 1, timeout=20.0, poll=0.02)
        fw.stop()
        fw.join(5)
    finally:
        server.stop()
        store.close()
        box.close()
