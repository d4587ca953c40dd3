"""Outbox retention on the Prometheus endpoint: what a station's alerts need to see that
the outbox stops shrinking (a failing run) or holds old events no forwarder confirmed."""

from __future__ import annotations

import time
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from nfcbridge.metrics import Metrics
from nfcbridge.outbox import Outbox
from nfcbridge.retention import DAY, Pruner
from tests.support.events import make


def scrape(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def run_once(pruner: Pruner) -> None:
    pruner.start()
    deadline = time.monotonic() + 30
    while pruner.runs < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    pruner.stop()
    pruner.join(10)
    assert pruner.runs == 1


def old_outbox(path: Path, events: int) -> Outbox:
    """*events* taps committed three days ago; forwarder ``web`` confirmed all but the last."""
    box = Outbox.open(path)
    box.register("web")
    for i in range(events):
        box.commit(make(reader="door", event_id=f"e{i}"))
    with box.transaction() as conn:
        conn.execute("UPDATE events SET committed_at = ?", (time.time() - 3 * DAY,))
    box.mark_delivered("web", box.pending("web")[:-1])
    return box


def test_retention_runs_removals_and_held_events_are_scraped(tmp_path: Path) -> None:
    with old_outbox(tmp_path / "outbox.db", 5) as box:
        metrics = Metrics()
        pruner = Pruner(box, ["web"], keep_days=1)
        metrics.watch_retention(lambda: pruner)
        before = scrape(metrics)
        assert before[("nfcbridge_outbox_prune_runs_total", ())] == 0
        assert ("nfcbridge_outbox_last_prune_timestamp_seconds", ()) not in before
        run_once(pruner)
        after = scrape(metrics)
    assert after[("nfcbridge_outbox_prune_runs_total", ())] == 1
    assert after[("nfcbridge_outbox_pruned_events_total", ())] == 4
    assert after[("nfcbridge_outbox_prune_failing", ())] == 0
    held = "nfcbridge_outbox_retention_held_events"
    assert after[(held, (("reason", "undelivered"),))] == 1  # the one "web" never confirmed
    assert after[(held, (("reason", "dead_letter"),))] == 0
    assert abs(after[("nfcbridge_outbox_last_prune_timestamp_seconds", ())] - time.time()) < 60


def test_a_failing_retention_run_is_scraped_as_failing(tmp_path: Path) -> None:
    with old_outbox(tmp_path / "outbox.db", 3) as box:
        with box.transaction() as conn:  # SQLite refuses the delete, as on an I/O error
            conn.execute(
                "CREATE TRIGGER refuse BEFORE DELETE ON events"
                " BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
            )
        metrics = Metrics()
        pruner = Pruner(box, ["web"], keep_days=1)
        metrics.watch_retention(lambda: pruner)
        run_once(pruner)
        after = scrape(metrics)
        assert box.count() == 3
    assert after[("nfcbridge_outbox_prune_failing", ())] == 1
    assert after[("nfcbridge_outbox_pruned_events_total", ())] == 0


def test_nothing_about_retention_is_scraped_while_it_is_off() -> None:
    metrics = Metrics()
    metrics.watch_retention(lambda: None)
    assert not any(name.startswith("nfcbridge_outbox_prune") for name, _ in scrape(metrics))
