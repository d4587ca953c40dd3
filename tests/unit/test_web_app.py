"""The web app through Flask's test client: login rules, CSRF, who sees what, what is said.

The browser suite (tests/browser) drives the same pages in Chromium; these are the rules
that do not need a browser to be proven.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from nfcbridge.registry_open import open_registry, pseudonymizer
from nfcbridge.web.app import create_app
from provisioning.registry import Registry
from tests.support.web import PASSWORD, People, csrf, make_people, web_settings
from tests.support.web import login_client as login

PNR = "19121212-1212"  # a test personnummer (the whole-run scan looks for it everywhere)


@pytest.fixture
def site(
    tmp_path: Path, new_sqlite_registry: Callable[[Path], str]
) -> Iterator[tuple[Flask, Registry, People]]:
    settings = web_settings(tmp_path / "data", idle_minutes=30)
    new_sqlite_registry(tmp_path / "data" / "registry.db")  # the default registry, at head
    registry = open_registry(settings)
    for pid, name in (("P1", "Omsorg Ett"), ("P2", "Omsorg Två")):
        registry.add_provider(pid, name, operator="test")
    people = make_people(registry)
    people.add("desk1", "desk")
    people.add("coord1", "coordinator", ("P1",))
    app = create_app(settings, registry)
    yield app, registry, people
    app.extensions["nfcbridge"].jobs.stop_all()
    registry.close()


def test_pages_need_both_factors(site: tuple[Flask, Registry, People]) -> None:
    app, _, people = site
    client = app.test_client()
    assert client.get("/desk/").location == "/login"
    page = client.get("/login")
    client.post(
        "/login", data={"username": "desk1", "password": PASSWORD, "csrf_token": csrf(page.text)}
    )
    # the password alone is not a login
    assert client.get("/desk/").location == "/login"
    login(client, people, "desk1")
    assert client.get("/desk/").status_code == 200


def test_a_post_without_the_csrf_token_is_refused(site: tuple[Flask, Registry, People]) -> None:
    app, registry, people = site
    client = app.test_client()
    login(client, people, "desk1")
    answer = client.post("/desk/pickup", data={"provider": "P1", "count": "1"})
    assert answer.status_code == 400
    assert registry.provider("P1").unattached == 0
    answer = client.post("/login", data={"username": "desk1", "password": PASSWORD})
    assert answer.status_code == 400


def test_a_coordinator_cannot_reach_another_providers_customer(
    site: tuple[Flask, Registry, People],
) -> None:
    app, registry, people = site
    key = pseudonymizer(app.extensions["nfcbridge"].settings)
    theirs = registry.add_customer(key.pseudonym(PNR), "P2", operator="test")
    client = app.test_client()
    login(client, people, "coord1")
    assert client.get(f"/customers/{theirs}").status_code == 404  # as if it did not exist
    page = client.get("/customers/")
    assert theirs not in page.text
    token = csrf(page.text)
    assert (
        client.post(
            f"/customers/{theirs}/move", data={"provider": "P1", "csrf_token": token}
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/customers/{theirs}/attach", data={"uid": "04AABBCCDDEEFF", "csrf_token": token}
        ).status_code
        == 404
    )
    # nor add a customer to a provider that is not theirs
    answer = client.post(
        "/customers/new", data={"personnummer": PNR, "provider": "P2", "csrf_token": token}
    )
    assert answer.status_code == 403
    assert registry.customer(theirs).provider == "P2"
    # a coordinator has no desk
    assert client.get("/desk/").status_code == 403


def test_personnummer_is_never_echoed(site: tuple[Flask, Registry, People]) -> None:
    app, registry, people = site
    client = app.test_client()
    login(client, people, "coord1")
    token = csrf(client.get("/customers/").text)
    bodies = []
    for number in (PNR, "19121212-1213"):  # valid, and a wrong check digit
        for path in ("/customers/new", "/customers/find"):
            answer = client.post(
                path,
                data={"personnummer": number, "provider": "P1", "csrf_token": token},
                follow_redirects=True,
            )
            bodies.append(answer.text)
    text = "\n".join(bodies)
    assert not re.search(r"(19)?121212[-+]?121[23]", text)
    assert "inte ett giltigt personnummer" in text
    assert len(registry.customers("P1")) == 1


def test_an_idle_session_ends(site: tuple[Flask, Registry, People]) -> None:
    app, _, people = site
    client = app.test_client()
    login(client, people, "desk1")
    with client.session_transaction() as session:
        session["seen_at"] = time.time() - 31 * 60
    assert client.get("/desk/").location == "/login"


def test_disabling_an_account_ends_its_session(site: tuple[Flask, Registry, People]) -> None:
    app, _, people = site
    client = app.test_client()
    login(client, people, "desk1")
    people.accounts.disable("desk1", operator="test", reason="left")
    assert client.get("/desk/").location == "/login"


def test_english_is_one_click_away(site: tuple[Flask, Registry, People]) -> None:
    app, _, _ = site
    client = app.test_client()
    assert "Logga in" in client.get("/login").text
    assert "Log in" in client.get("/login?lang=en").text
    assert "Log in" in client.get("/login").text  # the choice stays with the session


def test_pages_forbid_framing_and_outside_scripts(site: tuple[Flask, Registry, People]) -> None:
    app, _, _ = site
    answer = app.test_client().get("/login")
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY"
    cookie = answer.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
