"""Manual registrations at the station: checked before anything is kept, committed through
the one tap pipeline with the note kept out of the event, notes purged after the period."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from nfcbridge.manual import ManualError, NoteStore, register
from nfcbridge.outbox import Outbox, OutboxError
from nfcbridge.pipeline import TapPipeline
from provisioning.errors import UnknownEntity
from provisioning.records import TapContext

NOTE = "nyckeln fastnade, besöket startade i porten"
GOOD = {
    "kind": "start",
    "staff": "S-9",
    "customer": "ext:1",
    "reason": "started_outside",
    "note": NOTE,
    "at": "2026-11-24T07:58:00+01:00",
    "provider": "P-1",
}


@pytest.fixture
def station(tmp_path: Path):
    outbox = Outbox.open(tmp_path / "outbox.db")
    notes = NoteStore(tmp_path / "notes.db")
    yield TapPipeline("st", outbox), notes, outbox
    notes.close()
    outbox.close()


def test_a_manual_registration_is_committed_without_its_note(station):
    pipeline, notes, _outbox = station
    event = register(dict(GOOD), pipeline, notes, None)
    body = json.loads(event.to_json())
    assert (body["origin"], body["tag"], body["reader"], body["seq"]) == (
        "manual",
        None,
        "manual",
        1,
    )
    assert body["registry"] == {"state": "active", "customer": "ext:1", "provider": "P-1"}
    assert NOTE not in event.to_json()
    assert notes.get(body["manual"]["note_ref"]) == NOTE
    assert (
        NoteStore.digest(_salt(notes, body["manual"]["note_ref"]), NOTE)
        == (body["manual"]["note_sha256"])
    )


def _salt(notes: NoteStore, ref: str) -> str:
    return notes._db.execute("SELECT salt FROM notes WHERE ref = ?", (ref,)).fetchone()[0]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"kind": "middle"}, "kind must be start or end"),
        ({"reason": "forgot"}, "reason must be one of"),
        ({"note": "  "}, "'note' is required"),
        ({"at": "2026-11-24T07:58:00"}, "needs a time zone"),
        ({"at": "2099-01-01T00:00:00Z"}, "in the future"),
        ({"at": "2999-01-01T00:00:00Z"}, "outside the years 2000-2099"),
    ],
)
def test_a_bad_manual_request_is_refused_before_anything_is_kept(station, change, problem):
    pipeline, notes, outbox = station
    with pytest.raises(ManualError, match=problem):
        register({**GOOD, **change}, pipeline, notes, None)
    assert notes.count() == 0 and outbox.last_seq("manual") == 0


def test_a_registration_the_registry_refuses_leaves_no_note(station):
    pipeline, notes, outbox = station

    class Refusing:
        def record_manual(self, **details):
            raise UnknownEntity("no customer ext:1")

    with pytest.raises(UnknownEntity):
        register(dict(GOOD), pipeline, notes, Refusing())
    assert notes.count() == 0 and outbox.last_seq("manual") == 0


def test_a_registration_the_outbox_cannot_store_is_voided_in_the_audit_trail(station):
    """The registry audits first; when the commit then fails the person is told (the error
    is raised), the note goes, and the trail says the audited registration counts for
    nothing: no audit row of a registration that was never stored stands alone."""
    pipeline, notes, outbox = station
    trail: list[tuple[str, dict[str, str]]] = []

    class Auditing:
        def record_manual(self, **details):
            trail.append(("registration.manual", details))
            return TapContext(state="active", customer="C-7", provider="P-1")

        def void_manual(self, **details):
            trail.append(("registration.manual.voided", details))

    with outbox.transaction() as conn:  # SQLite itself refuses the insert, as on a full disk
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON events"
            " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    with pytest.raises(OutboxError, match="disk is full"):
        register(dict(GOOD), pipeline, notes, Auditing())
    (action, recorded), (voided, details) = trail
    assert (action, voided) == ("registration.manual", "registration.manual.voided")
    assert details["event_id"] == recorded["event_id"] and details["customer"] == "C-7"
    assert "outbox" in details["why"]
    assert notes.count() == 0 and outbox.last_seq("manual") == 0


def test_notes_are_purged_only_after_the_keep_period(tmp_path: Path):
    notes = NoteStore(tmp_path / "notes.db")
    written = dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC)
    ref, _ = notes.add(NOTE, now=written)
    assert notes.purge(180, now=written + dt.timedelta(days=179)) == 0
    assert notes.purge(180, now=written + dt.timedelta(days=181)) == 1
    assert notes.get(ref) is None
    notes.close()


def test_the_daemon_purges_notes_past_the_keep_period_on_its_own(tmp_path: Path):
    from nfcbridge.config import MunicipalSettings, Settings, StationSettings
    from nfcbridge.daemon import Daemon

    settings = Settings(
        station=StationSettings(data_dir=str(tmp_path)),
        municipal=MunicipalSettings(manual_note_keep_days=30),
    )
    daemon = Daemon(settings)
    daemon.notes = NoteStore(tmp_path / "notes.db")
    now = dt.datetime.now(dt.UTC)
    old, _ = daemon.notes.add("old note", now=now - dt.timedelta(days=31))
    recent, _ = daemon.notes.add("recent note", now=now - dt.timedelta(days=29))
    daemon.purge_notes_if_due()
    assert (daemon.notes.get(old), daemon.notes.get(recent)) == (None, "recent note")
    daemon.notes.close()
