"""Logging in with two factors, and who may see what.

Password first (``/login``), then the authenticator code (``/login/code``); an account
without two-factor enrols at its first login (``/login/enrol``: a QR code and the secret as
text). Until both steps are done the session holds only ``pending``; a wrong password or
code shows one message whatever the reason (locked, disabled, unknown user).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from nfcbridge.web.i18n import gettext as _
from provisioning.accounts import Accounts, new_totp_secret, totp_uri
from provisioning.errors import AccountError, LoginRefused

bp = Blueprint("auth", __name__)
View = TypeVar("View", bound=Callable[..., Any])


def requires(*roles: str) -> Callable[[View], View]:
    """The view needs a logged-in account, of one of *roles* when given (403 otherwise)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            account = g.get("account")
            if account is None:
                return redirect(url_for("auth.login"))
            if roles and account.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _accounts() -> Accounts:
    from nfcbridge.web.app import state

    return state().accounts


def _start_session(username: str) -> None:
    language = session.get("lang")
    session.clear()  # a new session id on every login: nothing from before survives
    session.permanent = True
    now = time.time()
    session.update(user=username, login_at=now, seen_at=now)
    if language:
        session["lang"] = language


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("login.html")
    username = request.form.get("username", "").strip().lower()
    try:
        account = _accounts().check_password(username, request.form.get("password", ""))
    except LoginRefused:
        flash(_("Wrong user name, password or code."), "error")
        return render_template("login.html", username=username), 401
    language = session.get("lang")
    session.clear()
    session["pending"] = account.username
    if language:
        session["lang"] = language
    if account.enrolled:
        return redirect(url_for("auth.code"))
    session["enrol_secret"] = new_totp_secret()
    return redirect(url_for("auth.enrol"))


@bp.route("/login/code", methods=["GET", "POST"])
def code() -> ResponseReturnValue:
    username = session.get("pending")
    if not username:
        return redirect(url_for("auth.login"))
    if request.method == "GET":
        return render_template("code.html")
    try:
        _accounts().check_code(username, request.form.get("code", ""))
    except LoginRefused:
        session.clear()
        flash(_("Wrong user name, password or code."), "error")
        return render_template("login.html"), 401
    _start_session(username)
    return redirect(url_for("home"))


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol() -> ResponseReturnValue:
    username = session.get("pending")
    secret = session.get("enrol_secret")
    if not username or not secret:
        return redirect(url_for("auth.login"))
    if request.method == "POST":
        try:
            _accounts().enrol(username, secret, request.form.get("code", ""))
        except LoginRefused:
            flash(_("The code did not match. Check the time on the phone and try again."), "error")
        except AccountError:
            session.clear()
            return redirect(url_for("auth.login"))
        else:
            _start_session(username)
            return redirect(url_for("home"))
    import segno

    qr = segno.make(totp_uri(secret, username), error="m")
    svg = qr.svg_inline(
        scale=5, dark="#000", light="#fff", title=_("QR code for the authenticator app")
    )
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render_template("enrol.html", qr_svg=svg, secret=grouped, username=username)


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))
