"""MQTT forwarder through paho-mqtt 2.x: QoS 1, an event is done only on its PUBACK.

The client keeps a persistent session (``clean_session=False`` with a stable client id,
``nfcbridge-<station>-<forwarder>`` by default), so messages in flight when the connection
drops are re-sent by paho after the reconnect. The outbox stays the source of truth: events
whose PUBACK did not arrive within ``timeout`` are published again on the next round (a
duplicate with the same ``event_id``, which subscribers deduplicate). Reconnection uses
paho's own backoff, bounded by ``max_backoff``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from nfcbridge.forwarders.base import Forwarder, Outcome, TransientError
from nfcbridge.outbox import Outbox, StoredEvent

log = logging.getLogger("nfcbridge.forwarders.mqtt")


class MqttForwarder(Forwarder):
    kind = "mqtt"

    def __init__(
        self,
        name: str,
        outbox: Outbox,
        *,
        station: str,
        host: str,
        port: int,
        topic: str,
        client_id: str = "",
        username: str = "",
        password: bytes | None = None,
        timeout: float = 10.0,
        tls: bool = False,
        ca_file: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(name, outbox, **kwargs)
        self.station = station
        self.host = host
        self.port = port
        self.topic = topic
        self.client_id = client_id or f"nfcbridge-{station}-{name}"
        self.username = username
        self.password = password
        self.timeout = timeout
        self.tls = tls  # verify the broker's certificate and name (ca_file, or system CAs)
        self.ca_file = ca_file
        self._connected = threading.Event()
        self._acked: set[int] = set()
        self._cond = threading.Condition()
        self.client: Any = None

    # -- paho callbacks (run in paho's network thread) ------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not reason.is_failure:
            self._connected.set()
            log.info("mqtt %s connected to %s:%d", self.forwarder_name, self.host, self.port)
        else:
            log.warning("mqtt %s connect refused: %s", self.forwarder_name, reason)
        with self._cond:
            self._cond.notify_all()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self._connected.clear()
        with self._cond:
            self._cond.notify_all()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._cond:
            self._acked.add(mid)
            self._cond.notify_all()

    # -- lifecycle ------------------------------------------------------------------------
    def setup(self) -> None:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,  # type: ignore[attr-defined]
            client_id=self.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        if self.username:
            client.username_pw_set(self.username, (self.password or b"").decode() or None)
        if self.tls:
            client.tls_set(ca_certs=self.ca_file or None)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.max_inflight_messages_set(max(20, self.batch_size))
        client.reconnect_delay_set(min_delay=1, max_delay=max(1, int(self.max_backoff)))
        client.connect_async(self.host, self.port, keepalive=30)
        client.loop_start()
        self.client = client

    def teardown(self) -> None:
        if self.client is not None:
            try:
                self.client.disconnect()
            finally:
                self.client.loop_stop()

    def topic_for(self, event: StoredEvent) -> str:
        return self.topic.format(station=self.station, reader=event.reader)

    def send(self, batch: list[StoredEvent]) -> Outcome:
        if not self._connected.wait(min(self.timeout, 2.0)):
            return Outcome(retry=TransientError(f"broker {self.host}:{self.port} not connected"))
        with self._cond:
            self._acked.clear()
        mids: dict[int, StoredEvent] = {}
        for event in batch:
            info = self.client.publish(self.topic_for(event), event.payload, qos=1)
            if info.rc != 0:  # not connected any more: what was published may still be acked
                break
            mids[info.mid] = event
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while not set(mids) <= self._acked and not self._halt.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
            acked = [mids[m] for m in mids if m in self._acked]
        outcome = Outcome(delivered=sorted(acked, key=lambda e: e.id))
        if len(acked) < len(batch):
            outcome.retry = TransientError(
                f"{len(batch) - len(acked)} of {len(batch)} messages not acknowledged",
                retry_after=0.2 if self._connected.is_set() else None,
            )
        return outcome
