"""Helpers for the web app's tests: a configured app on a fresh registry, and logging in
(password, then a TOTP code computed from the enrolled secret, as a phone would)."""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nfcbridge.config import Settings, StationSettings
from provisioning.accounts import Accounts, new_totp_secret, totp_code
from provisioning.registry import Registry

if TYPE_CHECKING:
    from flask.testing import FlaskClient

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def web_settings(data_dir: Path, **web: Any) -> Settings:
    base = Settings(station=StationSettings(name="desk-1", data_dir=str(data_dir)))
    return dataclasses.replace(
        base,
        provisioning=dataclasses.replace(base.provisioning, accept_test_signatures=True),
        web=dataclasses.replace(base.web, secure_cookies=False, **web),
    )


@dataclass
class People:
    """Accounts made for a test, with their authenticator secrets."""

    accounts: Accounts
    secrets: dict[str, str] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, role: str, providers: tuple[str, ...] = ()) -> None:
        self.accounts.add(name, role, PASSWORD, operator="test", provider_ids=providers)
        secret = new_totp_secret()
        # enrolled one step back, so the login's code (this step) is new
        self.accounts.enrol(name, secret, totp_code(secret, time.time() - 30))
        self.secrets[name] = secret

    def code(self, name: str) -> str:
        """A code for *name* that was not used yet (the next step once this one is spent)."""
        step = max(int(time.time() // 30), self.steps.get(name, 0) + 1)
        self.steps[name] = step
        return totp_code(self.secrets[name], step * 30)


def make_people(registry: Registry) -> People:
    return People(Accounts(registry.store))


def csrf(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login_client(client: FlaskClient, people: People, name: str) -> None:
    """Log *name* in through Flask's test client: password, then a fresh code."""
    page = client.get("/login")
    answer = client.post(
        "/login", data={"username": name, "password": PASSWORD, "csrf_token": csrf(page.text)}
    )
    assert answer.location == "/login/code"
    page = client.get("/login/code")
    answer = client.post(
        "/login/code", data={"code": people.code(name), "csrf_token": csrf(page.text)}
    )
    assert answer.status_code == 302 and answer.location == "/", answer.text
