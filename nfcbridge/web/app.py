"""The Flask application: settings, the registry, accounts, and the pages' blueprints.

Security, in one place:
- session cookie: signed with a key kept owner-only in the data directory, HttpOnly,
  SameSite=Strict, Secure unless configured off; a login lasts ``session_minutes`` and ends
  after ``idle_minutes`` without a request;
- every POST carries a CSRF token (Flask-WTF); a request without it is refused (400);
- the account is read again on every request, so disabling or locking it ends its sessions;
- responses forbid framing, sniffing, caching and outside scripts (Content-Security-Policy);
- request bodies are capped (nothing here takes more than a form).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFProtect

from nfcbridge.config import Settings
from nfcbridge.errors import ConfigError
from nfcbridge.web import i18n
from nfcbridge.web.jobs import Jobs
from provisioning.accounts import Account, AccountPolicy, Accounts
from provisioning.errors import UnknownEntity
from provisioning.registry import Registry

MAX_BODY = 64 * 1024


@dataclass
class WebState:
    """What every request handler reaches through ``state()``."""

    settings: Settings
    registry: Registry
    accounts: Accounts
    jobs: Jobs
    extra: dict[str, Any] = field(default_factory=dict)


def load_web_key(path: Path) -> bytes:
    """The session-signing key: 32 random bytes, created owner-only on first use."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path}: {exc.strerror}", key="web.secret_key_file"
        ) from None
    key = secrets.token_bytes(32)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot create {path}: {exc.strerror}", key="web.secret_key_file"
        ) from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def create_app(settings: Settings, registry: Registry) -> Flask:
    from nfcbridge.web import admin, auth, customer_life, customers, desk, orders, reports

    app = Flask(__name__)
    web = settings.web
    app.config.update(
        SECRET_KEY=load_web_key(settings.web_key_path),
        SESSION_COOKIE_NAME="nfcbridge_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=web.secure_cookies,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=web.session_minutes),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAX_CONTENT_LENGTH=MAX_BODY,
    )
    CSRFProtect(app)
    policy = AccountPolicy(web.max_failures, web.disable_after_days, web.remove_after_days)
    app.extensions["nfcbridge"] = WebState(
        settings=settings,
        registry=registry,
        accounts=Accounts(registry.store, policy),
        jobs=Jobs(settings, registry),
    )
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    app.jinja_env.globals.update(_=i18n.gettext, languages=i18n.LANGUAGES)
    app.before_request(_before)
    app.after_request(_headers)
    for blueprint in (
        auth.bp,
        desk.bp,
        customers.bp,
        customer_life.bp,
        orders.bp,
        reports.bp,
        admin.bp,
    ):
        app.register_blueprint(blueprint)
    app.add_url_rule("/", "home", _home)
    return app


def state() -> WebState:
    from flask import current_app

    found: WebState = current_app.extensions["nfcbridge"]
    return found


def current_account() -> Account | None:
    found: Account | None = g.get("account")
    return found


def _before() -> ResponseReturnValue | None:
    chosen = request.args.get("lang")
    if chosen in i18n.LANGUAGES:
        session["lang"] = chosen
    g.language = session.get("lang", state().settings.web.language)
    g.account = None
    username = session.get("user")
    if not username:
        return None
    now = time.time()
    web = state().settings.web
    expired = now - session.get("login_at", 0) > web.session_minutes * 60
    idle = now - session.get("seen_at", 0) > web.idle_minutes * 60
    try:
        account = state().accounts.get(username)
    except UnknownEntity:
        account = None
    if expired or idle or account is None or account.disabled or account.locked:
        language = g.language
        session.clear()
        session["lang"] = language
        return redirect(url_for("auth.login"))
    session["seen_at"] = now
    g.account = account
    return None


def _headers(response: Any) -> Any:
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


def _home() -> ResponseReturnValue:
    account = current_account()
    if account is None:
        return redirect(url_for("auth.login"))
    if account.role == "coordinator":
        return redirect(url_for("customers.index"))
    return redirect(url_for("desk.index"))
