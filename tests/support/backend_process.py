"""A ``RecordingBackend`` in a process of its own (``bench/taps.py``).

At a station the backend is another machine: its HTTP server and its signature checks do
not share the daemon's interpreter. In the daemon's process they would compete with the
reader threads for the GIL and inflate the tap latencies measured there.

Talks to its parent over stdin/stdout, one line at a time: the parent sends the secret, the
child answers its port; then ``count`` is answered with the number of events acknowledged
so far, and ``stop`` with a JSON object of event id -> the moment its first 2xx was written
(``time.monotonic()``: CLOCK_MONOTONIC, the same clock in every process of the machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import IO

from tests.support.harness import REPO, RecordingBackend


class RecordingBackendProcess:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.port = 0
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> RecordingBackendProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.backend_process"],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self._ask(self.secret))
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/taps"

    def acked_count(self) -> int:
        return int(self._ask("count"))

    def stop(self) -> dict[str, float]:
        """Stop the child; event id -> monotonic moment of its first 2xx."""
        acked: dict[str, float] = json.loads(self._ask("stop"))
        assert self._proc is not None
        self._proc.wait(10)
        return acked

    def _ask(self, line: str) -> str:
        assert self._proc is not None and self._proc.stdin and self._proc.stdout
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()
        answer = self._proc.stdout.readline()
        if not answer:
            raise RuntimeError(f"backend process ended (exit {self._proc.poll()})")
        return answer.strip()


def serve(stdin: IO[str], stdout: IO[str]) -> None:
    backend = RecordingBackend(stdin.readline().strip()).start()
    print(backend.port, file=stdout, flush=True)
    for line in stdin:
        if line.strip() == "count":
            with backend.lock:
                print(len(backend.acked_at), file=stdout, flush=True)
        elif line.strip() == "stop":
            backend.stop()
            with backend.lock:
                print(json.dumps(backend.acked_at), file=stdout, flush=True)
            return


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
