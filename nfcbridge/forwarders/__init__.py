"""Forwarders drain the outbox to a backend: webhook, MQTT, JSON lines file.

``build_forwarder`` turns one ``[[forwarders]]`` table into a forwarder, reading its secrets
(so a missing secret file is a config error before any thread starts). Heavy imports
(httpx, paho) happen only for the kinds configured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nfcbridge.config import ForwarderSettings, Settings, read_secret
from nfcbridge.errors import ConfigError
from nfcbridge.forwarders.base import Forwarder, Outcome, TransientError
from nfcbridge.outbox import Outbox
from nfcbridge.seams import DeliveryMetrics

__all__ = ["Forwarder", "Outcome", "TransientError", "build_forwarder"]


def build_forwarder(
    fs: ForwarderSettings,
    index: int,
    settings: Settings,
    outbox: Outbox,
    *,
    metrics: DeliveryMetrics | None = None,
) -> Forwarder:
    key = f"forwarders[{index}]"
    common: dict[str, Any] = {
        "max_backoff": fs.max_backoff,
        "batch_size": fs.batch_size,
        "metrics": metrics,
    }
    if fs.type == "webhook":
        from nfcbridge.forwarders.webhook import WebhookForwarder

        secret = read_secret(fs.secret_file, file=settings.source, key=key + ".secret_file")
        return WebhookForwarder(
            fs.name, outbox, url=fs.url, secret=secret, timeout=fs.timeout, **common
        )
    if fs.type == "mqtt":
        from nfcbridge.forwarders.mqtt import MqttForwarder

        password = (
            read_secret(fs.password_file, file=settings.source, key=key + ".password_file")
            if fs.password_file
            else None
        )
        return MqttForwarder(
            fs.name,
            outbox,
            station=settings.station.name,
            host=fs.host,
            port=fs.port,
            topic=fs.topic,
            client_id=fs.client_id,
            username=fs.username,
            password=password,
            timeout=fs.timeout,
            tls=fs.tls,
            ca_file=fs.ca_file,
            **common,
        )
    from nfcbridge.forwarders.jsonl import JsonlForwarder

    folder = Path(fs.path).parent
    if not folder.is_dir():
        where = {"file": settings.source, "key": key + ".path"}
        raise ConfigError(f"directory {folder} does not exist", **where)
    return JsonlForwarder(fs.name, outbox, path=fs.path, **common)
