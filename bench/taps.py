"""How fast are durable taps, and how long from tap to commit and to the backend's answer?

Measured side by side in one run (BENCH.md). The daemon runs in this process, tuned as
``nfcbridge run`` tunes its own (``own_process``: the start-up heap frozen out of the
garbage collector, a 1 ms thread switch interval; ``nfcbridge.daemon``). No log handler is
configured, as with ``[logging] level = "warning"``: at the default level "info" a station
also writes one JSON line per tap, after the reader's answer (about 0.1 ms of CPU per tap
on the 2-core test machine; it lowers the taps per second, not the tap -> commit times):

- raw SQLite commits per second: one INSERT + COMMIT per row in WAL mode with
  synchronous=FULL, in the same directory: the floor any durable tap pays;
- durable taps per second through one daemon pipeline: an in-process daemon with one mock
  reader on an endless roll (each removal puts the next tag on), so the worker polls,
  debounces, commits to the outbox and signals as fast as it can; the ratio to raw commits
  is what the pipeline costs on top of the fsync. A tap's commit writes four pages to the
  WAL (the event row, its two unique indexes, the AUTOINCREMENT counter) where a raw
  commit writes one, so the outbox's own commits, without any of the pipeline, stay below
  raw commits too. Beside the rates, what does not depend on the machine: the bytes each
  durable tap and each raw commit hand to the kernel (``wchar`` of /proc/self/io: WAL
  frames, checkpoints), which the outbox's page size (``nfcbridge.outbox.PAGE_SIZE``)
  sets;
- at 100 taps per second (4 mock readers at 25 taps/s each, tags placed on the benches by
  this script) with a local HTTP backend (127.0.0.1, signed webhook, verified): p50 and p99
  of tap (tag placed) -> outbox commit and tap -> backend acknowledgement (the backend's
  2xx written). The backend runs in a process of its own, as it runs on another machine
  at a station: in the daemon's process its HTTP server and signature checks took the GIL
  from the reader threads (the tap -> commit p99 of earlier versions of this script
  included that). Beside it, the floor: raw SQLite FULL commits paced at 100 per second,
  p50 and p99 (a disk syncs an isolated commit more slowly than back-to-back ones). Both
  are measured in operation, after a warm-up (400 taps, 1,600 raw commits) that takes the
  WAL past its first checkpoint: a new file's WAL grows on every commit, and a sync that
  also changes a file's size costs more; on a station that has run for a minute each
  commit overwrites the WAL in place. The pair is measured ``--latency-repeat`` times;
  the figures are the medians of the runs, and the worst run's p99 of each is shown too
  (one stall of the shared disk moves the p99 of a few hundred taps);
- tap -> commit with the originality signature read on each tap (``[[readers]]
  check_signature``) and without, side by side (``signature_on_off``): p50 of each, their
  difference, the tag commands a tap sends (counted from the chip model's log) and the
  modelled cost of the extra commands on an ACR122U (about 20 ms per APDU, docs/hardware.md
  "Timing").

    python bench/taps.py [--seconds 2] [--repeat 7] [--rate-seconds 7] [--latency-repeat 3]
                         [--json]
    python bench/taps.py --signature-only [--signature-taps 200]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers import mock
from drivers.emulated.chip import EmulatedTag
from nfcbridge.config import load_settings
from nfcbridge.daemon import Daemon
from nfcbridge.events import TapEvent
from nfcbridge.sdnotify import SdNotify
from tests.support.backend_process import RecordingBackendProcess
from tests.support.harness import new_secret, write_config
from tests.support.waiting import wait_until


def written_bytes() -> int:
    """Bytes this process has handed to write() so far (/proc/self/io ``wchar``)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise RuntimeError("no wchar in /proc/self/io")


def raw_sqlite_commits(directory: Path, seconds: float) -> tuple[float, float]:
    """(commits per second, bytes written per commit)."""
    path = directory / "raw.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload TEXT)")
    payload = "x" * 300  # about the size of a tap event
    n, written, start = 0, written_bytes(), time.perf_counter()
    while time.perf_counter() - start < seconds:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (payload) VALUES (?)", (payload,))
        conn.execute("COMMIT")
        n += 1
    elapsed, written = time.perf_counter() - start, written_bytes() - written
    conn.close()
    return n / elapsed, written / n


def raw_sqlite_paced(directory: Path, seconds: float, rate: float = 100.0) -> dict[str, float]:
    """p50 and p99 of one raw FULL commit (as above) when commits come *rate* a second."""
    path = directory / "raw-paced.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload TEXT)")
    payload: str = "x" * 300
    for _ in range(WARM_UP_TAPS * 4):  # as the daemon's outbox: a WAL at its size
        conn.execute("INSERT INTO t (payload) VALUES (?)", (payload,))
    times, start = [], time.monotonic()
    for k in range(int(seconds * rate)):
        delay = start + k / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        began = time.perf_counter()
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (payload) VALUES (?)", (payload,))
        conn.execute("COMMIT")
        times.append((time.perf_counter() - began) * 1000)
    conn.close()
    return {
        "raw_sqlite_full_commit_at_100_per_s_p50_ms": pct(times, 50),
        "raw_sqlite_full_commit_at_100_per_s_p99_ms": pct(times, 99),
    }


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else float("nan")


def start_daemon(
    directory: Path, readers: list[tuple[str, str]], forwarders: str = ""
) -> tuple[Daemon, threading.Thread]:
    config = write_config(
        directory, readers=readers, forwarders=forwarders, extra='[control]\nsocket = "off"\n'
    )
    daemon = Daemon(load_settings(config), notify=SdNotify(""), own_process=True)
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    if not daemon.ready.wait(30):
        raise RuntimeError("daemon not ready")
    return daemon, thread


def stop(daemon: Daemon, thread: threading.Thread) -> None:
    daemon.request_stop()
    thread.join(60)
    mock.reset_benches()


def pipeline_taps(directory: Path, seconds: float, run: int) -> tuple[float, float]:
    """(durable taps per second, bytes written per tap) of one daemon, one busy reader."""
    daemon, thread = start_daemon(directory, [("roll", f"mock:bench-roll-{run}?roll=ntag213")])
    assert daemon.outbox is not None
    time.sleep(0.2)  # warm up
    first, written, start = daemon.outbox.count(), written_bytes(), time.perf_counter()
    time.sleep(seconds)
    last, elapsed = daemon.outbox.count(), time.perf_counter() - start
    written = written_bytes() - written
    stop(daemon, thread)
    return (last - first) / elapsed, written / max(1, last - first)


WARM_UP_TAPS = 400  # four pages each: the WAL passes SQLite's 1,000-frame checkpoint


def latencies(
    directory: Path, seconds: float, rate: float = 100.0, readers: int = 4
) -> dict[str, float]:
    secret = new_secret()
    (directory / "hook.secret").write_text(secret)
    backend = RecordingBackendProcess(secret).start()
    forwarder = (
        f'[[forwarders]]\ntype = "webhook"\nname = "backend"\nurl = "{backend.url}"\n'
        f'secret_file = "{directory / "hook.secret"}"\n'
    )
    names = [f"lat-{i}" for i in range(readers)]
    daemon, thread = start_daemon(directory, [(n, f"mock:{n}") for n in names], forwarder)
    assert daemon.pipeline is not None
    placed: dict[str, float] = {}  # uid -> monotonic placement
    committed: dict[str, tuple[str, float]] = {}  # uid -> (event id, monotonic commit)
    done: dict[str, threading.Event] = {}

    def on_commit(event: TapEvent) -> None:
        assert event.tag is not None  # a tap, not a manual registration
        committed[event.tag.uid] = (event.event_id, time.monotonic())
        done[event.tag.uid].set()

    daemon.pipeline.subscribe(on_commit)
    # a station's outbox in operation: the WAL at its size (recycled after checkpoints,
    # each commit overwrites it) instead of growing on every commit as in a new file
    field = mock.bench(names[0])
    for k in range(WARM_UP_TAPS):
        key = f"04FF{k:010X}"
        done[key] = threading.Event()
        field.place(EmulatedTag(uid=bytes.fromhex(key)))
        done[key].wait(5)
        field.remove()
    warm = len(committed)
    wait_until(lambda: backend.acked_count() >= warm, 30, poll=0.05)
    committed.clear()
    per_reader = rate / readers
    count = int(seconds * per_reader)

    def drive(index: int, name: str) -> None:
        field = mock.bench(name)
        t0 = time.monotonic() + index / rate  # readers interleaved
        for k in range(count):
            uid = bytes([0x04, index, *k.to_bytes(5, "big")])
            key = uid.hex().upper()
            done[key] = threading.Event()
            delay = t0 + k / per_reader - time.monotonic()  # open loop: on schedule
            if delay > 0:
                time.sleep(delay)
            tag = EmulatedTag(uid=uid)
            placed[key] = time.monotonic()
            field.place(tag)
            done[key].wait(5)
            field.remove()

    drivers = [threading.Thread(target=drive, args=(i, n)) for i, n in enumerate(names)]
    for d in drivers:
        d.start()
    for d in drivers:
        d.join()
    wait_until(lambda: backend.acked_count() >= warm + len(committed), 60, poll=0.05)
    stop(daemon, thread)
    acked_at = backend.stop()
    to_commit = [(committed[u][1] - placed[u]) * 1000 for u in committed]
    to_ack = [
        (acked_at[committed[u][0]] - placed[u]) * 1000
        for u in committed
        if committed[u][0] in acked_at
    ]
    return {
        "latency_taps": len(placed),
        "latency_taps_committed": len(committed),
        "tap_to_commit_p50_ms": pct(to_commit, 50),
        "tap_to_commit_p99_ms": pct(to_commit, 99),
        "tap_to_backend_ack_p50_ms": pct(to_ack, 50),
        "tap_to_backend_ack_p99_ms": pct(to_ack, 99),
    }


ACR122U_MS_PER_APDU = 20.0  # docs/hardware.md "Timing": host round trip per command


def signature_run(directory: Path, name: str, check: bool, taps: int) -> tuple[float, float]:
    """(tap -> commit p50 in ms, median tag commands per tap) of one daemon with one mock
    reader, one tag at a time (placed, committed, removed)."""
    import dataclasses

    settings = load_settings(
        write_config(
            directory, readers=[(name, f"mock:{name}")], extra='[control]\nsocket = "off"\n'
        )
    )
    readers = tuple(dataclasses.replace(r, check_signature=check) for r in settings.readers)
    daemon = Daemon(
        dataclasses.replace(settings, readers=readers), notify=SdNotify(""), own_process=True
    )
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    if not daemon.ready.wait(30):
        raise RuntimeError("daemon not ready")
    assert daemon.pipeline is not None
    done = threading.Event()
    committed_at: list[float] = []

    def on_commit(event: TapEvent) -> None:
        committed_at.append(time.monotonic())
        done.set()

    daemon.pipeline.subscribe(on_commit)
    field, times, sent = mock.bench(name), [], []
    for k in range(taps):
        tag = EmulatedTag(uid=bytes([0x04, 0x5C, int(check), *k.to_bytes(4, "big")]))
        done.clear()
        placed = time.monotonic()
        field.place(tag)
        if done.wait(5):
            times.append((committed_at[-1] - placed) * 1000)
        field.remove()
        sent.append(len(tag.log))
    stop(daemon, thread)
    return statistics.median(times), statistics.median(sent)


def signature_on_off(directory: Path, taps: int, repeat: int) -> dict[str, float]:
    """Tap -> commit p50 with the signature read on each tap and without, the two modes
    interleaved per repeat (same machine load)."""
    p50: dict[bool, list[float]] = {False: [], True: []}
    commands: dict[bool, float] = {}
    for run in range(repeat):
        for check in (False, True):
            d = directory / f"sig{run}{int(check)}"
            d.mkdir()
            median_ms, commands[check] = signature_run(d, f"sig-{run}-{int(check)}", check, taps)
            p50[check].append(median_ms)
    off, on = statistics.median(p50[False]), statistics.median(p50[True])
    extra = commands[True] - commands[False]
    return {
        "tap_to_commit_signature_off_p50_ms": off,
        "tap_to_commit_signature_on_p50_ms": on,
        "signature_added_p50_ms": on - off,
        "signature_on_to_off_ratio": on / off if off else float("nan"),
        "tag_commands_per_tap_signature_off": commands[False],
        "tag_commands_per_tap_signature_on": commands[True],
        "signature_added_acr122u_modelled_ms": extra * ACR122U_MS_PER_APDU,
    }


UNITS = {
    "raw_sqlite_full_commits_per_s": "commits/s",
    "daemon_durable_taps_per_s": "taps/s",
    "taps_to_raw_commits_ratio": "",
    "bytes_written_per_raw_commit": "bytes",
    "bytes_written_per_durable_tap": "bytes",
    "latency_taps": "taps",
    "latency_taps_committed": "taps",
    "signature_on_to_off_ratio": "",
    "tag_commands_per_tap_signature_off": "commands",
    "tag_commands_per_tap_signature_on": "commands",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per throughput run")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--rate-seconds", type=float, default=7.0, help="length of one 100 taps/s latency run"
    )
    parser.add_argument(
        "--latency-repeat", type=int, default=3, help="latency runs (each beside its floor)"
    )
    parser.add_argument(
        "--signature-taps", type=int, default=200, help="taps per mode in the signature run"
    )
    parser.add_argument(
        "--signature-only", action="store_true", help="only the signature on/off figures"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    raw: list[tuple[float, float]] = []
    taps: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="nfcbridge-bench-") as tmp:
        if args.signature_only:
            show(signature_on_off(Path(tmp), args.signature_taps, args.repeat), args.json)
            return
        for run in range(args.repeat):  # interleaved, so both see the same machine load
            d = Path(tmp) / f"run{run}"
            d.mkdir()
            raw.append(raw_sqlite_commits(d, args.seconds))
            taps.append(pipeline_taps(d, args.seconds, run))
        figures: dict[str, float] = {
            "raw_sqlite_full_commits_per_s": statistics.median(r for r, _ in raw),
            "daemon_durable_taps_per_s": statistics.median(t for t, _ in taps),
        }
        # per pair measured back to back, then the median: the shared machine's load swings
        # within seconds, so a ratio of two medians taken minutes apart says little
        figures["taps_to_raw_commits_ratio"] = statistics.median(
            t / r for (t, _), (r, _) in zip(taps, raw, strict=True)
        )
        figures["bytes_written_per_raw_commit"] = statistics.median(b for _, b in raw)
        figures["bytes_written_per_durable_tap"] = statistics.median(b for _, b in taps)
        runs: list[dict[str, float]] = []
        for run in range(args.latency_repeat):
            lat_dir = Path(tmp) / f"latency{run}"
            lat_dir.mkdir()
            runs.append(latencies(lat_dir, args.rate_seconds))
            runs[-1].update(raw_sqlite_paced(lat_dir, args.rate_seconds))
        figures.update({name: statistics.median(r[name] for r in runs) for name in runs[0]})
        for name in ("tap_to_commit_p99_ms", "raw_sqlite_full_commit_at_100_per_s_p99_ms"):
            figures[name.replace("_p99_ms", "_p99_worst_run_ms")] = max(r[name] for r in runs)
        figures.update(signature_on_off(Path(tmp), args.signature_taps, args.repeat))
    show(figures, args.json)


def show(figures: dict[str, float], as_json: bool) -> None:
    if as_json:
        print(json.dumps({k: round(v, 3) for k, v in figures.items()}))
        return
    for name, value in figures.items():
        unit = UNITS.get(name, "ms")
        shown = f"{value:.0f}" if unit in ("taps", "commands", "bytes") else f"{value:.3f}"
        print(f"{name}: {shown} {unit}".rstrip())


if __name__ == "__main__":
    main()
