"""A tag torn away at any command of a write or of the lock sequence leaves a state that is
read back truthfully: an NDEF write shows the old or the new message (never a mix), and a
lock shows exactly the steps that reached the EEPROM. The chip model counts commands since
the tag entered the field: 1 GET_VERSION, 2 FAST_READ, then the writes."""

from __future__ import annotations

import uuid

import ndef
import pytest

from drivers import open_reader
from drivers.emulated.chip import EmulatedTag, Fault
from drivers.errors import TagGone
from drivers.lockbits import LockLevel
from drivers.mock import bench
from drivers.ntag import Ntag21x

URI = "https://kvitto.example.se/t/abcdefghijkl"
NEW = b"".join(ndef.message_encoder([ndef.UriRecord(URI)]))
OLD = b"".join(ndef.message_encoder([ndef.TextRecord("gammal", "sv")]))


def run(tag: EmulatedTag, action) -> None:
    name = f"tear-{uuid.uuid4().hex[:8]}"
    bench(name).place(tag)
    with open_reader(f"mock:{name}") as reader:
        action(Ntag21x(reader, reader.wait_for_tag(1)))


def read_back(tag: EmulatedTag) -> Ntag21x:
    """Put the tag back on a reader (faults cleared) and return a fresh tag layer on it."""
    tag.faults = ()
    name = f"back-{uuid.uuid4().hex[:8]}"
    field = bench(name)
    field.place(tag)
    reader = open_reader(f"mock:{name}")
    try:
        ntag = Ntag21x(reader, reader.wait_for_tag(1))
        ntag.info()
        return ntag
    finally:
        reader.close()


@pytest.mark.parametrize("kind", ["tear", "remove"])
@pytest.mark.parametrize("at", range(3, 14))  # the 11 WRITEs of the URI on a blank NTAG213
def test_interrupted_first_write_leaves_empty_or_complete_message(kind, at):
    tag = EmulatedTag("NTAG213", faults=[Fault(kind, at)])
    with pytest.raises(TagGone):
        run(tag, lambda t: t.write_ndef(NEW))
    message = read_back(tag).read_ndef().message
    assert message in (b"", NEW)


@pytest.mark.parametrize("kind", ["tear", "remove"])
@pytest.mark.parametrize("at", range(3, 15))  # L=0, pages 6-15, commit page 5
def test_interrupted_rewrite_leaves_old_empty_or_new_message(kind, at):
    tag = EmulatedTag("NTAG213")
    run(tag, lambda t: t.write_ndef(OLD))
    tag.faults = (Fault(kind, at),)
    with pytest.raises(TagGone):
        run(tag, lambda t: t.write_ndef(NEW))
    message = read_back(tag).read_ndef().message
    assert message in (OLD, b"", NEW)


# After write_ndef on a blank NTAG213 (14 commands: GET_VERSION, FAST_READ, 11 WRITEs,
# FAST_READ verify), the lock sequence is commands 15 CC, 16 dynamic, 17 static, 18 CFG1,
# then a re-select and 19 the verifying FAST_READ.
@pytest.mark.parametrize(
    ("at", "level", "cc_ro", "dynamic", "static", "cfglck"),
    [
        (15, LockLevel.UNLOCKED, False, "000000", "0000", False),
        (16, LockLevel.PARTLY, True, "000000", "0000", False),
        (17, LockLevel.PARTLY, True, "FF0F3F", "0000", False),
        (18, LockLevel.PARTLY, True, "FF0F3F", "FFFF", False),
        (19, LockLevel.LOCKED, True, "FF0F3F", "FFFF", True),
    ],
)
def test_lock_interrupted_at_each_command_is_reported_truthfully(
    at, level, cc_ro, dynamic, static, cfglck
):
    tag = EmulatedTag("NTAG213", faults=[Fault("remove", at)])

    def provision(t: Ntag21x) -> None:
        t.write_ndef(NEW)
        t.lock_permanently()

    with pytest.raises(TagGone):
        run(tag, provision)
    back = read_back(tag)
    lock = back.lock_state()
    assert lock.level is level
    assert lock.cc_read_only is cc_ro
    assert (lock.dynamic.hex().upper(), lock.static.hex().upper()) == (dynamic, static)
    assert lock.cfglck is cfglck
    assert back.read_ndef().message == NEW  # the receipt still reads
    # and the interrupted lock can be completed
    tag.faults = ()
    run(tag, lambda t: t.lock_permanently(expected_message=NEW))
    assert read_back(tag).lock_state().level is LockLevel.LOCKED
