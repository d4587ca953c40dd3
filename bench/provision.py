"""Software time per provisioned tag: the batch runner on the mock reader (no simulated air
time) with a SQLite registry in a temporary directory, beside the bare tag layer doing the
same tag work without the registry, plus the machine-independent figures: tag commands,
writes and activations per tag (from the chip model's log) and the modelled air time.

Per tag, the runner's time runs from selection to the committed ``in_stock`` row (identify,
signature, blank check, NDEF write and read-back, lock, verify after re-select, record);
the bare path does the same tag commands with no registry lookup and no record, so the
ratio shows what the registry costs. Air time uses docs/hardware.md's frame timings through
``bench/commands_per_tag.py`` (activation 4.5 ms, WRITE 0.9 + 4.1 ms, ...).

    python bench/provision.py [--tags 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from commands_per_tag import ACTIVATION_MS, air_time_ms

from drivers import open_reader
from drivers.emulated.chip import EmulatedTag
from drivers.mock import bench
from drivers.ntag import Ntag21x
from provisioning.batch import BatchSettings, run_batch
from provisioning.batch_token import new_token, render_uri, uri_message
from provisioning.registry import Registry

SETTINGS = BatchSettings(tag_timeout=5.0)
WRITES = (0xA2, 0xA0)


def count_activations() -> None:
    """Patch EmulatedTag.activate to count each tag's activations (``tag.activations``)."""
    original = EmulatedTag.activate

    def counting(self: EmulatedTag) -> bool:
        self.activations = getattr(self, "activations", 0) + 1  # type: ignore[attr-defined]
        return original(self)

    EmulatedTag.activate = counting  # type: ignore[method-assign]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def runner_path(n: int, directory: Path) -> dict[str, Any]:
    times: list[float] = []
    commands: list[int] = []
    writes: list[int] = []
    air: list[float] = []
    acts: list[int] = []
    with (
        Registry.open(f"sqlite:///{directory / 'registry.db'}") as reg,
        open_reader("mock:bench-provision?roll=ntag213") as reader,
    ):
        started = time.perf_counter()
        for result in run_batch(reader, reg, "bench", operator="bench", count=n, settings=SETTINGS):
            if result.outcome != "provisioned":
                raise RuntimeError(f"bench tag not provisioned: {result}")
            tag = bench("bench-provision").tag
            assert tag is not None
            times.append(result.elapsed)
            commands.append(len(tag.log))
            writes.append(sum(1 for c in tag.log if c[0] in WRITES))
            acts.append(getattr(tag, "activations", 0))
            air.append(acts[-1] * ACTIVATION_MS + sum(air_time_ms(c) for c in tag.log))
        wall = time.perf_counter() - started
        if not reg.verify_audit().ok:
            raise RuntimeError("audit chain broken after the bench")
    return {
        "times": times,
        "wall_per_tag": wall / n,
        "commands": statistics.median(commands),
        "writes": statistics.median(writes),
        "activations": statistics.median(acts),
        "air_ms": statistics.median(air),
    }


def bare_path(n: int) -> list[float]:
    """The same tag work through the tag layer alone: no registry lookup, no record."""
    times = []
    field = bench("bench-bare")
    with open_reader("mock:bench-bare") as reader:
        for _ in range(n):
            field.place(EmulatedTag("NTAG213"))
            start = time.perf_counter()
            ntag = Ntag21x(reader, reader.wait_for_tag(5))
            ntag.identify()
            ntag.originality()
            if not ntag.is_blank():
                raise RuntimeError("bench tag not blank")
            message = uri_message(render_uri(SETTINGS.uri_template, new_token(12)))
            ntag.write_ndef(message)
            ntag.lock_permanently(expected_message=message)
            times.append(time.perf_counter() - start)
            field.remove()
    return times


def measure(n: int) -> dict[str, Any]:
    count_activations()
    with tempfile.TemporaryDirectory(prefix="nfcb-bench-provision-") as tmp:
        ours = runner_path(n, Path(tmp))
    bare = bare_path(n)
    ms = 1000.0
    median = statistics.median(ours["times"]) * ms
    bare_median = statistics.median(bare) * ms
    return {
        "tags": n,
        "runner_ms_per_tag_median": round(median, 2),
        "runner_ms_per_tag_p99": round(percentile(ours["times"], 0.99) * ms, 2),
        "runner_wall_ms_per_tag": round(ours["wall_per_tag"] * ms, 2),
        "bare_tag_layer_ms_per_tag_median": round(bare_median, 2),
        "bare_tag_layer_ms_per_tag_p99": round(percentile(bare, 0.99) * ms, 2),
        "ratio_runner_to_bare": round(median / bare_median, 2),
        "software_tags_per_minute": round(60_000 / median, 0),
        "tag_commands_per_tag": ours["commands"],
        "tag_writes_per_tag": ours["writes"],
        "activations_per_tag": ours["activations"],
        "modelled_air_ms_per_tag": round(ours["air_ms"], 1),
    }


UNITS = {
    "tags": "tags",
    "ratio_runner_to_bare": "x",
    "software_tags_per_minute": "tags/min",
    "tag_commands_per_tag": "commands",
    "tag_writes_per_tag": "writes",
    "activations_per_tag": "activations",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=200, help="tags to provision (default 200)")
    parser.add_argument("--json", action="store_true", help="one JSON object of the figures")
    args = parser.parse_args()
    figures = measure(args.tags)
    if args.json:
        print(json.dumps(figures))
        return
    for name, value in figures.items():
        print(f"{name}: {value} {UNITS.get(name, 'ms')}")


if __name__ == "__main__":
    main()
