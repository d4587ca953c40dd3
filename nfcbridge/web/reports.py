"""Reports with charts and CSV, and the read-only station page."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, abort, g, render_template
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from nfcbridge.web.app import state
from nfcbridge.web.auth import requires
from nfcbridge.web.charts import bar_chart
from nfcbridge.web.forms import chosen_month, today
from nfcbridge.web.i18n import gettext as _
from provisioning.months import month_of
from provisioning.reports import issued_report, stock_history, stock_report

bp = Blueprint("reports", __name__, url_prefix="/reports")


def _invoice(month: str) -> list[dict[str, Any]]:
    """The month's invoice entries of the providers this account may see."""
    from provisioning.invoice import invoice

    return [e for e in invoice(state().registry, month) if g.account.may_see(e["provider"])]


def _issued_rows() -> list[dict[str, Any]]:
    return [r for r in issued_report(state().registry) if g.account.may_see(r["provider"])]


@bp.route("/")
@requires()
def index() -> ResponseReturnValue:
    month = chosen_month() or month_of(today())
    issued = _issued_rows()
    months = sorted({r["month"] for r in issued})[-12:]
    providers = sorted({r["provider"] for r in issued})
    counts = {(r["month"], r["provider"]): r["issued"] for r in issued}
    chart = bar_chart(
        _("Tags issued per month and provider"),
        months,
        {p: [counts.get((m, p), 0) for m in months] for p in providers},
    )
    desk = g.account.role != "coordinator"
    stock = stock_report(state().registry) if desk else []
    history = stock_history(state().registry) if desk else []
    stock_chart = history_chart = ""
    if desk:
        stock_chart = bar_chart(
            _("Tags by state"),
            [_(r["state"]) for r in stock],
            {_("tags"): [r["tags"] for r in stock]},
        )
        history_chart = bar_chart(
            _("Tags in stock at the end of each month"),
            [r["month"] for r in history],
            {_("in stock"): [r["in_stock"] for r in history]},
        )
    return render_template(
        "reports.html",
        issued=issued,
        chart=Markup(chart),  # built from escaped parts in charts.py
        stock=stock,
        stock_chart=Markup(stock_chart),
        history=history,
        history_chart=Markup(history_chart),
        providers=[p for p in state().registry.providers() if g.account.may_see(p.id)],
        month=month,
        invoice=_invoice(month),
    )


@bp.route("/<name>.csv")
@requires()
def download(name: str) -> ResponseReturnValue:
    if name == "issued":
        rows = _issued_rows()
    elif name == "providers":
        rows = [p.as_dict() for p in state().registry.providers() if g.account.may_see(p.id)]
    elif name == "invoice":
        from provisioning.invoice import invoice_rows

        month = chosen_month()
        if month is None:
            abort(400)
        rows = invoice_rows(_invoice(month))
        name = f"invoice-{month}"
    elif name == "stock" and g.account.role != "coordinator":
        rows = stock_report(state().registry)
    elif name == "stock-history" and g.account.role != "coordinator":
        rows = stock_history(state().registry)
    else:
        abort(404)
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _cell(value: Any) -> Any:
    """A spreadsheet never runs a cell as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@bp.route("/station")
@requires("desk", "admin")
def station() -> ResponseReturnValue:
    from nfcbridge import control

    settings = state().settings
    socket_path = settings.control_socket
    data: dict[str, Any] = {"running": False}
    if socket_path is not None and socket_path.exists():
        try:
            answer = control.request(socket_path, {"op": "status"}, timeout=3.0)
        except (OSError, ValueError, control.ControlError):
            answer = {}
        if answer.get("ok"):
            data = {"running": True, **answer["status"]}
    return render_template("station.html", status=data, station=settings.station.name)
