"""The municipal process in the web app (Flask's test client): ending a customer, digital
locks, labels, orders, the invoice, the allowance's explanation and closing a month.

The rules are the registry's (tests/unit/test_customer_life.py proves them); these prove the
pages call them for the right account, audit as ``web:<username>``, stay within the
coordinator's providers and explain a refusal in Swedish with its figures.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from nfcbridge.cli.provider_cmds import explain_allowance
from nfcbridge.registry_open import open_registry
from nfcbridge.web.app import create_app
from nfcbridge.web.forms import today
from provisioning.months import add_working_days
from provisioning.registry import Registry
from tests.support.web import People, csrf, login_client, make_people, web_settings

_uids = itertools.count(1)
Site = tuple[Flask, Registry, People]


@pytest.fixture
def site(tmp_path: Path, new_sqlite_registry: Callable[[Path], str]) -> Iterator[Site]:
    settings = web_settings(tmp_path / "data")
    new_sqlite_registry(tmp_path / "data" / "registry.db")  # the default registry, at head
    registry = open_registry(settings)
    registry.open_batch("b1", operator="test")
    for pid, name in (("P1", "Omsorg Ett"), ("P2", "Omsorg Två")):
        registry.add_provider(pid, name, operator="test")
    people = make_people(registry)
    people.add("coord1", "coordinator", ("P1",))
    app = create_app(settings, registry)
    yield app, registry, people
    app.extensions["nfcbridge"].jobs.stop_all()
    registry.close()


def stock(registry: Registry, n: int) -> list[str]:
    return [
        registry.record_provisioned(
            b"\x04" + next(_uids).to_bytes(6, "big"), "NTAG213", os.urandom(12).hex(), "b1", "t"
        ).uid
        for _ in range(n)
    ]


def with_tag(registry: Registry, ref: str, provider: str = "P1") -> str:
    registry.add_customer(ref, provider, operator="test")
    (uid,) = stock(registry, 1)
    registry.pickup_tags(provider, [uid], operator="test")
    registry.attach(uid, ref, operator="test")
    return uid


def post(client: FlaskClient, path: str, **form: str) -> str:
    """Post *form* from the page at *path*'s form (with its CSRF token); the page after."""
    token = csrf(client.get("/customers/").text)
    return client.post(path, data={**form, "csrf_token": token}, follow_redirects=True).text


def coordinator(site: Site) -> FlaskClient:
    app, _, people = site
    client = app.test_client()
    login_client(client, people, "coord1")
    return client


def test_ending_a_customer_retires_the_tag_as_the_account(site: Site) -> None:
    _, registry, _ = site
    uid = with_tag(registry, "ext:anna")
    client = coordinator(site)
    page = post(client, "/customers/ext:anna/end", reason="died", on=today().isoformat())
    assert f"Hemtjänsten är avslutad; taggen {uid} är avregistrerad." in page
    assert "Hemtjänsten upphörde" in page and "avliden" in page
    assert registry.tag(uid).state == "retired"
    assert registry.customer("ext:anna").status == "ended"
    assert registry.history(uid)[-1].operator == "web:coord1"
    assert "<td>hemtjänsten avslutad</td>" in client.get("/customers/").text


def test_the_tag_stays_with_a_cohabitant(site: Site) -> None:
    _, registry, _ = site
    uid = with_tag(registry, "ext:a")
    registry.add_customer("ext:b", "P1", operator="test")
    registry.link_household(["ext:a", "ext:b"], operator="test")
    client = coordinator(site)
    assert "Behåll den åt den sammanboende" in client.get("/customers/ext:a").text
    page = post(
        client, "/customers/ext:a/end", reason="care_home", on=today().isoformat(), keep_for="ext:b"
    )
    assert "sitter kvar på dörren för den sammanboende" in page
    assert registry.customer("ext:b").active_tag == uid


def test_a_coordinator_cannot_end_or_lock_another_providers_customer(site: Site) -> None:
    _, registry, _ = site
    uid = with_tag(registry, "ext:theirs", "P2")
    client = coordinator(site)
    token = csrf(client.get("/customers/").text)
    day = today().isoformat()
    for path, form in (("end", {"reason": "died"}), ("lock", {"change": "installed"})):
        answer = client.post(
            f"/customers/ext:theirs/{path}", data={**form, "on": day, "csrf_token": token}
        )
        assert answer.status_code == 404
    assert registry.customer("ext:theirs").status == "active"
    assert registry.tag(uid).state == "active"


def test_a_lock_names_the_tag_to_collect_and_attach_is_refused_in_swedish(site: Site) -> None:
    _, registry, _ = site
    uid = with_tag(registry, "ext:lock")
    registry.add_customer("ext:new", "P1", operator="test")
    client = coordinator(site)
    day = today().isoformat()
    page = post(client, "/customers/ext:lock/lock", change="installed", on=day)
    assert f"Taggen {uid} på dörren behövs inte längre" in page
    assert registry.provider("P1").customers_with_lock == 1
    page = post(client, "/customers/ext:new/lock", change="installed", on=day)
    assert "kunden behöver ingen tagg" in page
    (spare,) = stock(registry, 1)
    registry.pickup_tags("P1", [spare], operator="test")
    page = post(client, "/customers/ext:new/attach", uid=spare, scan="0")
    assert f"Kunden har haft ett digitalt lås sedan {day}" in page
    assert registry.tag(spare).state == "issued"
    page = post(
        client, "/customers/ext:new/attach", uid=spare, scan="0", force_reason="låset trasigt"
    )
    assert registry.tag(spare).state == "active"
    assert registry.history(spare)[-1].reason == "låset trasigt"


def test_attach_records_the_label_and_the_page_shows_it(site: Site) -> None:
    _, registry, _ = site
    registry.add_customer("ext:c", "P1", operator="test")
    (uid,) = stock(registry, 1)
    registry.pickup_tags("P1", [uid], operator="test")
    client = coordinator(site)
    page = post(client, "/customers/ext:c/attach", uid=uid, scan="0", label="blå")
    assert f"Taggen {uid} sitter nu på kundens dörr, märkt blå." in page
    assert re.search(r'<dd id="label">blå</dd>', client.get("/customers/ext:c").text)
    assert registry.customer("ext:c").label == "blå"


def test_a_change_dated_in_a_closed_month_is_explained(site: Site) -> None:
    _, registry, _ = site
    registry.add_customer("ext:old", "P1", operator="test")
    registry.close_period("2025-01", operator="test")
    page = post(coordinator(site), "/customers/ext:old/end", reason="died", on="2025-01-15")
    assert "Månaden 2025-01 är stängd" in page
    assert registry.customer("ext:old").status == "active"


def test_the_pickup_page_explains_the_allowance_as_provider_show_does(site: Site) -> None:
    app, registry, people = site
    people.add("desk1", "desk")
    for name in ("a", "b", "c", "d"):
        registry.add_customer(f"ext:{name}", "P1", operator="test")
    registry.end_customer("ext:a", reason="died", on=today(), operator="test")
    registry.set_lock("ext:b", installed=today(), operator="test")
    client = app.test_client()
    login_client(client, people, "desk1")
    page = client.get("/desk/pickup?provider=P1").text
    web = re.search(r'<p id="explanation">([^<]*)</p>', page)
    assert web is not None
    # ended and lock customers need no tag: 2 x 1 + 2 spare - 0 = 4
    assert web.group(1).startswith("2 kunder som behöver tagg och saknar en × 1 per kund")
    assert "4 kunder: 2 behöver tagg, 1 har digitalt lås (behöver ingen tagg), 1 avslutade." in page
    cli = explain_allowance(registry.provider("P1").as_dict())
    cli_terms = re.findall(r"-?\d+", cli.split("allowance", 1)[1])
    assert re.findall(r"-?\d+", web.group(1)) == cli_terms  # the same terms, in order


def test_orders_are_placed_within_the_allowance_and_too_soon_is_explained(site: Site) -> None:
    _, registry, _ = site
    registry.add_customer("ext:c", "P1", operator="test")  # allowance 1 + 2 spare = 3
    client = coordinator(site)
    ahead = add_working_days(today(), 3).isoformat()
    page = post(client, "/orders/", provider="P1", count="9", pickup_on=ahead)
    assert "Nekad: 9 taggar beställda, 3 till får beställas nu" in page
    page = post(client, "/orders/", provider="P1", count="2", pickup_on=today().isoformat())
    earliest = add_working_days(today(), 1).isoformat()
    assert f"tidigaste hämtningsdag är {earliest}" in page
    page = post(client, "/orders/", provider="P1", count="2", pickup_on=ahead)
    assert f"hämta 2 st. den {ahead}" in page
    assert [o["ordered_by"] for o in registry.orders_due()] == ["web:coord1"]
    token = csrf(page)
    answer = client.post(
        "/orders/", data={"provider": "P2", "count": "1", "pickup_on": ahead, "csrf_token": token}
    )
    assert answer.status_code == 403
    assert len(registry.orders_due()) == 1


def test_the_desk_sees_orders_due_and_a_pickup_fulfils_one(site: Site) -> None:
    app, registry, people = site
    people.add("desk1", "desk")
    registry.add_customer("ext:c", "P1", operator="test")
    stock(registry, 3)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=14)
    due = add_working_days(past.date(), 3)
    order = registry.add_order("P1", 2, due, operator="coord", now=past)
    client = app.test_client()
    login_client(client, people, "desk1")
    desk = client.get("/desk/").text
    assert re.search(rf"<td>{order['order']}</td><td><a [^>]*>P1</a></td>", desk)
    page = client.get("/desk/pickup?provider=P1").text
    assert f"Lämna ut beställning {order['order']} (2 st.)" in page
    answer = client.post(
        "/desk/pickup",
        data={"provider": "P1", "count": "2", "csrf_token": csrf(page)},
        follow_redirects=True,
    )
    assert f"Beställning {order['order']} är levererad." in answer.text
    assert registry.orders_due() == []
    assert registry.provider("P1").unattached == 2


def test_a_coordinator_sees_their_own_invoice_with_formula_safe_csv(site: Site) -> None:
    _, registry, _ = site
    registry.set_billing("P1", kind="private", price_ore=2500, operator="test")
    registry.add_customer("ext:c", "P1", operator="test")
    registry.add_customer("ext:d", "P2", operator="test")
    stock(registry, 3)
    registry.pickup("P1", 2, operator="=HYPERLINK(1)")
    registry.pickup("P2", 1, operator="test")
    client = coordinator(site)
    month = today().strftime("%Y-%m")
    page = client.get(f"/reports/?month={month}").text
    invoice = re.search(r'<table id="invoice">.*?</table>', page, re.S)
    assert invoice is not None
    assert "Omsorg Ett (P1)" in invoice.group(0) and "50.00" in invoice.group(0)
    assert "P2" not in invoice.group(0)
    csv = client.get(f"/reports/invoice.csv?month={month}")
    assert csv.headers["Content-Disposition"] == f'attachment; filename="invoice-{month}.csv"'
    lines = csv.text.splitlines()
    assert lines[0] == "provider,kind,uid,picked_up,operator,price"
    assert len(lines) == 3 and all(",'=HYPERLINK(1)," in line for line in lines[1:])
    assert client.get("/reports/invoice.csv?month=2026-13").status_code == 400


def test_closing_a_month_is_refused_before_its_locking_date(site: Site) -> None:
    app, registry, people = site
    people.add("admin1", "admin")
    client = app.test_client()
    login_client(client, people, "admin1")
    token = csrf(client.get("/admin/periods").text)
    month = today().strftime("%Y-%m")
    lock_day = registry.locking_date(month)
    page = client.post(
        "/admin/periods", data={"month": month, "csrf_token": token}, follow_redirects=True
    ).text
    assert f"Månaden {month} kan stängas efter sitt spärrdatum {lock_day}." in page
    assert registry.closed_periods() == []
    page = client.post(
        "/admin/periods", data={"month": "2025-02", "csrf_token": token}, follow_redirects=True
    ).text
    assert "Månaden 2025-02 är stängd. Spara granskningsankaret" in page
    assert [p["operator"] for p in registry.closed_periods()] == ["web:admin1"]
    assert coordinator(site).get("/admin/periods").status_code == 403
