"""A real ``nfcbridge provision`` process on a mock roll with a SQLite registry, interrupted
with SIGINT between tags, during the NDEF write and during the lock, once (the tag is
finished, then the batch stops) or twice (forced out: the tag is recorded as a failed
attempt or spoiled), then resumed under the same name: every tag is counted exactly once.

The process runs the unmodified CLI through a small wrapper that (a) holds the chip for a
moment at a chosen command so the signal lands exactly there, and (b) carries the tag that
was in the field over to the resumed run, the way the operator would present the same
physical tag again (its memory, with whatever the interrupted run left in it).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from provisioning import audit
from provisioning.registry import Registry
from provisioning.schema import tags

pytestmark = pytest.mark.slow

WRAPPER = r"""
import json, os, sys, time
from itertools import chain
from drivers import mock
from drivers.emulated import chip

HOLD = 1.0
seen = []
pause = os.environ.get("PAUSE")
n, where = (int(pause.split(":")[0]), pause.split(":")[1]) if pause else (0, "")

def paused():
    print("PAUSED", file=sys.stderr, flush=True)
    time.sleep(HOLD)

original = chip.EmulatedTag.transceive
def transceive(self, command):
    if not any(t is self for t in seen):
        seen.append(self)
    if len(seen) == n and seen[-1] is self and command[0] == 0xA2:
        if (where, command[1]) in (("ndef", 6), ("lock", 3)):
            paused()
    return original(self, command)
chip.EmulatedTag.transceive = transceive

original_removal = mock.MockReader.wait_for_removal
def wait_for_removal(self, timeout=None):
    if where == "between" and len(seen) == n:
        paused()
    return original_removal(self, timeout)
mock.MockReader.wait_for_removal = wait_for_removal

if os.environ.get("LOAD"):
    data = json.loads(open(os.environ["LOAD"]).read())
    carried = chip.EmulatedTag(data["product"], uid=bytes.fromhex(data["uid"]))
    carried.memory[:] = bytes.fromhex(data["memory"])
    roll = mock._tags_from_url
    mock._tags_from_url = lambda url: chain([carried], roll(url))

try:
    from nfcbridge.cli.main import main
    sys.argv[0] = "nfcbridge"
    main()
finally:
    if os.environ.get("DUMP"):
        tag = mock.bench("desk").tag
        with open(os.environ["DUMP"], "w") as fh:
            json.dump({"uid": tag.uid.hex(), "product": tag.product.name,
                       "memory": bytes(tag.memory).hex()}, fh)
"""

COUNT = 5
BATCH = "roll-7"


def command(wrapper: Path) -> list[str]:
    return [
        sys.executable,
        str(wrapper),
        "--operator",
        "desk-erik",
        "provision",
        "--reader",
        "mock:desk?roll=ntag213",
        "--batch",
        BATCH,
        "--count",
        str(COUNT),
        "--timeout",
        "5",
        "--yes",
        "--json",
    ]


def start(wrapper: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    proc = subprocess.Popen(
        command(wrapper),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def wait_for(lines: queue.Queue[str], marker: str, seen: list[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = lines.get(timeout=deadline - time.monotonic())
        seen.append(line)
        if line == "" or line.startswith(marker):
            assert line, f"process ended before {marker}: {''.join(seen)}"
            return
    raise AssertionError(f"no {marker} within 60 s")


def finish(proc: subprocess.Popen[str], lines: queue.Queue[str], seen: list[str]) -> Any:
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.wait(timeout=60)
    while (line := lines.get(timeout=10)) != "":
        seen.append(line)
    return json.loads(out) if out.strip() else None


@pytest.fixture
def desk(tmp_path: Path) -> dict[str, Any]:
    wrapper = tmp_path / "provision_wrapper.py"
    wrapper.write_text(WRAPPER)
    env = {**os.environ, "NFCBRIDGE_DATA_DIR": str(tmp_path / "state"), "PYTHONUNBUFFERED": "1"}
    env.pop("NFCBRIDGE_CONFIG", None)
    return {"wrapper": wrapper, "env": env, "dir": tmp_path}


def interrupted_run(desk: dict[str, Any], pause: str, signals: int) -> tuple[int, Any, str]:
    env = {**desk["env"], "PAUSE": pause, "DUMP": str(desk["dir"] / "carried.json")}
    proc, lines = start(desk["wrapper"], env)
    seen: list[str] = []
    wait_for(lines, "PAUSED", seen)
    for i in range(signals):
        if i:
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
    summary = finish(proc, lines, seen)
    return proc.returncode, summary, "".join(seen)


def resumed_run(desk: dict[str, Any]) -> tuple[int, Any, str]:
    env = {**desk["env"], "LOAD": str(desk["dir"] / "carried.json")}
    proc, lines = start(desk["wrapper"], env)
    seen: list[str] = []
    summary = finish(proc, lines, seen)
    return proc.returncode, summary, "".join(seen)


@pytest.mark.parametrize(
    ("pause", "signals", "carried_first", "carried_then"),
    [
        ("2:between", 1, "provisioned", "refused"),  # stops at once, nothing in progress
        ("3:ndef", 1, "provisioned", "refused"),  # deferred: the tag is finished first
        ("3:lock", 1, "provisioned", "refused"),
        ("3:ndef", 2, "retry", "provisioned"),  # forced out before anything irreversible
        ("3:lock", 2, "spoiled", "refused"),  # forced out after a lock write was sent
    ],
    ids=["between", "ndef-once", "lock-once", "ndef-twice", "lock-twice"],
)
def test_an_interrupted_batch_resumes_and_counts_every_tag_once(
    desk, pause, signals, carried_first, carried_then
):
    code, first, err = interrupted_run(desk, pause, signals)
    assert code == 130, err
    assert first is not None and first["interrupted"], err
    if signals == 1 and pause != "2:between":
        assert "stopping after this tag" in err
    carried_uid = json.loads((desk["dir"] / "carried.json").read_text())["uid"].upper()
    outcome_of = {t["uid"]: t["outcome"] for t in first["tags"]}
    assert outcome_of[carried_uid] == carried_first
    assert len(first["tags"]) == int(pause[0])  # the batch stopped with that tag

    code, second, err = resumed_run(desk)
    assert code == 0, err
    assert second["resumed"] and not second["interrupted"]
    assert second["tags"][0]["uid"] == carried_uid
    assert second["tags"][0]["outcome"] == carried_then
    assert second["batch_totals"]["provisioned"] == COUNT

    printed = [t for run in (first, second) for t in run["tags"]]
    good = [t["uid"] for t in printed if t["outcome"] == "provisioned"]
    spoiled = [t["uid"] for t in printed if t["outcome"] == "spoiled"]
    assert len(good) == len(set(good)) == COUNT  # each tag provisioned once

    with Registry.open(f"sqlite:///{desk['dir'] / 'state' / 'registry.db'}") as reg:
        assert reg.verify_audit().ok
        batch = reg.batch(BATCH)
        assert batch is not None
        with reg.store.read() as conn:
            rows = conn.execute(select(tags.c.uid, tags.c.state).where(tags.c.batch == BATCH))
            by_state: dict[str, set[str]] = {}
            for uid, state in rows:
                by_state.setdefault(state, set()).add(uid)
            attempts = [
                e
                for e in audit.entries(conn)
                if e.action == "tag.attempt_failed" and e.details.get("batch") == BATCH
            ]
        assert by_state.get("in_stock", set()) == set(good)
        assert by_state.get("spoiled", set()) == set(spoiled)
        assert (batch.provisioned, batch.spoiled) == (COUNT, len(spoiled))
        assert batch.attempts == len(attempts) == (1 if carried_first == "retry" else 0)
        history = [e.action for e in reg.history(carried_uid)]
    expected = {
        "provisioned": ["tag.provisioned"],
        "retry": ["tag.attempt_failed", "tag.provisioned"],
        "spoiled": ["tag.spoiled"],
    }[carried_first]
    assert history == expected
