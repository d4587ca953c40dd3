"""NTAG 424 DNA and 424 DNA TagTamper on every front door (mock, PN532+nfcpy, vpcd+pyscard).

Each backend provisions both chips (factory key, URL template, diversified keys, SDM,
write restricted, two verifying reads) into a real registry; then a tap reads the SUN
message and the reference receiver's checker verifies it; a replayed message and an
opened tamper loop are anomalies, a genuine tap is not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.emulated.ntag424 import ATS, Ntag424Chip
from nfcbridge.receiver.sun_check import SunChecker
from nfcbridge.worker import read_sun
from provisioning.registry import Registry
from provisioning.sun_provision import provision_sun_tag
from tests.conformance.conftest import TAG_TIMEOUT

MASTER = bytes.fromhex("00112233445566778899AABBCCDDEEFF")


def event(uid: str, sun: dict[str, str] | None) -> dict[str, object]:
    return {"tag": {"uid": uid, "sun": sun}}


@pytest.mark.parametrize("tagtamper", [False, True], ids=["424", "424tt"])
def test_provision_and_tap_a_424_on_each_front_door(rig, tmp_path: Path, tagtamper: bool):
    chip = rig.place(Ntag424Chip(tagtamper=tagtamper))
    target = rig.reader.wait_for_tag(TAG_TIMEOUT)
    assert target.iso_dep and target.uid == chip.uid
    assert target.ats is not None and ATS.endswith(target.ats)  # pcsc: historical bytes only
    with Registry.open(f"sqlite:///{tmp_path / 'r.db'}") as registry:
        done = provision_sun_tag(
            rig.reader,
            registry,
            master_key=MASTER,
            key_version=1,
            base_url="https://tap.example/t",
            batch="conf",
            operator="conformance",
        )
        assert done.product == ("NTAG424DNATT" if tagtamper else "NTAG424DNA")
        assert registry.sun_tag(done.record.uid) is not None
    checker = SunChecker(MASTER, (1,))
    uid = done.record.uid
    sun = read_sun(rig.reader, rig.reader.reselect())
    assert sun is not None
    assert checker.check(event(uid, sun)) == []  # a genuine tap
    assert checker.check(event(uid, sun)) == ["sun_replayed"]  # the same message again
    if tagtamper:
        chip.open_tamper_loop()
        opened = read_sun(rig.reader, rig.reader.reselect())
        assert checker.check(event(uid, opened)) == ["tamper_open"]
