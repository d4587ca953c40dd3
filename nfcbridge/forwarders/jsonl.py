"""JSON lines file forwarder: one event per line, appended and fsynced.

An event counts as delivered only after ``fsync`` returned, so a crash re-appends it (a
reader of the file deduplicates by ``event_id``, as every receiver must). The file is opened
per batch in append mode, so log rotation by rename just works.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nfcbridge.forwarders.base import Forwarder, Outcome, TransientError
from nfcbridge.outbox import Outbox, StoredEvent


class JsonlForwarder(Forwarder):
    kind = "jsonl"

    def __init__(self, name: str, outbox: Outbox, *, path: str | Path, **kwargs: Any) -> None:
        super().__init__(name, outbox, **kwargs)
        self.path = Path(path)

    def send(self, batch: list[StoredEvent]) -> Outcome:
        data = "".join(event.payload + "\n" for event in batch).encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            return Outcome(retry=TransientError(f"cannot append to {self.path}: {exc.strerror}"))
        return Outcome(delivered=list(batch))
