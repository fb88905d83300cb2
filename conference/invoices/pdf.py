"""Invoices and credit notes as print-ready A4 PDFs: pure rendering, no database.

The caller builds an `InvoiceDocument` (amounts in integer pence) and gets the PDF bytes from `render()`.
`totals()` is the one place the sums are worked out, so a page and a PDF never disagree: VAT is charged per
rate on that rate's net total and rounded half-up to the penny (HMRC VAT Notice 700, section 17, allows the
VAT to be worked out on the invoice total rather than line by line). A credit note carries the same positive
amounts as the invoice it cancels; only its title and wording say that it is a credit.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal

from fpdf import FPDF, FontFace

from conference.core import formats
from conference.core.formats import money
from conference.core.pdf_fonts import add_body_font

__all__ = ["InvoiceDocument", "Line", "Party", "Totals", "line_vat", "money", "render", "totals"]


# A seller or a buyer, as printed on the document.
@dataclass(frozen=True)
class Party:
    name: str
    address: str  # multi-line, "\n" separated
    contact: str = ""  # e.g. billing contact name / email
    vat_number: str = ""


# One charge: quantity × unit price before VAT, at one VAT rate.
@dataclass(frozen=True)
class Line:
    description: str
    quantity: int
    unit_net_pence: int
    vat_rate_percent: int  # e.g. 20, or 0


# Everything printed on an invoice or a credit note.
@dataclass(frozen=True)
class InvoiceDocument:
    kind: Literal["invoice", "credit_note"]
    number: str  # e.g. "INV-000042" or "CN-000003"
    issued_on: datetime.date
    due_on: datetime.date | None  # None for credit notes
    seller: Party
    buyer: Party
    purchase_order: str
    booking_reference: str
    delegate_name: str
    lines: tuple[Line, ...]
    payment_terms: str  # e.g. "30 days from the invoice date. Pay by BACS to ..."
    currency: str = "GBP"
    credits_invoice: str = ""  # for a credit note: the invoice number it credits
    note: str = ""
    paid_by: str = ""  # an invoice issued already paid: how ("card"); it prints as paid, nothing due
    # A group's invoice (one line per member): VAT is worked out and printed line by line, so that a credit note
    # for one member's line carries exactly that line's VAT and the sums always agree.
    vat_per_line: bool = False
    buyer_reference: str = ""  # the buyer's own reference, printed under the purchase order


# The document's sums in pence; vat_by_rate holds (rate, net, vat) per rate, sorted by rate.
@dataclass(frozen=True)
class Totals:
    net_pence: int
    vat_pence: int
    gross_pence: int
    vat_by_rate: tuple[tuple[int, int, int], ...]


def totals(doc: InvoiceDocument) -> Totals:
    _validate(doc)
    net_by_rate: dict[int, int] = {}
    for line in doc.lines:
        net_by_rate[line.vat_rate_percent] = (
            net_by_rate.get(line.vat_rate_percent, 0) + line.quantity * line.unit_net_pence
        )
    # Integers only: net × rate / 100, rounded half-up, is (net × rate + 50) // 100 for amounts ≥ 0.
    if doc.vat_per_line:
        vat_by_rate: dict[int, int] = {}
        for line in doc.lines:
            vat_by_rate[line.vat_rate_percent] = vat_by_rate.get(line.vat_rate_percent, 0) + line_vat(line)
        by_rate = tuple((rate, net, vat_by_rate[rate]) for rate, net in sorted(net_by_rate.items()))
    else:
        by_rate = tuple((rate, net, (net * rate + 50) // 100) for rate, net in sorted(net_by_rate.items()))
    net = sum(n for _, n, _ in by_rate)
    vat = sum(v for _, _, v in by_rate)
    return Totals(net_pence=net, vat_pence=vat, gross_pence=net + vat, vat_by_rate=by_rate)


def line_vat(line: Line) -> int:
    """One line's VAT, half-up to the penny (a group invoice's VAT per line)."""
    return (line.quantity * line.unit_net_pence * line.vat_rate_percent + 50) // 100


def _validate(doc: InvoiceDocument) -> None:
    """ValueError for a document that must not be issued; TypeError for a caller passing the wrong types."""
    name = doc.number or "document"
    if doc.kind not in ("invoice", "credit_note"):
        raise ValueError(f"{name}: kind must be 'invoice' or 'credit_note', not {doc.kind!r}")
    if not doc.lines:
        raise ValueError(f"{name}: an invoice or credit note needs at least one line")
    for i, line in enumerate(doc.lines, start=1):
        where = f"{name} line {i} ({line.description!r})"
        for field in ("quantity", "unit_net_pence", "vat_rate_percent"):
            value = getattr(line, field)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{where}: {field} must be an int, not {value!r}")
        if line.quantity < 1:
            raise ValueError(f"{where}: quantity must be at least 1, not {line.quantity}")
        if line.unit_net_pence < 0:
            raise ValueError(
                f"{where}: unit price must not be negative ({line.unit_net_pence} pence); "
                "issue a credit note instead"
            )
        if not 0 <= line.vat_rate_percent <= 100:
            raise ValueError(f"{where}: VAT rate must be from 0 to 100 percent, not {line.vat_rate_percent}")


def _date(day: datetime.date) -> str:
    return formats.day(day)  # the one format of every page, email and document: Tue 3 Mar 2025


class _Document(FPDF):
    footer_text = ""
    footer_family = "helvetica"

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.footer_family, "", 8)
        self.set_text_color(90)
        self.cell(0, 5, f"{self.footer_text} · page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0)


def render(doc: InvoiceDocument) -> bytes:
    sums = totals(doc)  # validates the lines
    if not doc.number.strip():
        raise ValueError("an invoice or credit note needs a number")
    credit = doc.kind == "credit_note"
    if credit and not doc.credits_invoice.strip():
        raise ValueError(f"{doc.number}: a credit note must name the invoice it credits (credits_invoice)")

    pdf = _Document(format="A4")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(auto=True, margin=18)
    family, unicode_ok = add_body_font(pdf)  # without a TTF, text is encoded as Windows-1252 below
    # Without a TTF the core fonts are WinAnsi-encoded, which (unlike Latin-1) has €, – and …; else "?".
    pdf.core_fonts_encoding = "windows-1252"

    def text(value: str) -> str:
        return value if unicode_ok else value.encode("windows-1252", "replace").decode("windows-1252")

    def cash(pence: int) -> str:
        return text(money(pence, doc.currency))

    title = "Credit note" if credit else "Invoice"
    pdf.footer_family = family
    pdf.footer_text = text(f"{title} {doc.number}")
    pdf.set_title(text(f"{title} {doc.number}"))
    pdf.set_author(text(doc.seller.name))
    pdf.set_subject(text(f"{title} {doc.number} for {doc.buyer.name}"))
    pdf.set_creator("conference")
    pdf.add_page()
    bold = FontFace(emphasis="BOLD")
    no_borders = "NONE"

    # Title.
    pdf.set_font(family, "B", 20)
    pdf.multi_cell(0, 10, text(f"{title} {doc.number}"), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    # Seller and buyer side by side; each column wraps its own long lines.
    pdf.set_font(family, "", 10)
    with pdf.table(
        col_widths=(1, 1),
        borders_layout=no_borders,
        text_align="LEFT",
        line_height=5,
        headings_style=FontFace(emphasis="BOLD", color=90),
        padding=(1, 4, 1, 0),
    ) as table:
        table.row(("From", "Bill to"))
        table.row((text(doc.seller.name), text(doc.buyer.name)), style=bold)
        table.row(
            (
                text(_party_details(doc.seller, contact_label="")),
                text(_party_details(doc.buyer, contact_label="Contact: ")),
            )
        )
    pdf.ln(4)

    # Dates and references.
    details = [(f"{title} number", doc.number), ("Date of issue", _date(doc.issued_on))]
    if doc.due_on is not None and not credit:
        details.append(("Due date", _date(doc.due_on)))
    paid = bool(doc.paid_by) and not credit
    if paid:
        details.append(("Paid", f"in full by {doc.paid_by}"))
    if credit:
        details.append(("Credits invoice", doc.credits_invoice))
    details += [
        ("Purchase order", doc.purchase_order),
        ("Your reference", doc.buyer_reference),
        ("Booking reference", doc.booking_reference),
        ("Delegate", doc.delegate_name),
    ]
    with pdf.table(
        col_widths=(45, 135),
        width=180,
        align="LEFT",
        borders_layout=no_borders,
        text_align="LEFT",
        first_row_as_headings=False,
        line_height=5,
        padding=(0.3, 2, 0.3, 0),
    ) as table:
        for label, value in details:
            if value.strip():
                row = table.row()
                row.cell(label, style=bold)
                row.cell(text(value))
    if credit:
        pdf.ln(3)
        pdf.set_font(family, "B", 11)
        pdf.multi_cell(
            0,
            6,
            text(f"This credit note cancels invoice {doc.credits_invoice}."),
            align="L",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_font(family, "", 10)
    pdf.ln(5)

    # The lines: descriptions wrap inside their column, and the headings repeat on a new page.
    # A group's invoice adds each line's VAT (vat_per_line).
    per_line = doc.vat_per_line
    with pdf.table(
        col_widths=(62, 10, 30, 18, 30, 30) if per_line else (74, 12, 36, 22, 36),
        width=180,
        align="LEFT",
        line_height=5.5,
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")[: 6 if per_line else 5],
        padding=(1.5, 2),
        borders_layout="HORIZONTAL_LINES",
        headings_style=bold,
    ) as table:
        headings = ("Description", "Qty", "Unit price (net)", "VAT rate", "Net amount")
        table.row((*headings, "VAT") if per_line else headings)
        for line in doc.lines:
            cells = (
                text(line.description),
                str(line.quantity),
                cash(line.unit_net_pence),
                f"{line.vat_rate_percent}%",
                cash(line.quantity * line.unit_net_pence),
            )
            table.row((*cells, cash(line_vat(line))) if per_line else cells)
    pdf.ln(5)

    # VAT per rate, then the totals, both against the right margin.
    _keep_together(pdf, 8 * (len(sums.vat_by_rate) + 4) + 8)
    with pdf.table(
        col_widths=(30, 35, 35),
        width=100,
        align="RIGHT",
        line_height=5.5,
        padding=(1, 2),
        text_align=("LEFT", "RIGHT", "RIGHT"),
        borders_layout="HORIZONTAL_LINES",
        headings_style=bold,
    ) as table:
        table.row(("VAT rate", "Net", "VAT"))
        for rate, net, vat in sums.vat_by_rate:
            table.row((f"{rate}%", cash(net), cash(vat)))
    pdf.ln(3)
    with pdf.table(
        col_widths=(65, 35),
        width=100,
        align="RIGHT",
        line_height=6,
        padding=(1, 2),
        text_align=("LEFT", "RIGHT"),
        borders_layout=no_borders,
        first_row_as_headings=False,
    ) as table:
        table.row(("Total net", cash(sums.net_pence)))
        table.row(("Total VAT", cash(sums.vat_pence)))
        table.row(
            ("Total credited" if credit else "Total paid" if paid else "Total due", cash(sums.gross_pence)),
            style=FontFace(emphasis="BOLD", size_pt=12),
        )
    pdf.ln(6)

    for heading, body in (("Payment terms", doc.payment_terms), ("Note", doc.note)):
        if body.strip():
            _keep_together(pdf, 18)
            pdf.set_font(family, "B", 11)
            pdf.cell(0, 6, heading, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(family, "", 10)
            pdf.multi_cell(0, 5, text(body.strip()), align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
    return bytes(pdf.output())


def _party_details(party: Party, contact_label: str) -> str:
    lines: list[str] = [line.strip() for line in party.address.splitlines() if line.strip()]
    if party.contact.strip():
        lines.append(contact_label + party.contact.strip())
    if party.vat_number.strip():
        lines.append(f"VAT registration number: {party.vat_number.strip()}")
    return "\n".join(lines)


def _keep_together(pdf: FPDF, height: float) -> None:
    if pdf.will_page_break(height):
        pdf.add_page()
