"""Orders: a coordinator orders tags ahead for their own providers; the desk sees what is
due. ``Registry.add_order`` decides (lead time in working days, a working pickup day, the
allowance less the provider's other open orders); this page explains a refusal with the
earliest date or the number that may still be ordered."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from nfcbridge.web.app import state
from nfcbridge.web.auth import requires
from nfcbridge.web.customers import form_provider, visible_providers
from nfcbridge.web.forms import form_date, today
from nfcbridge.web.i18n import gettext as _
from nfcbridge.web.refusals import explain
from provisioning.errors import QuotaExceeded, RegistryError, TransitionRefused
from provisioning.months import add_working_days, is_working_day

bp = Blueprint("orders", __name__, url_prefix="/orders")


def earliest_pickup() -> dt.date:
    """The first day an order placed now may be picked up (for the form and messages)."""
    return add_working_days(today(), state().registry.rules.order_lead_working_days)


def open_orders(provider: str | None = None) -> list[dict[str, Any]]:
    """Open orders the account may see (of one provider when given)."""
    return [
        o
        for o in state().registry.orders_due()
        if g.account.may_see(o["provider"]) and provider in (None, o["provider"])
    ]


@bp.route("/")
@requires()
def index() -> ResponseReturnValue:
    return render_template(
        "orders.html",
        orders=open_orders(),
        providers=visible_providers(g.account),
        earliest=earliest_pickup().isoformat(),
    )


@bp.route("/", methods=["POST"])
@requires()
def place() -> ResponseReturnValue:
    provider = form_provider()
    back = redirect(url_for("orders.index"))
    count_text = request.form.get("count", "").strip()
    if not count_text.isdigit() or not 1 <= int(count_text) <= 10_000:
        flash(_("The number of tags must be between 1 and 10000."), "error")
        return back
    pickup_on = form_date("pickup_on")
    if pickup_on is None:
        return back
    try:
        order = state().registry.add_order(
            provider, int(count_text), pickup_on, operator=g.account.operator
        )
    except QuotaExceeded as exc:
        flash(
            _(
                "Refused: %(requested)s tags ordered, %(may)s more may be ordered now (the allowance less the provider's other open orders).",  # noqa: E501
                requested=exc.requested,
                may=max(exc.allowance, 0),
            ),
            "error",
        )
        return back
    except TransitionRefused as exc:
        earliest = earliest_pickup()
        if pickup_on < earliest:
            message = _(
                "Refused: %(on)s is too soon. Orders are placed ahead; the earliest pickup day is %(earliest)s.",  # noqa: E501
                on=pickup_on,
                earliest=earliest,
            )
        elif not is_working_day(pickup_on):
            message = _(
                "Refused: %(on)s is not a working day (weekend or public holiday); the desk is open on %(next)s.",  # noqa: E501
                on=pickup_on,
                next=add_working_days(pickup_on, 1),
            )
        else:
            message = explain(exc)
        flash(message, "error")
        return back
    except RegistryError as exc:
        flash(explain(exc), "error")
        return back
    flash(
        _(
            "Order %(id)s placed: pick up %(count)s pcs on %(on)s.",
            id=order["order"],
            count=order["count"],
            on=order["pickup_on"],
        ),
        "info",
    )
    return back
