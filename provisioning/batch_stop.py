"""Stopping a batch run (Ctrl-C in the CLI, shutdown in a daemon) without losing a tag.

Between tags a stop request ends the run at once. During a tag it is deferred: the tag is
finished (about 0.1 s of air time, never a wait for the operator) and recorded, then the
batch stops. A second Ctrl-C forces out: the tag is recorded spoiled if an irreversible
write was sent, as an attempt otherwise, and ``BatchInterrupted`` is raised. Recording
itself is one transaction and is shielded (only a third Ctrl-C breaks it, and the
transaction then leaves nothing behind), so the registry is consistent whatever happens,
and a resumed batch counts every tag once: a UID already recorded is refused.

The SIGINT handler that implements the presses lives with the CLI
(``nfcbridge.cli.provision_cmd.deferred_sigint``); this module holds only the state it and
``provisioning.batch.BatchRunner`` share.
"""

from __future__ import annotations

import threading

from provisioning.batch_results import TagResult


class StopControl:
    """Stop requests (Ctrl-C in the CLI, shutdown in a daemon), honoured between tags.

    ``in_tag`` is set while a tag's sequence runs, ``recording`` from the moment its
    outcome is being written until the result has been handed to the consumer; a SIGINT
    handler uses them to defer (``nfcbridge.cli.provision_cmd.deferred_sigint``)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.in_tag = False
        self.recording = False
        self.presses = 0

    def request(self) -> None:
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()


class BatchInterrupted(KeyboardInterrupt):
    """Forced out of a tag (second Ctrl-C); *result* is what was recorded for it."""

    def __init__(self, result: TagResult) -> None:
        super().__init__(f"interrupted during tag {result.uid}: {result.outcome}")
        self.result = result
