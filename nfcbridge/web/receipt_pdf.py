"""The printable pickup receipt (PDF, fpdf2): what was handed to whom, by which account.

The receipt carries the audit row range and the hash of its last row, so anyone can check
it against ``nfcbridge audit verify`` later; a signature line is left for the person who
collects the tags.
"""

from __future__ import annotations

from fpdf import FPDF

from nfcbridge.web.i18n import gettext as _
from provisioning.receipts import PickupReceipt


def render_receipt(receipt: PickupReceipt, *, provider_name: str, station: str) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(_("Pickup receipt"))
    pdf.set_author(receipt.operator)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _("Pickup receipt: NFC tags"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    lines = [
        (_("Provider"), f"{provider_name} ({receipt.provider})"),
        (_("Time (UTC)"), receipt.at),
        (_("Handed out by"), receipt.operator),
        (_("Station"), station),
        (_("Number of tags"), str(len(receipt.uids))),
        (_("Audit rows"), f"{receipt.first_seq}-{receipt.first_seq + len(receipt.uids) - 1}"),
        (_("Audit hash"), receipt.last_hash),
    ]
    for label, value in lines:
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(45, 7, label)
        pdf.set_font("Helvetica", size=11 if label != _("Audit hash") else 8)
        pdf.cell(0, 7, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, _("Tag UIDs"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", size=10)
    for i, uid in enumerate(receipt.uids, 1):
        pdf.cell(0, 5.5, f"{i:>4}  {uid}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(12)
    pdf.set_font("Helvetica", size=11)
    pdf.cell(
        0, 7, _("Received by (signature and name in capitals):"), new_x="LMARGIN", new_y="NEXT"
    )
    pdf.ln(10)
    pdf.cell(0, 0, "_" * 60, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
