"""The SQLite outbox: durability settings, sequences, per-forwarder progress, dead letters."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from nfcbridge.outbox import PAGE_SIZE, Outbox, OutboxError
from tests.support.events import make


@pytest.fixture
def box(tmp_path: Path) -> Outbox:
    outbox = Outbox.open(tmp_path / "outbox.db")
    yield outbox
    outbox.close()


def test_outbox_uses_wal_and_synchronous_full(box: Outbox) -> None:
    with box.reading() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_a_new_outbox_has_small_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    """A tap writes four pages: a new file gets the smaller page (fewer bytes to sync per
    tap); a file made with SQLite's default 4096 keeps it, and its events, on opening."""
    with Outbox.open(tmp_path / "new.db") as new, new.reading() as conn:
        assert PAGE_SIZE < 4096
        assert conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    old_path = tmp_path / "old.db"
    with Outbox.open(old_path) as box:
        box.commit(make(reader="a", event_id="before"))
    with sqlite3.connect(old_path) as raw:  # as made by an earlier version: 4096 pages
        raw.execute("PRAGMA journal_mode=DELETE")
        raw.execute("PRAGMA page_size=4096")
        raw.execute("VACUUM")
        assert raw.execute("PRAGMA page_size").fetchone()[0] == 4096
    with Outbox.open(old_path) as box:
        assert box.commit(make(reader="a", event_id="after")).seq == 2
        with box.reading() as conn:
            assert conn.execute("PRAGMA page_size").fetchone()[0] == 4096
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert box.event_ids() == {"before", "after"}


def test_sequence_numbers_are_per_reader_and_survive_reopening(tmp_path: Path) -> None:
    box = Outbox.open(tmp_path / "o.db")
    seqs = [
        box.commit(make(reader=r, event_id=f"id-{i}")).seq
        for i, r in enumerate(["a", "a", "b", "a"])
    ]
    box.close()
    assert seqs == [1, 2, 1, 3]
    again = Outbox.open(tmp_path / "o.db")
    assert again.commit(make(reader="a", event_id="id-9")).seq == 4
    again.close()


def test_the_event_id_given_is_stored_and_unique(box: Outbox) -> None:
    stored = box.commit(make(event_id="fixed-id"))
    assert box.events()[0].event_id == "fixed-id" == stored.event_id
    assert '"event_id":"fixed-id"' in box.events()[0].payload
    with pytest.raises(OutboxError):
        box.commit(make(event_id="fixed-id"))
    assert box.count() == 1
    assert box.last_seq("desk-left") == 1  # the failed commit consumed no sequence number


def test_each_forwarder_keeps_its_own_progress(box: Outbox) -> None:
    for i in range(5):
        box.commit(make(event_id=f"e{i}"))
    box.register("web")
    box.register("mqtt")
    web = box.pending("web")
    box.mark_delivered("web", web[:3])
    assert [e.event_id for e in box.pending("web")] == ["e3", "e4"]
    assert len(box.pending("mqtt")) == 5
    assert box.progress("web").pending == 2
    assert box.progress("mqtt").pending == 5


def test_out_of_order_delivery_leaves_the_gap_pending(box: Outbox) -> None:
    for i in range(4):
        box.commit(make(event_id=f"e{i}"))
    box.register("f")
    events = box.pending("f")
    box.mark_delivered("f", [events[1], events[3]])
    assert [e.event_id for e in box.pending("f")] == ["e0", "e2"]
    box.mark_delivered("f", [events[0], events[2]])
    assert box.pending("f") == []


def test_dead_letters_are_kept_and_retry_sends_again(box: Outbox) -> None:
    for i in range(3):
        box.commit(make(event_id=f"e{i}"))
    box.register("web")
    first, *_ = box.pending("web")
    box.mark_dead("web", first, "HTTP 400: bad")
    assert [e.event_id for e in box.pending("web")] == ["e1", "e2"]
    box.mark_delivered("web", box.pending("web"))
    assert box.pending("web") == []
    assert [d.event_id for d in box.dead_letters()] == ["e0"]
    assert box.retry_dead("e0") == 1
    assert [e.event_id for e in box.pending("web")] == ["e0"]
    assert box.dead_letters() == []
    kept = box.dead_letters(include_retried=True)
    assert len(kept) == 1 and kept[0].retried_at is not None and kept[0].reason == "HTTP 400: bad"


def test_retry_all_dead(box: Outbox) -> None:
    for i in range(3):
        box.commit(make(event_id=f"e{i}"))
    box.register("web")
    for e in box.pending("web"):
        box.mark_dead("web", e, "HTTP 422")
    assert box.pending("web") == []
    assert box.retry_dead() == 3
    assert len(box.pending("web")) == 3


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    Outbox.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version=99")
    with pytest.raises(OutboxError, match="newer"):
        Outbox.open(path)


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(OutboxError, match="does not exist"):
        Outbox.open(tmp_path / "nope" / "o.db")
