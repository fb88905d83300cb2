"""Invoice and credit note PDFs: the sums, the money format, the refusals, and what the rendered PDF says.

The text checks read the PDF back with pypdf (a test-only dependency), so they test the real output rather
than the calls made to fpdf2.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from pathlib import Path
from typing import Any

import pytest

from conference.core import pdf_fonts
from conference.core.formats import money
from conference.invoices.pdf import InvoiceDocument, Line, Party, Totals, render, totals
from tests.support import flat, pdf_text

SELLER = Party(
    name="Department for Public Conferences",
    address="1 Horse Guards Road\nLondon\nSW1A 2HQ",
    contact="conference.finance@example.gov.uk",
    vat_number="GB 123 4567 89",
)
BUYER = Party(
    name="Harrogate and District NHS Foundation Trust",
    address="Accounts Payable\nLancaster Park Road\nHarrogate\nHG2 7SX",
    contact="Siân Ó'Brien <accounts.payable@example.nhs.uk>",
)
TERMS = (
    "30 days from the invoice date. Pay by BACS to sort code 60-70-80, account 10014411, quoting INV-000042."
)


def invoice(**changes: Any) -> InvoiceDocument:
    doc = InvoiceDocument(
        kind="invoice",
        number="INV-000042",
        issued_on=datetime.date(2025, 3, 3),
        due_on=datetime.date(2025, 4, 2),
        seller=SELLER,
        buyer=BUYER,
        purchase_order="PO-4500123987",
        booking_reference="REG-7QX2KD",
        delegate_name="Zoë Ó'Brien",
        lines=(
            Line("Conference registration, two days", 3, 3333, 20),
            Line("Printed proceedings", 1, 1500, 0),
        ),
        payment_terms=TERMS,
    )
    return dataclasses.replace(doc, **changes)


def credit_note(**changes: Any) -> InvoiceDocument:
    fields: dict[str, Any] = {
        "kind": "credit_note",
        "number": "CN-000003",
        "due_on": None,
        "credits_invoice": "INV-000042",
        "payment_terms": "The amount will be refunded to the original payer within 14 days.",
    }
    return invoice(**(fields | changes))


# totals


def test_vat_is_rounded_once_per_rate_not_per_line() -> None:
    # 3 × £33.33 at 20%: £6.666 a line would round to £6.67 × 3 = £20.01; on the rate's £99.99 it is £20.00.
    sums = totals(invoice(lines=(Line("Registration", 3, 3333, 20),)))
    assert sums == Totals(net_pence=9999, vat_pence=2000, gross_pence=11999, vat_by_rate=((20, 9999, 2000),))


def test_mixed_rates_are_summed_per_rate_and_sorted_by_rate() -> None:
    sums = totals(
        invoice(
            lines=(
                Line("Registration", 3, 3333, 20),
                Line("Printed proceedings", 1, 1500, 0),
                Line("Dinner", 2, 1025, 5),  # £20.50 at 5% = £1.025, half-up to £1.03
                Line("Workshop pack", 1, 1, 20),  # joins the 20% total: £100.00 → VAT £20.00
            )
        )
    )
    assert sums.vat_by_rate == ((0, 1500, 0), (5, 2050, 103), (20, 10000, 2000))
    assert (sums.net_pence, sums.vat_pence, sums.gross_pence) == (13550, 2103, 15653)
    assert sums.net_pence == sum(net for _, net, _ in sums.vat_by_rate)
    assert sums.vat_pence == sum(vat for _, _, vat in sums.vat_by_rate)


@pytest.mark.parametrize(
    ("net", "rate", "vat"),
    [
        (250, 5, 13),  # 12.5p: half-up, not banker's rounding (which would give 12p)
        (10, 5, 1),  # 0.5p
        (9, 5, 0),  # 0.45p
        (1, 20, 0),  # 0.2p
        (3, 20, 1),  # 0.6p
        (12345, 0, 0),
        (12345, 100, 12345),
        (123_456_789, 20, 24_691_358),  # no floats: 24,691,357.8p exactly
    ],
)
def test_vat_rounds_half_up_to_the_penny(net: int, rate: int, vat: int) -> None:
    assert totals(invoice(lines=(Line("Item", 1, net, rate),))).vat_pence == vat


def test_a_credit_note_has_the_same_positive_totals_as_its_invoice() -> None:
    assert totals(credit_note()) == totals(invoice())
    assert totals(credit_note()).gross_pence > 0


# money


@pytest.mark.parametrize(
    ("pence", "currency", "expected"),
    [
        (0, "GBP", "£0.00"),
        (5, "GBP", "£0.05"),
        (99, "GBP", "£0.99"),
        (123450, "GBP", "£1,234.50"),
        (100_000_000, "GBP", "£1,000,000.00"),
        (-500, "GBP", "-£5.00"),
        (1999, "gbp", "£19.99"),
        (250000, "EUR", "€2,500.00"),
        (100, "USD", "$1.00"),
        (123450, "CHF", "CHF 1,234.50"),
    ],
)
def test_money(pence: int, currency: str, expected: str) -> None:
    assert money(pence, currency) == expected


def test_money_defaults_to_pounds() -> None:
    assert money(123450) == "£1,234.50"


# validation


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ((), "at least one line"),
        ((Line("Refund", 1, -100, 20),), "must not be negative"),
        ((Line("Registration", 0, 100, 20),), "quantity must be at least 1, not 0"),
        ((Line("Registration", -2, 100, 20),), "quantity must be at least 1, not -2"),
        ((Line("Registration", 1, 100, -1),), "VAT rate must be from 0 to 100 percent, not -1"),
        ((Line("Registration", 1, 100, 101),), "VAT rate must be from 0 to 100 percent, not 101"),
    ],
)
def test_invalid_documents_are_refused_by_totals_and_render(lines: tuple[Line, ...], message: str) -> None:
    doc = invoice(lines=lines)
    with pytest.raises(ValueError, match=re.escape(message)):
        totals(doc)
    with pytest.raises(ValueError, match=re.escape(message)):
        render(doc)


@pytest.mark.parametrize(
    "line",
    [
        Line("Registration", 1, 99.5, 20),  # type: ignore[arg-type]
        Line("Registration", 1.0, 100, 20),  # type: ignore[arg-type]
        Line("Registration", True, 100, 20),
        Line("Registration", 1, 100, "20"),  # type: ignore[arg-type]
    ],
)
def test_amounts_that_are_not_ints_are_a_type_error(line: Line) -> None:
    with pytest.raises(TypeError, match="must be an int"):
        totals(invoice(lines=(line,)))


def test_the_error_names_the_document_and_the_line() -> None:
    doc = invoice(lines=(Line("Registration", 1, 100, 20), Line("Dinner", 0, 100, 20)))
    with pytest.raises(ValueError, match=r"^INV-000042 line 2 \('Dinner'\): quantity"):
        totals(doc)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind must be 'invoice' or 'credit_note'"):
        render(invoice(kind="receipt"))


def test_a_document_needs_a_number() -> None:
    with pytest.raises(ValueError, match="needs a number"):
        render(invoice(number=" "))


def test_a_credit_note_must_name_the_invoice_it_credits() -> None:
    with pytest.raises(ValueError, match="must name the invoice it credits"):
        render(credit_note(credits_invoice=""))


# render


def test_invoice_pdf_contains_the_references_parties_and_totals() -> None:
    pdf = render(invoice())
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    raw, pages = pdf_text(pdf)
    text = flat(raw)
    assert pages == 1
    assert "Invoice INV-000042" in text
    for expected in (
        "Department for Public Conferences",
        "VAT registration number: GB 123 4567 89",
        "Bill to",
        "Harrogate and District NHS Foundation Trust",
        "HG2 7SX",
        "Contact: Siân Ó'Brien <accounts.payable@example.nhs.uk>",
        "Date of issue Mon 3 Mar 2025",
        "Due date Wed 2 Apr 2025",
        "Purchase order PO-4500123987",
        "Booking reference REG-7QX2KD",
        "Delegate Zoë Ó'Brien",
        "Conference registration, two days 3 £33.33 20% £99.99",
        "Printed proceedings 1 £15.00 0% £15.00",
        "VAT rate Net VAT",
        "0% £15.00 £0.00",
        "20% £99.99 £20.00",
        "Total net £114.99",
        "Total VAT £20.00",
        "Total due £134.99",
        "Payment terms",
        "Pay by BACS to sort code 60-70-80",
        "page 1 of 1",
    ):
        assert expected in text, expected
    assert "credit" not in text.lower()


def test_credit_note_pdf_says_credit_and_names_the_invoice() -> None:
    raw, _ = pdf_text(render(credit_note(note="Cancelled at the delegate's request.")))
    text = flat(raw)
    assert "Credit note CN-000003" in text
    assert "This credit note cancels invoice INV-000042." in text
    assert "Credits invoice INV-000042" in text
    assert "Total credited £134.99" in text
    assert "Cancelled at the delegate's request." in text
    assert "Total due" not in text
    assert "Due date" not in text


def test_names_outside_latin_1_render_with_the_unicode_font() -> None:
    if not any(c and Path(c).exists() for c in pdf_fonts.FONT_CANDIDATES):
        pytest.skip("no Unicode TTF font (apt-get install fonts-dejavu-core, or set CONFERENCE_PDF_FONT)")
    raw, _ = pdf_text(
        render(
            invoice(
                delegate_name="Łucja Wąsowska-Nguyễn",
                buyer=dataclasses.replace(BUYER, contact="Siôn Çelik – finance"),
            )
        )
    )
    text = flat(raw)
    assert "Delegate Łucja Wąsowska-Nguyễn" in text
    assert "Contact: Siôn Çelik – finance" in text


def test_without_a_ttf_font_the_core_font_still_renders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_fonts, "FONT_CANDIDATES", [])
    raw, _ = pdf_text(render(invoice(delegate_name="Zoë Łukasiewicz", currency="EUR")))
    text = flat(raw)
    assert "Delegate Zoë ?ukasiewicz" in text  # Windows-1252 has ë and €, not Ł
    assert "Total due €134.99" in text
    assert "Contact: Siân Ó'Brien" in text


def test_long_descriptions_and_addresses_wrap_inside_the_page() -> None:
    description = (
        "Conference registration for the National Public Sector Digital Conference 2025, "
        "including both plenary days, lunch, the evening reception and the workshop programme"
    )
    street = (
        "Level 3, Building 7, Harrogate District Hospital Site Offices, Lancaster Park Road Industrial Estate"
    )
    buyer = dataclasses.replace(BUYER, address=f"Accounts Payable\n{street}\nHG2 7SX")
    raw, _ = pdf_text(render(invoice(buyer=buyer, lines=(Line(description, 1, 45000, 20),))))
    # Every word is on the page, but not on one line: the cell wrapped it.
    assert description in flat(raw) and description not in raw
    assert street in flat(raw) and street not in raw
    assert max(len(line) for line in raw.splitlines()) < 110


def test_many_lines_run_onto_further_pages_with_the_headings_repeated() -> None:
    lines = tuple(Line(f"Delegate place {i}", 1, 1000, 20) for i in range(1, 81))
    raw, pages = pdf_text(render(invoice(lines=lines)))
    assert pages >= 2
    text = flat(raw)
    assert "Delegate place 1 1 £10.00" in text and "Delegate place 80 1 £10.00" in text
    assert text.count("Description Qty Unit price (net) VAT rate Net amount") >= 2
    assert f"page {pages} of {pages}" in text
    assert "Total due £960.00" in text  # 80 × £10 = £800 net + £160 VAT
