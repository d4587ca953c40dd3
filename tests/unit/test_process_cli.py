"""The issue-13 commands end to end (click runner, real SQLite): customer end/lock/household,
provider billing and show, report invoice/collect, period close, order add/due."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nfcbridge.cli.main import cli
from provisioning import audit
from provisioning.months import is_working_day, today_in_sweden
from tests.support.cli import cli_state, stock
from tests.support.cli import run_cli as run


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return cli_state(tmp_path, monkeypatch)


def test_a_customer_ends_a_lock_arrives_and_provider_show_explains_the_allowance(env: Path):
    run("provider", "add", "P-1", "--name", "Omsorg Ett AB")
    for n in range(3):
        run("customer", "add", "--external-id", f"c{n}", "--provider", "P-1")
    uids = stock(env, 3)
    run("pickup", "--provider", "P-1", "--count", "3")
    run("attach", "--tag", uids[0], "--customer", "ext:c0")
    run("attach", "--tag", uids[1], "--customer", "ext:c1", "--label", "blå")
    ended = run("customer", "end", "ext:c0", "--reason", "died", "--on", "2026-11-20").stdout
    assert f"tag {uids[0]} retired" in ended
    locked = run("customer", "lock", "ext:c1", "--installed", "2026-11-21").stdout
    assert f"tag {uids[1]} to collect" in locked
    refused = run("attach", "--tag", uids[2], "--customer", "ext:c1", code=7)
    assert "digital lock" in refused.stderr
    shown = run("provider", "show", "P-1").stdout
    assert "3: 1 need a tag, 1 with a digital lock, 1 ended" in shown
    assert "- 1 held unattached" in shown and "= 2" in shown  # 1x1 + 2 spare - 1
    collect = json.loads(run("report", "collect", "--json").stdout)
    assert [r["uid"] for r in collect] == [uids[1]]
    bad = run("customer", "end", "ext:c2", "--reason", "bored", "--on", "2026-11-20", code=2)
    assert "bored" in bad.stderr


def test_invoice_csv_lists_a_private_providers_pickups_with_price(env: Path):
    run("provider", "add", "P-PRIV", "--name", "Privat AB")
    run("provider", "billing", "P-PRIV", "--kind", "private", "--price", "25,50")
    run("customer", "add", "--external-id", "x", "--provider", "P-PRIV")
    uids = stock(env, 2)
    run("pickup", "--provider", "P-PRIV", "--count", "2")
    month = f"{today_in_sweden(audit.utc_now()):%Y-%m}"
    text = run("report", "invoice", "--month", month).stdout
    assert "P-PRIV (Privat AB): 2 x 25.50 SEK = 51.00 SEK" in text
    rows = run("report", "invoice", "--month", month, "--csv").stdout.splitlines()
    assert rows[0] == "provider,kind,uid,picked_up,operator,price"
    assert sorted(r.split(",")[2] for r in rows[1:]) == sorted(uids)
    assert "month must be YYYY-MM" in run("report", "invoice", "--month", "2026-13", code=7).stderr
    run("provider", "billing", "P-PRIV", "--kind", "private", "--price", "abc", code=2)


def test_period_close_before_the_locking_date_is_refused_with_the_date(env: Path):
    month = f"{today_in_sweden(audit.utc_now()):%Y-%m}"
    refused = run("period", "close", month, code=7)
    assert "can be closed after its locking date" in refused.stderr
    closed = run("period", "close", "2025-12").stdout
    assert "locking date 2026-01-07" in closed and "audit anchor" in closed
    anchor = closed.split("audit anchor ")[1].split()[0]
    run("audit", "verify", "--anchor", anchor)


def test_orders_are_listed_at_the_desk_and_refused_over_the_allowance(env: Path):
    run("provider", "add", "P-1", "--name", "Omsorg Ett AB")
    run("customer", "add", "--external-id", "c", "--provider", "P-1")
    day = dt.date.today() + dt.timedelta(days=14)
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    run("order", "add", "--provider", "P-1", "--count", "3", "--pickup-on", day.isoformat())
    over = run("order", "add", "--provider", "P-1", "--count", "1", "--pickup-on", str(day), code=7)
    assert "may order 0 more tags" in over.stderr
    due = json.loads(run("order", "due", "--on", str(day), "--json").stdout)
    assert [(o["provider"], o["count"]) for o in due] == [("P-1", 3)]
    assert run("order", "due", "--on", str(day - dt.timedelta(days=1))).stdout.strip() == "(none)"


def test_a_bad_municipal_setting_names_the_file_and_key(tmp_path: Path):
    config = tmp_path / "bad.toml"
    config.write_text("[municipal]\nlocking_working_days = 0\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "period", "list"])
    assert result.exit_code == 3
    assert f"{config}: municipal:" in result.stderr
