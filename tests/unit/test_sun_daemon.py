"""The daemon's one tap path reads the SUN message of a 424 DNA and forwards it (issue 14).

A real daemon (mock reader, real SQLite registry, jsonl forwarder): a provisioned 424 on
the door gives taps with ``tag.sun`` that the receiver's checker accepts, counter rising;
an NTAG213 carrying the same UID (a clone) gives ``sun_missing``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from drivers import mock, open_reader
from drivers.emulated.chip import EmulatedTag
from drivers.emulated.ntag424 import Ntag424Chip
from nfcbridge.config import load_settings
from nfcbridge.daemon import Daemon
from nfcbridge.receiver.report import build_report
from nfcbridge.receiver.sun_check import SunChecker
from nfcbridge.sdnotify import SdNotify
from provisioning.registry import Registry
from tests.support.daemon_config import config
from tests.support.sun_tags import MASTER, provision_test_sun_tag


def wait_lines(path: Path, count: int, timeout: float = 10.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
            if len(lines) >= count:
                return lines
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} events in {path}")


@pytest.mark.parametrize("check_signature", [False, True])
def test_daemon_taps_of_a_sun_tag_carry_a_message_the_receiver_verifies(
    tmp_path: Path, check_signature: bool
) -> None:
    """With the NTAG21x tap-time signature check on, a 424 tap still reads its SUN message
    (the check is for Type 2 tags; the message proves the 424)."""
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    chip = Ntag424Chip()
    with Registry.open(url) as registry:
        desk = mock.bench("sun-desk")
        desk.place(chip)  # type: ignore[arg-type]
        with open_reader("mock:sun-desk") as reader:
            reader.wait_for_tag(1)
            done = provision_test_sun_tag(reader, registry, batch="b")
        desk.remove()
    text = config(tmp_path).read_text().replace('url = "none"', f'url = "{url}"')
    if check_signature:
        text = text.replace("retap_window = 0.0", "retap_window = 0.0\ncheck_signature = true")
    (tmp_path / "c.toml").write_text(text)
    d = Daemon(load_settings(tmp_path / "c.toml"), notify=SdNotify(""))
    d.prepare()
    door = mock.bench("ctl-rig")
    taps = tmp_path / "taps.jsonl"
    try:
        d.start()
        worker = d.workers["rig"]
        for n, tag in enumerate([chip, chip, EmulatedTag("NTAG213", uid=chip.uid)], 1):
            door.place(tag)  # type: ignore[arg-type]  # the third: a clone of the UID
            wait_lines(taps, n)
            worker.field_empty.clear()
            door.remove()
            assert worker.field_empty.wait(5), "the worker did not see the tag leave"
    finally:
        d.shutdown()
    events = wait_lines(taps, 3)
    uid = done.record.uid
    assert [e["tag"]["uid"] for e in events] == [uid] * 3  # type: ignore[index]
    assert "sun" in events[0]["tag"] and "sun" in events[1]["tag"]  # type: ignore[operator]
    assert events[0]["tag"]["signature"] is None  # type: ignore[index]
    clone_anomalies = ["not_attached", "sun_missing"]
    if check_signature:  # the clone, an NTAG213, was checked: the emulator's test key
        assert events[2]["tag"]["signature"] == "test-key"  # type: ignore[index]
    assert events[2]["anomalies"] == clone_anomalies
    report = build_report(events, sun_checker=SunChecker(MASTER, (1,)))  # type: ignore[arg-type]
    kinds = {(a["kind"], a["event_id"]) for a in report["anomalies"]}
    sun_kinds = {k for k in kinds if k[0].startswith(("sun", "tamper"))}
    assert sun_kinds == {("sun_missing", events[2]["event_id"])}
