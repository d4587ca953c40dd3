"""The desk: stock, provisioning batches on the desk's reader, pickups with receipts."""

from __future__ import annotations

import re

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue

from nfcbridge.web.app import state
from nfcbridge.web.auth import requires
from nfcbridge.web.i18n import gettext as _
from nfcbridge.web.refusals import explain
from nfcbridge.web.scan import scan_uid
from provisioning.errors import QuotaExceeded, RegistryError
from provisioning.quota import explain_allowance
from provisioning.receipts import pickup_receipt, pickup_seq
from provisioning.records import ProviderStatus
from provisioning.reports import stock_report

bp = Blueprint("desk", __name__, url_prefix="/desk")
DESK = ("desk", "admin")
_BATCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_UID = re.compile(r"^(04[0-9A-F]{12})$")


@bp.route("/")
@requires(*DESK)
def index() -> ResponseReturnValue:
    from nfcbridge.web.forms import today

    s = state()
    return render_template(
        "desk.html",
        stock=stock_report(s.registry),
        providers=s.registry.providers(),
        batches=list(reversed(s.registry.batches()))[:10],
        job=s.jobs.running(),
        orders=s.registry.orders_due(today()),
        orders_caption=_("Orders due today or earlier"),
    )


@bp.route("/batches", methods=["POST"])
@requires(*DESK)
def start_batch() -> ResponseReturnValue:
    name = request.form.get("batch", "").strip()
    count_text = request.form.get("count", "").strip()
    if not _BATCH.match(name):
        flash(_("A batch name is letters, digits, . _ - (at most 64)."), "error")
        return redirect(url_for("desk.index"))
    if not count_text.isdigit() or not 1 <= int(count_text) <= 10_000:
        flash(_("The number of tags must be between 1 and 10000."), "error")
        return redirect(url_for("desk.index"))
    if request.form.get("confirm") != "yes":
        flash(_("Confirm that the tags are written and locked for good."), "error")
        return redirect(url_for("desk.index"))
    try:
        job = state().jobs.start(name, int(count_text), operator=g.account.operator)
    except RuntimeError:
        flash(_("A batch is already running on the desk reader."), "error")
        return redirect(url_for("desk.index"))
    return redirect(url_for("desk.batch", job_id=job.id))


@bp.route("/batches/<job_id>")
@requires(*DESK)
def batch(job_id: str) -> ResponseReturnValue:
    job = state().jobs.get(job_id)
    if job is None:
        abort(404)
    return render_template("batch.html", job=job.snapshot())


@bp.route("/batches/<job_id>/stop", methods=["POST"])
@requires(*DESK)
def stop_batch(job_id: str) -> ResponseReturnValue:
    job = state().jobs.get(job_id)
    if job is None:
        abort(404)
    job.stop()
    flash(_("The batch stops after the tag on the reader."), "info")
    return redirect(url_for("desk.batch", job_id=job_id))


@bp.route("/pickup", methods=["GET", "POST"])
@requires(*DESK)
def pickup() -> ResponseReturnValue:
    s = state()
    providers = s.registry.providers()
    chosen = request.values.get("provider", "")
    status = next((p for p in providers if p.id == chosen), None)
    if request.method == "GET" or status is None:
        return _pickup_page(providers, status)
    uids_text = request.form.get("uids", "").upper()
    uids = [u for u in re.split(r"[\s,;]+", uids_text) if u]
    if request.form.get("action") == "scan":  # one more tag from the desk reader
        uid = scan_uid()
        if uid is not None and uid not in uids:
            uids.append(uid)
        return _pickup_page(providers, status, scanned=uids)
    count_text = request.form.get("count", "").strip()
    operator = g.account.operator
    try:
        if uids:
            bad = [u for u in uids if not _UID.match(u)]
            if bad:
                flash(
                    _("Not a tag UID (14 hex digits starting with 04): %(uid)s", uid=bad[0][:20]),
                    "error",
                )
                return _pickup_page(providers, status), 400
            result = s.registry.pickup_tags(chosen, uids, operator=operator)
        elif count_text.isdigit() and int(count_text) >= 1:
            result = s.registry.pickup(chosen, int(count_text), operator=operator)
        else:
            flash(_("Give a number of tags or scan their UIDs."), "error")
            return _pickup_page(providers, status), 400
    except QuotaExceeded as exc:
        return _pickup_page(providers, s.registry.provider(chosen), refused=exc), 409
    except RegistryError as exc:
        flash(explain(exc), "error")
        return _pickup_page(providers, status), 409
    for order in result.orders_fulfilled:
        flash(_("Order %(id)s is fulfilled.", id=order), "info")
    return redirect(url_for("desk.receipt", seq=pickup_seq(s.registry, result.uids[0])))


def _pickup_page(
    providers: list[ProviderStatus],
    status: ProviderStatus | None,
    refused: QuotaExceeded | None = None,
    scanned: list[str] | None = None,
) -> str:
    """The pickup page: the allowance term by term (the same terms as ``provider show``)
    and the provider's open orders."""
    from nfcbridge.web.orders import open_orders

    return render_template(
        "pickup.html",
        providers=providers,
        status=status,
        terms=explain_allowance(status.as_dict()) if status else None,
        orders=open_orders(status.id) if status else [],
        refused=refused,
        scanned=scanned or [],
    )


@bp.route("/pickups/<int:seq>")
@requires(*DESK)
def receipt(seq: int) -> ResponseReturnValue:
    try:
        found = pickup_receipt(state().registry, seq)
    except RegistryError:
        abort(404)
    return render_template("receipt.html", receipt=found)


@bp.route("/pickups/<int:seq>.pdf")
@requires(*DESK)
def receipt_pdf(seq: int) -> ResponseReturnValue:
    from nfcbridge.web.receipt_pdf import render_receipt

    try:
        found = pickup_receipt(state().registry, seq)
    except RegistryError:
        abort(404)
    name = state().registry.provider(found.provider).name
    pdf = render_receipt(found, provider_name=name, station=state().settings.station.name)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="kvittens-{seq}.pdf"'},
    )
