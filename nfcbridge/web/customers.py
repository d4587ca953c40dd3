"""Customers: a coordinator's own providers only; add and find by personnummer; attach.

A personnummer is typed into a masked field, posted (never in a URL), turned into the
keyed pseudonym at once and forgotten: it is never stored, logged or shown again. Messages
about it never repeat it. A customer of a provider the account may not see is answered
exactly like a customer that does not exist (404), so URLs cannot be probed.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from nfcbridge.web.app import state
from nfcbridge.web.auth import requires
from nfcbridge.web.i18n import gettext as _
from nfcbridge.web.scan import scan_uid
from provisioning.accounts import Account
from provisioning.errors import DuplicateEntity, InvalidIdentity, RegistryError
from provisioning.records import CustomerRecord, ProviderStatus

bp = Blueprint("customers", __name__, url_prefix="/customers")
_UID = re.compile(r"^04[0-9A-F]{12}$")


def visible_providers(account: Account) -> list[ProviderStatus]:
    return [p for p in state().registry.providers() if account.may_see(p.id)]


def form_provider() -> str:
    """The form's ``provider`` if this account may act for it; 403 otherwise."""
    provider = request.form.get("provider", "")
    if provider not in {p.id for p in visible_providers(g.account)}:
        abort(403)
    return provider


def visible_customer(ref: str) -> CustomerRecord:
    """The customer *ref* if this account may see it; 404 otherwise (also when absent)."""
    try:
        found = state().registry.customer(ref)
    except RegistryError:
        abort(404)
    if not g.account.may_see(found.provider):
        abort(404)
    return found


def _pseudonyms(text: str) -> list[str] | None:
    """Every pseudonym of the person (current key first; the previous one in a rotation)."""
    from nfcbridge.registry_open import pseudonymizer

    try:
        ring = pseudonymizer(state().settings, state().registry, operator=g.account.operator)
        return ring.refs(text)
    except InvalidIdentity:
        flash(_("That is not a valid personnummer or samordningsnummer."), "error")
        return None


@bp.route("/")
@requires()
def index() -> ResponseReturnValue:
    providers = visible_providers(g.account)
    rows = [c for p in providers for c in state().registry.customers(p.id)]
    return render_template("customers.html", customers=rows, providers=providers)


@bp.route("/new", methods=["POST"])
@requires()
def add() -> ResponseReturnValue:
    provider = form_provider()
    refs = _pseudonyms(request.form.get("personnummer", ""))
    if refs is None:
        return redirect(url_for("customers.index"))
    try:
        ref = state().registry.enter_customer(refs, provider, g.account.operator)
    except DuplicateEntity:
        flash(_("This customer is already registered."), "error")
        return redirect(url_for("customers.index"))
    flash(_("Customer added."), "info")
    return redirect(url_for("customers.show", ref=ref))


@bp.route("/find", methods=["POST"])
@requires()
def find() -> ResponseReturnValue:
    refs = _pseudonyms(request.form.get("personnummer", ""))
    if refs is None:
        return redirect(url_for("customers.index"))
    found = state().registry.find_customer(refs)
    if found is None or not g.account.may_see(found.provider):
        flash(_("No customer with that personnummer among your providers."), "error")
        return redirect(url_for("customers.index"))
    return redirect(url_for("customers.show", ref=found.ref))


@bp.route("/<ref>")
@requires()
def show(ref: str) -> ResponseReturnValue:
    from nfcbridge.web.customer_life import cohabitants
    from nfcbridge.web.forms import today
    from provisioning.customer_life import END_REASONS

    customer = visible_customer(ref)
    history = state().registry.history(customer.active_tag) if customer.active_tag else []
    return render_template(
        "customer.html",
        customer=customer,
        history=history,
        movable=[p for p in visible_providers(g.account) if p.id != customer.provider],
        cohabitants=cohabitants(customer),
        end_reasons=END_REASONS,
        today=today().isoformat(),
    )


@bp.route("/<ref>/attach", methods=["POST"])
@requires()
def attach(ref: str) -> ResponseReturnValue:
    customer = visible_customer(ref)
    if request.form.get("scan") == "1":
        uid = scan_uid()
        if uid is None:
            return redirect(url_for("customers.show", ref=customer.ref))
    else:
        uid = request.form.get("uid", "").strip().upper().replace(":", "").replace(" ", "")
        if not _UID.match(uid):
            flash(_("A tag UID is 14 hex digits starting with 04."), "error")
            return redirect(url_for("customers.show", ref=customer.ref))
    tag = state().registry.tag_status(uid)
    if tag is None or tag.state != "issued" or tag.provider != customer.provider:
        flash(
            _(
                "Tag %(uid)s cannot be attached: it is not issued to this customer's provider.",
                uid=uid,
            ),
            "error",
        )
        return redirect(url_for("customers.show", ref=customer.ref))
    label = request.form.get("label", "").strip()[:40]
    force = request.form.get("force_reason", "").strip()[:200]
    try:
        state().registry.attach(
            uid, customer.ref, operator=g.account.operator, label=label, force_reason=force
        )
    except RegistryError as exc:
        flash(_attach_refusal(customer, exc, forced=bool(force)), "error")
    else:
        if label:
            flash(
                _(
                    "Tag %(uid)s is now on this customer's door, marked %(label)s.",
                    uid=uid,
                    label=label,
                ),
                "info",
            )
        else:
            flash(_("Tag %(uid)s is now on this customer's door.", uid=uid), "info")
    return redirect(url_for("customers.show", ref=customer.ref))


@bp.route("/<ref>/move", methods=["POST"])
@requires()
def move(ref: str) -> ResponseReturnValue:
    customer = visible_customer(ref)
    target = form_provider()
    try:
        state().registry.move_customer(customer.ref, target, operator=g.account.operator)
    except RegistryError as exc:
        from nfcbridge.web.refusals import explain

        flash(explain(exc), "error")
    else:
        flash(
            _("The customer moved to %(provider)s; the tag stays on the door.", provider=target),
            "info",
        )
    if not g.account.may_see(target):
        return redirect(url_for("customers.index"))
    return redirect(url_for("customers.show", ref=customer.ref))


def _attach_refusal(customer: CustomerRecord, exc: RegistryError, *, forced: bool) -> str:
    """Why the registry refused, in the page's words for the customer's own state."""
    from nfcbridge.web.refusals import explain

    if customer.status == "lock" and not forced:
        return _(
            "This customer has had a digital lock since %(on)s: the lock gives the receipt and no tag is needed. If the lock cannot be used, say why and attach anyway.",  # noqa: E501
            on=customer.lock_installed_on,
        )
    if customer.status == "ended":
        return _(
            "Home care for this customer ended on %(on)s: no tag is attached.", on=customer.ended_on
        )
    return explain(exc)
