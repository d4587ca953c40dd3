"""Does the running daemon leak? Open descriptors, threads and memory over a long run of
Prometheus scrapes, status requests and operator commands beside it.

A daemon process (``nfcbridge run``: two mock readers, a JSON-lines forwarder, metrics and
the control socket) serves, in a loop: a metrics scrape, a status request on the control
socket, a tap, and every ``--cli-every`` rounds one ``nfcbridge outbox list`` /
``outbox retry --all-dead`` / ``outbox prune --dry-run`` / ``status`` process. Its open
descriptors, threads and RSS (from /proc) are printed at the start (after a warm-up) and
the end, with their growth per 1,000 calls (the goal is 0). Beside it the web app
(``nfcbridge web``, its own process) serves a logged-in desk operator the station page
(which asks the daemon) and the desk page every round: its figures are printed too.

    python bench/soak.py [--calls 3000] [--cli-every 100] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nfcbridge.control import request as control_request
from tests.support.harness import (
    REPO,
    free_port,
    start_daemon,
    stop_daemon,
    uid_for,
    wait_ready,
    write_config,
)
from tests.support.web_process import WebApp


def usage(pid: int) -> tuple[int, int, float]:
    """(open fds, threads, RSS MiB) once the last call's connection thread has ended."""
    last: tuple[int, int, float] = (-1, -1, 0.0)
    for _ in range(50):
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        threads = len(os.listdir(f"/proc/{pid}/task"))
        rss = 0.0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
        if (fds, threads) == last[:2]:
            return fds, threads, rss
        last = (fds, threads, rss)
        time.sleep(0.1)
    return last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="scrape+status+tap rounds")
    parser.add_argument("--cli-every", type=int, default=100, help="rounds per CLI command")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nfcbridge-soak-") as tmp:
        directory = Path(tmp)
        port = free_port()
        config = write_config(
            directory,
            readers=[("north", "mock:soak-north"), ("south", "mock:soak-south")],
            forwarders=(
                '[[forwarders]]\ntype = "jsonl"\nname = "file"\n'
                f'path = "{directory / "taps.jsonl"}"\n'
            ),
            extra=f'[metrics]\nlisten = "127.0.0.1:{port}"\n',
        )
        sock = directory / "control.sock"
        proc = start_daemon(config)
        web = WebApp(directory)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        commands = [
            ("outbox", "list"),
            ("outbox", "retry", "--all-dead"),
            ("outbox", "prune", "--dry-run"),
            ("status",),
        ]
        try:
            wait_ready(proc, sock)

            def round_(i: int) -> None:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as r:
                    r.read()
                control_request(sock, {"op": "status"})
                web.pages()
                reader = ("north", "south")[i % 2]
                control_request(
                    sock, {"op": "tap", "reader": reader, "uid": uid_for(i), "hold": 0.0}
                )
                if i % args.cli_every == 0:
                    cmd = commands[(i // args.cli_every) % len(commands)]
                    subprocess.run(
                        [sys.executable, "-m", "nfcbridge.cli.main", "--config", str(config), *cmd],
                        cwd=REPO,
                        env=env,
                        capture_output=True,
                        check=False,
                    )

            for i in range(10):  # warm-up: first-use allocations are not a leak
                round_(i)
            start, web_start = usage(proc.pid), usage(web.proc.pid)
            began = time.monotonic()
            for i in range(10, 10 + args.calls):
                round_(i)
            elapsed = time.monotonic() - began
            end, web_end = usage(proc.pid), usage(web.proc.pid)
        finally:
            stop_daemon(proc)
            web.stop()
    per_k = 1000 / args.calls
    figures = {
        "calls": args.calls,
        "seconds": round(elapsed, 1),
        "fds_start": start[0],
        "fds_end": end[0],
        "fds_growth_per_1000_calls": round((end[0] - start[0]) * per_k, 2),
        "threads_start": start[1],
        "threads_end": end[1],
        "threads_growth_per_1000_calls": round((end[1] - start[1]) * per_k, 2),
        "rss_start_mib": round(start[2], 1),
        "rss_end_mib": round(end[2], 1),
        "rss_growth_per_1000_calls_mib": round((end[2] - start[2]) * per_k, 3),
        "web_fds_start": web_start[0],
        "web_fds_end": web_end[0],
        "web_threads_start": web_start[1],
        "web_threads_end": web_end[1],
        "web_rss_start_mib": round(web_start[2], 1),
        "web_rss_end_mib": round(web_end[2], 1),
        "web_rss_growth_per_1000_calls_mib": round((web_end[2] - web_start[2]) * per_k, 3),
    }
    if args.json:
        print(json.dumps(figures))
        return
    units = {"seconds": "s", "calls": "calls"}
    for name, value in figures.items():
        unit = units.get(name, "MiB" if "rss" in name else "")
        print(f"{name}: {value} {unit}".rstrip())


if __name__ == "__main__":
    main()
