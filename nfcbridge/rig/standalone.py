"""A station inside the rig: the daemon itself, in-process, on a temporary directory.

Used by ``rig run --standalone`` when no daemon is running. There is one tap path: the
scenario is seeded into a temporary SQLite registry (``nfcbridge.rig.seed``, what ``rig
seed`` does for a real daemon), and ``nfcbridge.daemon.Daemon`` runs on a temporary outbox
with one ``mock:`` reader per staff member and one forwarder (a signed webhook to a
receiver, or a JSON lines file). Each tap goes through the daemon's control-channel tap
(``ControlServer.tap``, called in-process): the tag is placed on the mock reader, the
reader worker sees it, the pipeline debounces, enriches from the registry, builds the
event (``nfcbridge.events``) and commits it, and the forwarder delivers it with the
daemon's retry policy. So the events, their anomaly names and the customers' names are
byte for byte what a daemon sends (apart from ids and times): ``origin: simulated``,
``occurred_at`` the tap's scenario moment, ``clock_synced: false``.

On leaving, the station waits up to ``drain_timeout`` seconds for the forwarder to
deliver everything, then stops the daemon; anything undelivered or dead-lettered is an
error (``ReplayFailed``), and the temporary directory is removed.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nfcbridge.config import (
    ControlSettings,
    ForwarderSettings,
    OutboxSettings,
    ReaderSettings,
    RegistrySettings,
    Settings,
    StationSettings,
)
from nfcbridge.daemon import Daemon
from nfcbridge.rig.replay import ReplayFailed
from nfcbridge.rig.scenario import Scenario
from nfcbridge.timefmt import utc_iso

if TYPE_CHECKING:
    from nfcbridge.control import ControlServer

OPERATOR = "rig-standalone"


def webhook(url: str, secret_file: str | Path) -> ForwarderSettings:
    """A forwarder to a receiver, as ``[[forwarders]] type = "webhook"`` would configure."""
    return ForwarderSettings(type="webhook", name="receiver", url=url, secret_file=str(secret_file))


def jsonl(path: str | Path) -> ForwarderSettings:
    """A forwarder appending to a JSON lines file."""
    return ForwarderSettings(type="jsonl", name="file", path=str(path))


class Station:
    """The daemon on a temporary directory, fed by the rig; ``tap`` is a replay sink."""

    def __init__(
        self,
        scenario: Scenario,
        forwarder: ForwarderSettings,
        *,
        station: str | None = None,
        retap_window: float = ReaderSettings.retap_window,
        drain_timeout: float = 30.0,
        see_timeout: float = 10.0,
        run: str | None = None,
    ) -> None:
        self.scenario = scenario
        self.forwarder = forwarder
        self.run = run  # the replay's id, carried by every event
        self.station = station or scenario.station
        self.retap_window = retap_window
        self.drain_timeout = drain_timeout
        self.see_timeout = see_timeout
        self.daemon: Daemon | None = None
        self.control: ControlServer | None = None
        self._dir: Path | None = None

    def settings(self, directory: Path) -> Settings:
        readers = tuple(
            ReaderSettings(name=s.reader, url=f"mock:{s.reader}", retap_window=self.retap_window)
            for s in self.scenario.staff.values()
        )
        return Settings(
            station=StationSettings(name=self.station, data_dir=str(directory)),
            registry=RegistrySettings(url=f"sqlite:///{directory / 'registry.db'}"),
            readers=readers,
            outbox=OutboxSettings(keep_days=0),
            forwarders=(self.forwarder,),
            control=ControlSettings(socket="off"),
            source="<rig run --standalone>",
        )

    def __enter__(self) -> Station:
        from nfcbridge.control import ControlServer
        from nfcbridge.rig.seed import seed_registry
        from provisioning.registry import Registry

        self._dir = Path(tempfile.mkdtemp(prefix="nfcbridge-rig-"))
        try:
            settings = self.settings(self._dir)
            with Registry.open(settings.registry_url) as registry:
                seed_registry(registry, self.scenario, operator=OPERATOR)
            daemon = Daemon(settings, drain_timeout=self.drain_timeout)
            daemon.prepare()
            daemon.start()
        except BaseException:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise
        # The daemon's control-channel tap, called in-process (the socket is never bound).
        self.control = ControlServer(self._dir / "control.sock", daemon)
        self.daemon = daemon
        return self

    def __exit__(self, *exc: object) -> None:
        daemon, self.daemon = self.daemon, None
        if daemon is None:
            return
        try:
            problem = self._drain(daemon)
        finally:
            daemon.shutdown()
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
        if problem and exc[0] is None:
            raise ReplayFailed(problem)

    def _drain(self, daemon: Daemon) -> str | None:
        """Wait until the forwarder has everything; what is left, as a sentence."""
        outbox = daemon.outbox
        assert outbox is not None
        name = self.forwarder.name
        deadline = time.monotonic() + self.drain_timeout
        while outbox.progress(name).pending and time.monotonic() < deadline:
            time.sleep(0.05)
        left = outbox.progress(name).pending
        dead = outbox.dead_letters()
        if dead:
            return f"{len(dead)} events rejected by {name}: {dead[0].reason}"
        if left:
            return f"{left} events not delivered by {name} within {self.drain_timeout:g} s"
        return None

    # -- the sink side --------------------------------------------------------------------
    def tap(self, reader: str, uid: str, hold: float, at: datetime | None) -> dict[str, Any]:
        """What ``rig run`` sends a daemon's control socket, handled by the same code."""
        assert self.control is not None, "use the station as a context manager"
        request: dict[str, Any] = {"op": "tap", "reader": reader, "uid": uid, "hold": hold}
        if at is not None:
            request["at"] = utc_iso(at)
        request["wait"] = self.see_timeout
        tag = self.scenario.tags.get(uid)
        if tag is not None:
            request["product"] = tag.product
        if self.run is not None:
            request["run"] = self.run
        answer = self.control.tap(request)
        if answer.get("event_id") is None:
            raise ReplayFailed(f"tap of {uid} on {reader}: {answer.get('note')}")
        return answer

    def manual(self, registration: dict[str, Any]) -> dict[str, Any]:
        """A manual registration, as the daemon's control socket takes it (``op: manual``)."""
        assert self.control is not None, "use the station as a context manager"
        return self.control.handle({"op": "manual", **registration})
