"""A reader's RF field as the emulators see it: at most one emulated tag, placed and removed
by a test, a rig or a person at the CLI. Thread-safe; waiters are woken on every change."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drivers.emulated.chip import EmulatedTag


class Field:
    def __init__(self, name: str = "field") -> None:
        self.name = name
        self._tag: EmulatedTag | None = None
        self.changed = threading.Condition()
        self.generation = 0  # bumped on every place/remove

    @property
    def tag(self) -> EmulatedTag | None:
        """The tag in the field, if it is there and still present."""
        tag = self._tag
        return tag if tag is not None and tag.present else None

    def place(self, tag: EmulatedTag) -> EmulatedTag:
        with self.changed:
            tag.present = True
            tag.power_on()
            self._tag = tag
            self.generation += 1
            self.changed.notify_all()
        return tag

    def remove(self) -> EmulatedTag | None:
        with self.changed:
            tag, self._tag = self._tag, None
            if tag is not None:
                tag.present = False
            self.generation += 1
            self.changed.notify_all()
        return tag

    def wait_changed(self, generation: int, timeout: float | None) -> int:
        with self.changed:
            self.changed.wait_for(lambda: self.generation != generation, timeout)
            return self.generation
