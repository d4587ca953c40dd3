"""Readers and tags. Knows nothing of customers, providers or backends.

Public interface: ``open_reader``/``make_reader`` (a reader by URL), ``Reader``, ``Target``,
the exception tree in ``drivers.errors``, and the tag layer ``drivers.ntag.Ntag21x``.
Driver modules are imported lazily, so importing this package needs no optional dependency.
"""

from drivers.base import Capability, DetectedReader, Reader, Target
from drivers.table import detect_readers, make_reader, open_reader

__all__ = [
    "Capability",
    "DetectedReader",
    "Reader",
    "Target",
    "detect_readers",
    "make_reader",
    "open_reader",
]
