"""Outbox retention: only events every forwarder confirmed, and old enough, are deleted.

Undelivered events and dead letters stay whatever their age; sequence numbers and row ids
never go back; a forwarder added later gets what is kept; pruning beside live taps loses
none; the daemon prunes after READY; ``nfcbridge outbox prune`` reports what it did.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from nfcbridge.cli.main import cli
from nfcbridge.config import load_settings
from nfcbridge.daemon import Daemon
from nfcbridge.outbox import Outbox
from nfcbridge.retention import DAY, prune
from nfcbridge.sdnotify import SdNotify
from tests.support.events import make
from tests.support.outbox import backdate, commit, deliver, kept


@pytest.fixture
def box(tmp_path: Path) -> Outbox:
    outbox = Outbox.open(tmp_path / "outbox.db")
    yield outbox
    outbox.close()


def test_only_old_events_every_forwarder_confirmed_are_deleted(box: Outbox) -> None:
    old_done = commit(box, 3, prefix="done")
    old_half = commit(box, 2, prefix="half")  # the webhook has them, the archive not yet
    old_none = commit(box, 2, prefix="none")
    recent = commit(box, 2, prefix="new")
    deliver(box, "web")
    deliver(box, "archive", old_done + recent)
    backdate(box, old_done + old_half + old_none, days=31)

    report = prune(box, ["web", "archive"], keep_days=30)

    assert kept(box) == old_half + old_none + recent
    assert (report.removed, report.kept_undelivered, report.kept_recent) == (3, 4, 2)
    assert report.undelivered_by == {"archive": 4}
    assert report.kept_dead_letter == 0


def test_undelivered_events_stay_however_old(box: Outbox) -> None:
    ids = commit(box, 4)
    box.register("web")
    backdate(box, ids, days=3650)
    report = prune(box, ["web"], keep_days=1)
    assert kept(box) == ids and report.removed == 0 and report.kept_undelivered == 4


def test_dead_letters_and_their_events_are_never_deleted(box: Outbox) -> None:
    ids = commit(box, 3)
    box.register("web")
    first, second, _ = box.pending("web")
    box.mark_dead("web", first, "HTTP 422")
    box.mark_dead("web", second, "HTTP 400")
    box.retry_dead(second.event_id)  # retried, then delivered: the dead-letter row stays
    deliver(box, "web")
    backdate(box, ids, days=400)

    report = prune(box, ["web"], keep_days=30)

    assert kept(box) == ids[:2]
    assert report.removed == 1 and report.kept_dead_letter == 2
    letters = box.dead_letters(include_retried=True)
    assert [(d.event_id, d.reason) for d in letters] == [(ids[0], "HTTP 422"), (ids[1], "HTTP 400")]


def test_keep_days_zero_keeps_everything(box: Outbox) -> None:
    ids = commit(box, 3)
    deliver(box, "web")
    backdate(box, ids, days=10_000)
    report = prune(box, ["web"], keep_days=0)
    assert kept(box) == ids and report.removed == 0 and report.kept == 3


def test_without_any_forwarder_nothing_counts_as_delivered(box: Outbox) -> None:
    ids = commit(box, 2)
    backdate(box, ids, days=100)
    report = prune(box, [], keep_days=1)
    assert kept(box) == ids and report.forwarders == [] and report.kept_undelivered == 2


def test_a_forwarder_only_the_outbox_knows_still_holds_events(box: Outbox) -> None:
    """Removed from the configuration, its progress row stays: its taps are not lost."""
    ids = commit(box, 2)
    deliver(box, "web")
    box.register("old-backend")
    backdate(box, ids, days=100)
    report = prune(box, ["web"], keep_days=30)
    assert kept(box) == ids and report.undelivered_by == {"old-backend": 2}
    assert report.not_configured == ["old-backend"] and "not configured" in report.summary()


def test_a_configured_forwarder_not_started_yet_holds_everything(box: Outbox) -> None:
    ids = commit(box, 2)
    deliver(box, "web")
    backdate(box, ids, days=100)
    report = prune(box, ["web", "new-backend"], keep_days=30)
    assert kept(box) == ids and report.undelivered_by == {"new-backend": 2}


def test_dry_run_counts_but_changes_nothing(box: Outbox) -> None:
    ids = commit(box, 5)
    deliver(box, "web")
    backdate(box, ids, days=40)
    report = prune(box, ["web"], keep_days=30, dry_run=True)
    assert report.removed == 5 and report.dry_run and kept(box) == ids
    assert prune(box, ["web"], keep_days=30).removed == 5 and kept(box) == []


def test_batches_smaller_than_the_outbox_still_reach_every_event(box: Outbox) -> None:
    done = commit(box, 7)
    held = commit(box, 3, prefix="held")
    deliver(box, "web", done)
    backdate(box, done + held, days=40)
    recent = commit(box, 4, prefix="new")
    deliver(box, "web", recent)
    report = prune(box, ["web"], keep_days=30, batch_size=2)
    assert kept(box) == held + recent
    assert (report.removed, report.kept_undelivered, report.kept_recent) == (7, 3, 4)


def test_sequence_numbers_and_row_ids_continue_after_everything_is_pruned(tmp_path: Path) -> None:
    box = Outbox.open(tmp_path / "o.db")
    ids = commit(box, 3, reader="a") + commit(box, 2, reader="b", prefix="b")
    last_row = box.events()[-1].id
    deliver(box, "web")
    backdate(box, ids, days=40)
    assert prune(box, ["web"], keep_days=30).removed == 5 and box.count() == 0
    box.close()

    again = Outbox.open(tmp_path / "o.db")  # a restart in between changes nothing
    assert again.commit(make(event_id="a-next", reader="a")).seq == 4
    assert again.commit(make(event_id="b-next", reader="b")).seq == 3
    assert min(e.id for e in again.events()) > last_row
    # the forwarder's progress did not go back: it sees exactly the two new events
    with again.reading() as c:
        watermark = c.execute("SELECT watermark FROM progress").fetchone()[0]
    assert watermark == last_row
    assert [e.event_id for e in again.pending("web")] == ["a-next", "b-next"]
    again.mark_delivered("web", again.pending("web"))
    assert again.pending("web") == [] and again.progress("web").pending == 0
    again.close()


def test_a_forwarder_added_after_pruning_gets_what_is_kept(box: Outbox) -> None:
    old = commit(box, 4, prefix="old")
    recent = commit(box, 3, prefix="new")
    deliver(box, "web")
    backdate(box, old, days=31)
    assert prune(box, ["web"], keep_days=30).removed == 4

    box.register("archive")
    assert [e.event_id for e in box.pending("archive", 1000)] == recent
    # until the newcomer confirms them, nothing more goes, even once old
    backdate(box, recent, days=31)
    assert prune(box, ["web", "archive"], keep_days=30).removed == 0
    box.mark_delivered("archive", box.pending("archive"))
    assert prune(box, ["web", "archive"], keep_days=30).removed == 3


def test_pruning_beside_live_taps_and_deliveries_loses_no_tap(box: Outbox) -> None:
    """Threads commit taps on two readers, a forwarder confirms them, a pruner runs with a
    clock two days ahead (so every confirmed tap is prunable the moment it is confirmed)."""
    committed: list[tuple[str, str, int]] = []
    delivered: set[str] = set()
    stop = threading.Event()
    errors: list[BaseException] = []
    box.register("web")

    def tapper(reader: str) -> None:
        try:
            for i in range(150):
                stored = box.commit(make(event_id=f"{reader}-{i}", reader=reader))
                committed.append((reader, stored.event_id, stored.seq))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    def forwarder() -> None:
        try:
            while not stop.is_set() or box.pending("web"):
                batch = box.pending("web", 17)
                box.mark_delivered("web", batch)
                delivered.update(e.event_id for e in batch)
        except BaseException as exc:
            errors.append(exc)

    def pruner(removed: list[int]) -> None:
        try:
            while not stop.is_set():
                removed.append(
                    prune(box, ["web"], 1, now=time.time() + 2 * DAY, batch_size=10).removed
                )
        except BaseException as exc:
            errors.append(exc)

    removed: list[int] = []
    tappers = [threading.Thread(target=tapper, args=(r,)) for r in ("a", "b")]
    helpers = [threading.Thread(target=forwarder), threading.Thread(target=pruner, args=(removed,))]
    for t in tappers + helpers:
        t.start()
    for t in tappers:
        t.join(60)
    stop.set()
    for t in helpers:
        t.join(60)
    assert errors == []

    all_ids = {event_id for _, event_id, _ in committed}
    assert len(all_ids) == 300
    still_there = set(kept(box))
    # every tap is either still in the outbox or was confirmed before it went
    assert all_ids <= still_there | delivered
    assert sum(removed) == 300 - len(still_there) > 0
    for reader in ("a", "b"):
        seqs = sorted(s for r, _, s in committed if r == reader)
        assert seqs == list(range(1, 151))  # no gap, no reuse while pruning ran


def test_negative_keep_days_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[station]\ndata_dir = "{tmp_path}"\n[outbox]\nkeep_days = -1\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "outbox", "prune"])
    assert result.exit_code == 3
    assert "outbox.keep_days" in result.output and "negative" in result.output
    config.write_text(f'[station]\ndata_dir = "{tmp_path}"\n[outbox]\nkeep_days = "30"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "outbox", "prune"])
    assert result.exit_code == 3 and "outbox.keep_days" in result.output
    config.write_text(f'[station]\ndata_dir = "{tmp_path}"\n')
    assert load_settings(config).outbox.keep_days == 30


def cli_setup(tmp_path: Path) -> tuple[Path, list[str]]:
    """4 old delivered events, 1 old dead letter, 2 recent; returns what should stay."""
    config = tmp_path / "c.toml"
    config.write_text(
        f'[station]\nname = "st"\ndata_dir = "{tmp_path}"\n[registry]\nurl = "none"\n'
        f'[outbox]\nkeep_days = 7\n[[forwarders]]\ntype = "jsonl"\nname = "archive"\n'
        f'path = "{tmp_path / "taps.jsonl"}"\n'
    )
    box = Outbox.open(tmp_path / "outbox.db")
    old = commit(box, 4, prefix="old")
    dead = commit(box, 1, prefix="dead")
    box.register("archive")
    box.mark_dead("archive", box.pending("archive")[4], "rejected")
    deliver(box, "archive")
    backdate(box, old + dead, days=8)
    recent = commit(box, 2, prefix="new")
    box.close()
    return config, dead + recent


def test_outbox_prune_command_dry_run_then_for_real(tmp_path: Path) -> None:
    config, rest = cli_setup(tmp_path)
    run = CliRunner().invoke(
        cli, ["--config", str(config), "outbox", "prune", "--dry-run", "--json"]
    )
    assert run.exit_code == 0, run.output
    data = json.loads(run.output)
    assert data["dry_run"] is True and data["removed"] == 4 and data["kept"] == 3
    assert (data["kept_recent"], data["kept_dead_letter"], data["kept_undelivered"]) == (2, 1, 0)
    assert data["forwarders"] == ["archive"]
    box = Outbox.open(tmp_path / "outbox.db")
    assert box.count() == 7  # the dry run deleted nothing
    box.close()

    run = CliRunner().invoke(cli, ["--config", str(config), "outbox", "prune"])
    assert run.exit_code == 0, run.output
    assert "removed 4 events" in run.output
    assert "kept 3: 2 too recent (< 7 days), 1 dead letters, 0 undelivered" in run.output
    box = Outbox.open(tmp_path / "outbox.db")
    assert kept(box) == rest
    box.close()
    run = CliRunner().invoke(cli, ["--config", str(config), "outbox", "prune", "--json"])
    assert json.loads(run.output)["removed"] == 0


def test_the_daemon_prunes_after_ready_and_shows_it_in_status(tmp_path: Path) -> None:
    config, rest = cli_setup(tmp_path)
    daemon = Daemon(load_settings(config), notify=SdNotify(""), prune_interval=3600)
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    try:
        assert daemon.ready.wait(30)
        deadline = time.monotonic() + 20
        while daemon.pruner is None or daemon.pruner.last is None:
            assert time.monotonic() < deadline, "no prune after READY"
            time.sleep(0.02)
        assert daemon.pruner.last.removed == 4
        status = daemon.status()
        assert status["outbox"]["retention"]["last"]["removed"] == 4
        assert status["outbox"]["events"] == 3
    finally:
        daemon.request_stop()
        thread.join(30)
    assert not daemon.pruner.is_alive()
    box = Outbox.open(tmp_path / "outbox.db")
    assert kept(box) == rest
    box.close()
