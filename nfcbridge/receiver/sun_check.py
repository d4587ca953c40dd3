"""SUN verification where the keys are: the reference receiver checks ``tag.sun`` of taps.

For each UID, in the order the taps happened: the SDMMAC must verify with the keys derived
from the master key (``drivers.ntag424``: meta key per key version, file key per UID), the
UID in the message must be the tapped UID, and the counter must be strictly above the last
accepted one (a replayed or cloned message is refused). A TagTamper status with the loop
open now or ever (latched) is reported. The anomaly names are stable strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SUN_INVALID = "sun_invalid"  # the MAC does not verify, or the message is not for this UID
SUN_REPLAYED = "sun_replayed"  # counter not above the last accepted one: replay or clone
TAMPER_OPEN = "tamper_open"  # TagTamper loop open now, or opened since provisioning


@dataclass
class SunChecker:
    master_key: bytes
    key_versions: tuple[int, ...] = (1,)
    last_counter: dict[str, int] = field(default_factory=dict)

    def check(self, event: dict[str, Any]) -> list[str]:
        """Anomalies of one tap's SUN message (empty for a genuine tap or no message)."""
        tag = event.get("tag") or {}  # a manual registration has no tag
        sun_block = tag.get("sun") if isinstance(tag, dict) else None
        if not isinstance(sun_block, dict) or not isinstance(sun_block.get("url"), str):
            return []
        from drivers import sun
        from drivers.ntag424 import KEY_FILE, SUN_PARAMS, meta_key
        from drivers.ntag424_crypto import tag_key

        uid = str(tag.get("uid", "")).upper()
        params = sun.SunParams(
            picc=SUN_PARAMS.picc, enc=SUN_PARAMS.enc, mac=SUN_PARAMS.mac, tamper_in_file_data=True
        )
        result = None
        for version in self._versions(sun_block):

            def file_key(tag_uid: bytes, version: int = version) -> bytes:
                return tag_key(self.master_key, tag_uid, KEY_FILE, version)

            try:
                result = sun.verify_url(
                    sun_block["url"], meta_key(self.master_key, version), file_key, params
                )
            except (sun.SunError, ValueError):
                continue
            if result.valid:
                break
        if result is None or not result.valid or result.uid.hex().upper() != uid:
            return [SUN_INVALID]
        anomalies = []
        last = self.last_counter.get(uid)
        if last is not None and result.counter <= last:
            anomalies.append(SUN_REPLAYED)
        else:
            self.last_counter[uid] = result.counter
        tamper = result.tamper
        if tamper and "open" in (tamper.get("latched"), tamper.get("current")):
            anomalies.append(TAMPER_OPEN)
        return anomalies

    def _versions(self, block: dict[str, Any]) -> Iterable[int]:
        hinted = block.get("key_version")
        if isinstance(hinted, int) and not isinstance(hinted, bool):
            yield hinted
        yield from (v for v in self.key_versions if v != hinted)
