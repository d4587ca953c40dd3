"""A customer's life on the customer page: home care ends, a digital lock is installed or
removed. The registry's ``end_customer`` and ``set_lock`` decide (dates in a closed month,
a cohabitant who already has a tag...); this page asks and says what happened."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue

from nfcbridge.web.app import state
from nfcbridge.web.auth import requires
from nfcbridge.web.customers import visible_customer
from nfcbridge.web.forms import form_date
from nfcbridge.web.i18n import gettext as _
from nfcbridge.web.refusals import explain
from provisioning.customer_life import END_REASONS
from provisioning.errors import RegistryError
from provisioning.records import CustomerRecord

bp = Blueprint("life", __name__, url_prefix="/customers")


def cohabitants(customer: CustomerRecord) -> list[CustomerRecord]:
    """Others in the customer's household who could keep the tag on the shared door."""
    if not customer.household:
        return []
    return [
        c
        for c in state().registry.customers(customer.provider)
        if c.household == customer.household and c.ref != customer.ref and c.status != "ended"
    ]


@bp.route("/<ref>/end", methods=["POST"])
@requires()
def end(ref: str) -> ResponseReturnValue:
    customer = visible_customer(ref)
    back = redirect(url_for("customers.show", ref=customer.ref))
    reason = request.form.get("reason", "")
    on = form_date("on")
    if on is None:
        return back
    if reason not in END_REASONS:
        flash(_("Choose why home care ended."), "error")
        return back
    heir = request.form.get("keep_for", "").strip() or None
    if heir is not None and heir not in {c.ref for c in cohabitants(customer)}:
        flash(_("The tag can only stay with a cohabitant in the same household."), "error")
        return back
    try:
        done = state().registry.end_customer(
            customer.ref, reason=reason, on=on, operator=g.account.operator, keep_tag_for=heir
        )
    except RegistryError as exc:
        flash(explain(exc), "error")
        return back
    if done["tag_outcome"] == "retired":
        flash(_("Home care ended; tag %(uid)s is retired.", uid=done["tag"]), "info")
    elif done["tag"]:
        flash(
            _(
                "Home care ended; tag %(uid)s stays on the door for the cohabitant.",
                uid=done["tag"],
            ),
            "info",
        )
    else:
        flash(_("Home care ended."), "info")
    return back


@bp.route("/<ref>/lock", methods=["POST"])
@requires()
def lock(ref: str) -> ResponseReturnValue:
    customer = visible_customer(ref)
    back = redirect(url_for("customers.show", ref=customer.ref))
    on = form_date("on")
    if on is None:
        return back
    installed = request.form.get("change") == "installed"
    try:
        done = state().registry.set_lock(
            customer.ref,
            installed=on if installed else None,
            removed=None if installed else on,
            operator=g.account.operator,
        )
    except RegistryError as exc:
        flash(explain(exc), "error")
        return back
    if done["tag_to_collect"]:
        flash(
            _(
                "Digital lock recorded. Tag %(uid)s on the door is no longer needed: take it down and hand it to the desk.",  # noqa: E501
                uid=done["tag_to_collect"],
            ),
            "info",
        )
    elif installed:
        flash(_("Digital lock recorded: the customer needs no tag."), "info")
    else:
        flash(_("The lock is removed: the customer needs a tag again."), "info")
    return back
