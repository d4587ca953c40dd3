"""A station inside the rig: one mock reader per staff member and a minimal tap pipeline.

Used by ``rig run --standalone`` when no daemon is running: the replay places an
``EmulatedTag`` with the tag's UID on ``drivers.mock.bench(reader)``; a worker per reader
sees it through the real ``mock:`` driver (``wait_for_tag``/``wait_for_removal``, one event
per presentation), builds the schema v1 event, ``origin: simulated``, and hands it to a
delivery (a signed webhook POST to a receiver, or a JSON lines file).

It is not the daemon: no outbox, no retries beyond a few, no registry. Enrichment comes
from the scenario itself, as a registry holding the scenario's tags would give it: an
active tag gives ``{"state": "active", "customer", "provider"}``, a retired one
``{"state": "retired", ...}`` with anomaly ``retired``, an unknown one no registry block
and anomaly ``unknown``. ``occurred_at`` is the tap's scenario moment (``replay`` module
docstring) and ``clock_synced`` is false because it is not the station's clock.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nfcbridge.rig.scenario import Scenario

log = logging.getLogger("nfcbridge.rig")
SCHEMA = "nfcbridge.tap/1"


def enrich(s: Scenario, uid: str) -> tuple[dict[str, Any] | None, list[str]]:
    tag = s.tags.get(uid)
    if tag is None or tag.state == "unknown":
        return None, ["unknown"]
    customer = s.customers.get(tag.customer or "")
    provider = customer.provider if customer else None
    if tag.state == "active":
        return {"state": "active", "customer": tag.customer, "provider": provider}, []
    return {"state": tag.state, "customer": None, "provider": provider}, [tag.state]


class Station:
    """Mock readers and their workers; ``tap`` is a replay sink."""

    def __init__(
        self,
        scenario: Scenario,
        deliver: Callable[[dict[str, Any]], None],
        station: str | None = None,
        see_timeout: float = 10.0,
        run: str | None = None,
    ) -> None:
        self.scenario = scenario
        self.run = run  # the replay's id, carried by every event
        self.deliver = deliver
        self.station = station or scenario.station
        self.see_timeout = see_timeout
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._readers: list[Any] = []
        self._pending: dict[str, datetime | None] = {}
        self._seen: dict[str, threading.Event] = {}
        self._last: dict[str, dict[str, Any] | Exception] = {}

    def __enter__(self) -> Station:
        from drivers.table import open_reader

        for staff in self.scenario.staff.values():
            reader = open_reader(f"mock:{staff.reader}")
            self._readers.append(reader)
            self._seen[staff.reader] = threading.Event()
            thread = threading.Thread(
                target=self._work,
                args=(staff.reader, reader),
                name=f"station-{staff.reader}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        for reader in self._readers:
            reader.close()

    # -- the sink side --------------------------------------------------------------------
    def tap(self, reader: str, uid: str, hold: float, at: datetime | None) -> dict[str, Any]:
        from drivers.emulated.chip import EmulatedTag
        from drivers.mock import bench

        tag = self.scenario.tags.get(uid)
        seen = self._seen[reader]
        seen.clear()
        self._pending[reader] = at
        placed = time.monotonic()
        field = bench(reader)
        field.place(EmulatedTag(tag.product if tag else "NTAG213", uid=bytes.fromhex(uid)))
        try:
            if not seen.wait(self.see_timeout):
                raise TimeoutError(f"reader {reader} did not see tag {uid}")
            outcome = self._last[reader]
            if isinstance(outcome, Exception):
                raise outcome
            time.sleep(max(0.0, placed + hold - time.monotonic()))
        finally:
            field.remove()
        return {"ok": True, "event_id": outcome["event_id"], "seq": outcome["seq"]}

    # -- the reader side ------------------------------------------------------------------
    def _work(self, name: str, reader: Any) -> None:
        from drivers.errors import NoTag

        seq = 0
        while not self._stop.is_set():
            try:
                target = reader.wait_for_tag(timeout=0.2)
            except NoTag:
                continue
            at = self._pending.pop(name, None) or datetime.now(UTC)
            uid = target.uid.hex().upper()
            registry, anomalies = enrich(self.scenario, uid)
            seq += 1
            event = {
                "schema": SCHEMA,
                "event_id": _uuid7(),
                "station": self.station,
                "reader": name,
                "seq": seq,
                "occurred_at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "clock_synced": False,
                "tag": {
                    "uid": uid,
                    "product": self.scenario.tags[uid].product
                    if uid in self.scenario.tags
                    else None,
                    "genuine": None,
                    "signature": None,
                },
                "registry": registry,
                "origin": "simulated",
                "anomalies": anomalies,
            }
            if self.run is not None:
                event["run"] = self.run
            try:
                self.deliver(event)
                self._last[name] = event
            except Exception as exc:
                self._last[name] = exc
            self._seen[name].set()
            while not self._stop.is_set() and not reader.wait_for_removal(timeout=0.2):
                pass


def _uuid7() -> str:
    import uuid6

    return str(uuid6.uuid7())


# -- deliveries -------------------------------------------------------------------------------
class WebhookDelivery:
    """POST each event signed per Standard Webhooks; a few retries, then the error."""

    def __init__(self, url: str, key: bytes, attempts: int = 5, timeout: float = 10.0) -> None:
        import httpx

        self.url = url
        self.key = key
        self.attempts = attempts
        self.client = httpx.Client(timeout=timeout)

    def __call__(self, event: dict[str, Any]) -> None:
        import httpx

        from nfcbridge.signing import signed_headers

        body = json.dumps(event, separators=(",", ":")).encode()
        for attempt in range(1, self.attempts + 1):
            try:
                reply = self.client.post(
                    self.url,
                    content=body,
                    headers=signed_headers(self.key, event["event_id"], body),
                )
            except httpx.HTTPError as exc:
                problem = str(exc)
            else:
                if reply.status_code < 300:
                    return
                problem = f"HTTP {reply.status_code}: {reply.text[:200]}"
                if 400 <= reply.status_code < 500 and reply.status_code not in (401, 408, 429):
                    break
            time.sleep(min(2.0, 0.1 * 2**attempt))
        raise RuntimeError(f"delivery to {self.url} failed: {problem}")

    def close(self) -> None:
        self.client.close()


class JsonlDelivery:
    def __init__(self, path: str | Path) -> None:
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._file.write(json.dumps(event, separators=(",", ":")) + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()
