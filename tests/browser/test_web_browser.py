"""The web app in real headless Chromium (Debian's ``chromium``, driven by Playwright).

The app runs in this process on a real HTTP server on loopback, with a mock desk reader
whose bench the tests load with emulated tags, and a SQLite registry. Every page the browser
is shown is kept under the test's temporary directory, with the server's log, so the
whole-run personnummer scan (tests/conftest.py) covers the HTML, the PDF and the logs.
Screenshots at 1280x800 go to ``$NFCBRIDGE_SCREENSHOTS`` (default: the temporary
directory). Budget: about a minute.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from drivers.emulated.chip import EmulatedTag
from drivers.mock import bench
from drivers.products import product_by_name
from nfcbridge.registry_open import open_registry
from nfcbridge.web.app import create_app
from provisioning.registry import Registry
from tests.support.web import PASSWORD, People, make_people, web_settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PNR = "19121212-1212"  # typed into the masked fields; must never come back
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(  # in CI a missing browser is a failure, not a skip
        not Path(CHROMIUM).exists() and not os.environ.get("CI"),
        reason="Debian's chromium is not installed (apt install chromium)",
    ),
]
playwright_api = pytest.importorskip("playwright.sync_api")


@dataclass
class Site:
    url: str
    registry: Registry
    people: People
    pages: Path
    shots: Path
    provisioned: list[EmulatedTag]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from werkzeug.serving import make_server

    base = tmp_path_factory.mktemp("web")
    settings = web_settings(base / "data", desk_reader="mock:desk")
    registry = open_registry(settings)
    registry.add_provider("P1", "Omsorg Ett", operator="test")
    registry.add_provider("P2", "Omsorg Två", operator="test")
    people = make_people(registry)
    people.add("desk1", "desk")
    people.accounts.add("newbie", "desk", PASSWORD, operator="test")  # enrols in the browser
    app = create_app(settings, registry)
    log = logging.getLogger("werkzeug")
    handler = logging.FileHandler(base / "server.log")
    log.addHandler(handler)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="web-test-server")
    thread.start()
    shots = Path(os.environ.get("NFCBRIDGE_SCREENSHOTS") or base / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    (base / "pages").mkdir()
    try:
        yield Site(
            f"http://127.0.0.1:{server.server_port}", registry, people, base / "pages", shots, []
        )
    finally:
        server.shutdown()
        thread.join(10)
        app.extensions["nfcbridge"].jobs.stop_all()
        log.removeHandler(handler)
        registry.close()


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, site: Site, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 1280, "height": 800}, accept_downloads=True, locale="sv-SE"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    seen: list[str] = []
    page.on("load", lambda p: seen.append(p.content()))
    yield page
    name = request.node.name
    (site.pages / f"{name}.html").write_text("\n<!-- next page -->\n".join(seen))
    context.close()


def login(page: object, site: Site, role: str, providers: tuple[str, ...] = ()) -> str:
    """Log a new account of *role* in (a TOTP code is good once: one account per login)."""
    name = f"{role[:5]}-{len(site.people.secrets)}"
    site.people.add(name, role, providers)
    page.goto(site.url + "/login")  # type: ignore[attr-defined]
    page.get_by_label("Användarnamn").fill(name)  # type: ignore[attr-defined]
    page.get_by_label("Lösenord").fill(PASSWORD)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Nästa").click()  # type: ignore[attr-defined]
    page.get_by_label("Sexsiffrig kod").fill(site.people.code(name))  # type: ignore[attr-defined]
    page.get_by_role("button", name="Logga in").click()  # type: ignore[attr-defined]
    page.get_by_role("button", name="Logga ut").wait_for()  # type: ignore[attr-defined]
    return name


def axe_violations(page: object) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)" for v in results.response["violations"]
    ]


def test_enrol_two_factor_and_log_in(page: object, site: Site) -> None:
    from provisioning.accounts import totp_code

    page.goto(site.url + "/login")  # type: ignore[attr-defined]
    page.get_by_label("Användarnamn").fill("newbie")  # type: ignore[attr-defined]
    page.get_by_label("Lösenord").fill(PASSWORD)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Nästa").click()  # type: ignore[attr-defined]
    assert page.locator(".qr svg").count() == 1  # type: ignore[attr-defined]
    secret = page.locator("#secret").inner_text().replace(" ", "")  # type: ignore[attr-defined]
    assert axe_violations(page) == []
    page.get_by_label("Sexsiffrig kod").fill(totp_code(secret))  # type: ignore[attr-defined]
    page.get_by_role("button", name="Bekräfta och logga in").click()  # type: ignore[attr-defined]
    page.get_by_role("heading", name="Servicedisk").wait_for()  # type: ignore[attr-defined]
    assert site.people.accounts.get("newbie").enrolled


def test_login_works_from_the_keyboard_alone(page: object, site: Site) -> None:
    page.goto(site.url + "/login")  # type: ignore[attr-defined]
    keyboard = page.keyboard  # type: ignore[attr-defined]
    playwright_api.expect(page.get_by_label("Användarnamn")).to_be_focused()  # type: ignore[attr-defined]
    keyboard.type("desk1")
    keyboard.press("Tab")
    keyboard.type(PASSWORD)
    keyboard.press("Enter")
    playwright_api.expect(page.get_by_label("Sexsiffrig kod")).to_be_focused()  # type: ignore[attr-defined]
    keyboard.type(site.people.code("desk1"))
    keyboard.press("Enter")
    page.get_by_role("heading", name="Servicedisk").wait_for()  # type: ignore[attr-defined]


def test_provision_a_batch_of_five_and_watch_each_tag(page: object, site: Site) -> None:
    tags = [EmulatedTag(product_by_name("ntag213")) for _ in range(5)]
    desk = bench("desk")
    desk.roll = iter(tags[1:])
    desk.place(tags[0])
    login(page, site, "desk")
    page.get_by_label("Batchnamn (rullens etikett)").fill("rulle-1")  # type: ignore[attr-defined]
    page.get_by_label("Antal taggar i batchen").fill("5")  # type: ignore[attr-defined]
    page.get_by_label("Jag vet att varje tagg skrivs och låses för alltid.").check()  # type: ignore[attr-defined]
    assert axe_violations(page) == []
    page.screenshot(path=str(site.shots / "desk.png"))  # type: ignore[attr-defined]
    page.get_by_role("button", name="Starta på diskens läsare").click()  # type: ignore[attr-defined]
    totals = page.locator("#totals")  # type: ignore[attr-defined]
    playwright_api.expect(totals).to_contain_text("5 av 5 taggar klara", timeout=30_000)
    rows = page.locator("#results tbody tr")  # type: ignore[attr-defined]
    assert rows.count() == 5
    assert page.locator("#results").inner_text().count("Klar: lägg taggen i lagret.") == 5  # type: ignore[attr-defined]
    uids = {t.uid.hex().upper() for t in tags}
    shown = set(re.findall(r"04[0-9A-F]{12}", page.locator("#results").inner_text()))  # type: ignore[attr-defined]
    assert shown == uids
    assert all(site.registry.tag(u).state == "in_stock" for u in uids)
    site.provisioned.extend(tags)


def test_pickup_within_quota_gives_a_receipt_pdf(page: object, site: Site) -> None:
    from pypdf import PdfReader

    assert site.provisioned, "needs the batch provisioned above"
    for i in range(2):  # two customers: allowance 2 x 1 + 2 spare = 4
        site.registry.add_customer(f"ext:p1-{i}", "P1", operator="test")
    name = login(page, site, "desk")
    page.goto(site.url + "/desk/pickup?provider=P1")  # type: ignore[attr-defined]
    explanation = page.locator("#explanation").inner_text()  # type: ignore[attr-defined]
    assert "2 kunder som behöver tagg och saknar en × 1 per kund + 2 i reserv" in explanation
    assert explanation.endswith("= 4 taggar får hämtas nu.")
    assert axe_violations(page) == []
    page.screenshot(path=str(site.shots / "pickup.png"))  # type: ignore[attr-defined]
    page.get_by_label("Antal taggar (äldsta i lagret först)").fill("3")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Lämna ut och skapa kvittens").click()  # type: ignore[attr-defined]
    page.get_by_role("heading", name="Kvittens på utlämning").wait_for()  # type: ignore[attr-defined]
    issued = re.findall(r"04[0-9A-F]{12}", page.locator(".uids").inner_text())  # type: ignore[attr-defined]
    assert len(issued) == 3
    with page.expect_download() as info:  # type: ignore[attr-defined]
        page.locator("#pdf").click()  # type: ignore[attr-defined]
    pdf_path = site.pages / "receipt.pdf"
    info.value.save_as(pdf_path)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_path.read_bytes())).pages)
    assert all(uid in text for uid in issued)
    assert f"web:{name}" in text
    assert all(site.registry.tag(u).state == "issued" for u in issued)


def test_pickup_over_quota_is_refused_with_the_explanation(page: object, site: Site) -> None:
    login(page, site, "desk")
    page.goto(site.url + "/desk/pickup?provider=P1")  # type: ignore[attr-defined]
    before = site.registry.provider("P1").unattached
    page.get_by_label("Antal taggar (äldsta i lagret först)").fill("9")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Lämna ut och skapa kvittens").click()  # type: ignore[attr-defined]
    refused = page.locator("#refused")  # type: ignore[attr-defined]
    playwright_api.expect(refused).to_contain_text("Nekad: 9 taggar begärda")
    assert "per kund" in page.locator("#explanation").inner_text()  # type: ignore[attr-defined]
    assert site.registry.provider("P1").unattached == before


def test_coordinator_adds_finds_and_attaches_by_scan(page: object, site: Site) -> None:
    issued = [
        t for t in site.provisioned if site.registry.tag(t.uid.hex().upper()).state == "issued"
    ]
    assert issued, "needs the pickup above"
    name = login(page, site, "coordinator", ("P1",))
    page.get_by_label("Personnummer").first.fill(PNR)  # type: ignore[attr-defined]
    assert page.get_by_label("Personnummer").nth(1).get_attribute("type") == "password"  # type: ignore[attr-defined]
    page.locator("#add-pnr").fill(PNR)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Lägg till").click()  # type: ignore[attr-defined]
    page.get_by_text("Kunden är tillagd.").wait_for()  # type: ignore[attr-defined]
    ref = page.locator("#ref").inner_text()  # type: ignore[attr-defined]
    assert ref.startswith("psn:")
    page.goto(site.url + "/customers/")  # type: ignore[attr-defined]
    page.locator("#find-pnr").fill(PNR)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sök").click()  # type: ignore[attr-defined]
    playwright_api.expect(page.locator("#ref")).to_have_text(ref)  # type: ignore[attr-defined]
    assert axe_violations(page) == []
    tag = issued[0]
    bench("desk").place(tag)  # the coordinator lays the tag on the reader
    page.get_by_role("button", name="Skanna taggen på läsaren").click()  # type: ignore[attr-defined]
    uid = tag.uid.hex().upper()
    playwright_api.expect(page.locator("#tag")).to_have_text(uid)  # type: ignore[attr-defined]
    record = site.registry.tag(uid)
    assert record.state == "active" and record.customer == ref
    assert site.registry.history(uid)[-1].operator == f"web:{name}"


def test_a_coordinator_cannot_see_or_change_another_providers_customer(
    page: object, site: Site
) -> None:
    theirs = site.registry.add_customer("ext:p2-secret", "P2", operator="test")
    login(page, site, "coordinator", ("P1",))
    answer = page.goto(site.url + f"/customers/{theirs}")  # type: ignore[attr-defined]
    assert answer.status == 404
    page.goto(site.url + "/customers/")  # type: ignore[attr-defined]
    assert "ext:p2-secret" not in page.content()  # type: ignore[attr-defined]
    # a forged form post with a valid token, aimed at the other provider's customer
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")  # type: ignore[attr-defined]
    forged = page.request.post(  # type: ignore[attr-defined]
        site.url + f"/customers/{theirs}/move", form={"provider": "P1", "csrf_token": token}
    )
    assert forged.status == 404
    assert site.registry.customer(theirs).provider == "P2"


def test_a_request_without_the_csrf_token_is_refused(page: object, site: Site) -> None:
    login(page, site, "desk")
    before = site.registry.provider("P1").unattached
    answer = page.request.post(  # type: ignore[attr-defined]
        site.url + "/desk/pickup", form={"provider": "P1", "count": "1"}
    )
    assert answer.status == 400
    assert site.registry.provider("P1").unattached == before


def test_a_locked_out_account_stays_out(page: object, site: Site) -> None:
    site.people.add("victim", "desk")
    for _ in range(5):
        page.goto(site.url + "/login")  # type: ignore[attr-defined]
        page.get_by_label("Användarnamn").fill("victim")  # type: ignore[attr-defined]
        page.get_by_label("Lösenord").fill("not the password")  # type: ignore[attr-defined]
        page.get_by_role("button", name="Nästa").click()  # type: ignore[attr-defined]
        page.get_by_text("Fel användarnamn, lösenord eller kod.").wait_for()  # type: ignore[attr-defined]
    assert site.people.accounts.get("victim").locked
    page.get_by_label("Användarnamn").fill("victim")  # type: ignore[attr-defined]
    page.get_by_label("Lösenord").fill(PASSWORD)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Nästa").click()  # type: ignore[attr-defined]
    page.get_by_text("Fel användarnamn, lösenord eller kod.").wait_for()  # type: ignore[attr-defined]
    assert page.locator("#code").count() == 0  # type: ignore[attr-defined]


def test_reports_show_charts_and_csv(page: object, site: Site) -> None:
    login(page, site, "desk")
    page.goto(site.url + "/reports/")  # type: ignore[attr-defined]
    assert page.locator("figure svg[role=img]").count() == 3  # type: ignore[attr-defined]
    assert axe_violations(page) == []
    page.screenshot(path=str(site.shots / "reports.png"), full_page=True)  # type: ignore[attr-defined]
    csv = page.request.get(site.url + "/reports/issued.csv").text()  # type: ignore[attr-defined]
    assert csv.splitlines()[0] == "month,provider,issued"
    assert ",P1,3" in csv
    history = page.request.get(site.url + "/reports/stock-history.csv").text()  # type: ignore[attr-defined]
    assert history.splitlines()[-1].endswith(",2")  # 5 provisioned, 3 picked up this month


def test_coordinator_records_a_lock_and_orders_tags_ahead(page: object, site: Site) -> None:
    issued = [
        t.uid.hex().upper()
        for t in site.provisioned
        if site.registry.tag(t.uid.hex().upper()).state == "issued"
    ]
    assert issued, "needs the pickup above"
    ref = site.registry.add_customer("ext:p1-lock", "P1", operator="test")
    name = login(page, site, "coordinator", ("P1",))
    page.goto(site.url + f"/customers/{ref}")  # type: ignore[attr-defined]
    assert axe_violations(page) == []
    page.get_by_role("button", name="Registrera att låset är installerat").click()  # type: ignore[attr-defined]
    playwright_api.expect(page.locator("#status")).to_contain_text("Digitalt lås sedan")  # type: ignore[attr-defined]
    page.locator("#uid").fill(issued[0])  # type: ignore[attr-defined]
    page.get_by_role("button", name="Koppla", exact=True).click()  # type: ignore[attr-defined]
    playwright_api.expect(page.locator(".flash.error")).to_contain_text(  # type: ignore[attr-defined]
        "Kunden har haft ett digitalt lås sedan"
    )
    assert site.registry.tag(issued[0]).state == "issued"
    page.screenshot(path=str(site.shots / "customer.png"), full_page=True)  # type: ignore[attr-defined]
    page.get_by_role("link", name="Beställningar").click()  # type: ignore[attr-defined]
    page.get_by_label("Antal taggar", exact=True).fill("1")  # type: ignore[attr-defined]
    assert axe_violations(page) == []
    page.get_by_role("button", name="Lägg beställningen").click()  # type: ignore[attr-defined]
    page.get_by_text("hämta 1 st. den").wait_for()  # type: ignore[attr-defined]
    (order,) = site.registry.orders_due()
    assert order["ordered_by"] == f"web:{name}" and order["provider"] == "P1"


def test_desk_hands_out_an_open_order(page: object, site: Site) -> None:
    orders = site.registry.orders_due()
    assert orders, "needs the order above"
    login(page, site, "desk")
    page.goto(site.url + "/desk/pickup?provider=P1")  # type: ignore[attr-defined]
    button = page.get_by_role("button", name=f"Lämna ut beställning {orders[0]['order']}")  # type: ignore[attr-defined]
    page.screenshot(path=str(site.shots / "pickup-orders.png"), full_page=True)  # type: ignore[attr-defined]
    button.click()
    page.get_by_role("heading", name="Kvittens på utlämning").wait_for()  # type: ignore[attr-defined]
    page.get_by_text(f"Beställning {orders[0]['order']} är levererad.").wait_for()  # type: ignore[attr-defined]
    assert site.registry.orders_due() == []


def test_an_admin_cannot_close_the_month_before_its_locking_date(page: object, site: Site) -> None:
    from nfcbridge.web.forms import today

    login(page, site, "admin")
    page.get_by_role("link", name="Månader").click()  # type: ignore[attr-defined]
    assert axe_violations(page) == []
    month = today().strftime("%Y-%m")  # this month in Sweden: never past its locking date
    page.get_by_label("Månad (ÅÅÅÅ-MM)").fill(month)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Stäng månaden").click()  # type: ignore[attr-defined]
    locking = site.registry.locking_date(month)
    page.get_by_text(f"kan stängas efter sitt spärrdatum {locking}").wait_for()  # type: ignore[attr-defined]
    assert site.registry.closed_periods() == []
