"""Accounts, for administrators: add, disable, enable, unlock, reset two-factor."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from nfcbridge.web.app import state
from nfcbridge.web.auth import requires
from nfcbridge.web.forms import chosen_month, today
from nfcbridge.web.i18n import gettext as _
from nfcbridge.web.refusals import explain
from provisioning.errors import RegistryError, TransitionRefused

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/accounts")
@requires("admin")
def accounts() -> ResponseReturnValue:
    return render_template(
        "accounts.html", accounts=state().accounts.list(), providers=state().registry.providers()
    )


@bp.route("/accounts", methods=["POST"])
@requires("admin")
def add() -> ResponseReturnValue:
    form = request.form
    try:
        state().accounts.add(
            form.get("username", "").strip().lower(),
            form.get("role", ""),
            form.get("password", ""),
            operator=g.account.operator,
            provider_ids=form.getlist("providers"),
        )
    except RegistryError as exc:
        flash(str(exc).splitlines()[0], "error")
    else:
        flash(_("Account added: the person sets up two-factor at the first login."), "info")
    return redirect(url_for("admin.accounts"))


@bp.route("/accounts/<username>/<action>", methods=["POST"])
@requires("admin")
def change(username: str, action: str) -> ResponseReturnValue:
    accounts = state().accounts
    operator = g.account.operator
    reason = request.form.get("reason", "").strip()[:200]
    actions = {
        "disable": lambda: accounts.disable(username, operator=operator, reason=reason or "-"),
        "enable": lambda: accounts.enable(username, operator=operator, reason=reason),
        "unlock": lambda: accounts.unlock(username, operator=operator, reason=reason),
        "reset-2fa": lambda: accounts.reset_two_factor(username, operator=operator, reason=reason),
    }
    if action not in actions:
        return redirect(url_for("admin.accounts"))
    if username == g.account.username and action == "disable":
        flash(_("You cannot disable your own account."), "error")
        return redirect(url_for("admin.accounts"))
    try:
        actions[action]()
    except RegistryError as exc:
        flash(str(exc).splitlines()[0], "error")
    else:
        flash(_("Account %(name)s changed.", name=username), "info")
    return redirect(url_for("admin.accounts"))


@bp.route("/periods")
@requires("admin")
def periods() -> ResponseReturnValue:
    from provisioning.months import month_of

    last = today().replace(day=1) - dt.timedelta(days=1)
    month = month_of(last)
    return render_template(
        "periods.html",
        closed=state().registry.closed_periods(),
        month=month,
        locking_date=state().registry.locking_date(month),
    )


@bp.route("/periods", methods=["POST"])
@requires("admin")
def close_period() -> ResponseReturnValue:

    month = chosen_month(default="-")
    if month is None:
        return redirect(url_for("admin.periods"))
    registry = state().registry
    try:
        done = registry.close_period(month, operator=g.account.operator)
    except TransitionRefused as exc:
        if month in {p["month"] for p in registry.closed_periods()}:
            flash(_("Month %(month)s is already closed.", month=month), "error")
        else:
            lock_day = registry.locking_date(month)
            if lock_day >= today():
                flash(
                    _(
                        "Month %(month)s can be closed after its locking date %(date)s.",
                        month=month,
                        date=lock_day,
                    ),
                    "error",
                )
            else:
                flash(explain(exc), "error")
    except RegistryError as exc:
        flash(explain(exc), "error")
    else:
        flash(
            _(
                "Month %(month)s is closed. Keep the audit anchor with the invoice: %(anchor)s",
                month=month,
                anchor=done["anchor"],
            ),
            "info",
        )
    return redirect(url_for("admin.periods"))
