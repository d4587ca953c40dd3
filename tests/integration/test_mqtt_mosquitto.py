"""The MQTT forwarder against a real Mosquitto started here (ephemeral port, persistence),
stopped and restarted in the middle: nothing is lost."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from nfcbridge.forwarders.mqtt import MqttForwarder
from nfcbridge.outbox import Outbox
from tests.support.events import make
from tests.support.harness import free_port
from tests.support.services import mosquitto_binary

pytestmark = pytest.mark.mqtt  # skipped (a failure in CI) without a broker binary


class Broker:
    def __init__(self, directory: Path, port: int) -> None:
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {directory}/\nautosave_interval 1\n"
        )
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [mosquitto_binary() or "mosquitto", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


class Subscriber:
    def __init__(self, port: int) -> None:
        self.ids: list[str] = []
        self.lock = threading.Lock()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-sub", clean_session=False)
        c.on_connect = lambda cl, u, f, rc, p: cl.subscribe("nfcbridge/taps/#", qos=1)
        c.on_message = self._on_message
        c.reconnect_delay_set(0.1, 0.5)
        c.connect_async("127.0.0.1", port)
        c.loop_start()
        self.client = c

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.ids.append(json.loads(msg.payload)["event_id"])

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_qos1_delivery_survives_a_broker_restart(tmp_path: Path) -> None:
    port = free_port()
    broker = Broker(tmp_path, port)
    broker.start()
    sub = Subscriber(port)
    box = Outbox.open(tmp_path / "o.db")
    fw = MqttForwarder(
        "broker",
        box,
        station="st",
        host="127.0.0.1",
        port=port,
        topic="nfcbridge/taps/{station}/{reader}",
        timeout=2.0,
        max_backoff=1.0,
        base_backoff=0.05,
        idle_wait=0.05,
    )
    try:
        wait(lambda: sub.client.is_connected())
        fw.start()
        first = [box.commit(make(event_id=f"a{i}")).event_id for i in range(20)]
        fw.wake()
        wait(lambda: box.progress("broker").pending == 0)
        broker.stop()  # the broker goes away; taps keep coming
        second = [box.commit(make(event_id=f"b{i}")).event_id for i in range(20)]
        fw.wake()
        time.sleep(0.5)
        assert box.progress("broker").pending == 20  # not marked without a PUBACK
        broker.start()
        wait(lambda: box.progress("broker").pending == 0)
        wait(lambda: set(sub.ids) >= set(first + second))
    finally:
        fw.drain()
        fw.join(10)
        sub.close()
        broker.stop()
        box.close()
    assert set(sub.ids) == set(first + second)  # duplicates allowed, nothing missing
    assert fw.health.delivered >= 40
