"""Printable room sheets: a session's delegate list with a signature column, for the door of the room."""

from __future__ import annotations

from collections.abc import Sequence

from fpdf import FPDF

from conference.core import formats
from conference.core.models import Conference, Registration
from conference.core.pdf_fonts import add_body_font
from sessions.models import ProgrammeSession, Room


def room_sheet_pdf(
    conference: Conference, session: ProgrammeSession, room: Room | None, delegates: Sequence[Registration]
) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    family, unicode_ok = add_body_font(pdf)

    def text(value: str) -> str:
        # Without a Unicode font the range's en dash reads as a hyphen rather than a '?'.
        return value if unicode_ok else value.replace("–", "-").encode("latin-1", "replace").decode("latin-1")

    when = formats.span(session.starts_at, session.ends_at, formats.conference_zone(conference))
    pdf.set_title(text(f"Room sheet: {session.title}"))
    pdf.add_page()
    pdf.set_font(family, "B", 16)
    pdf.multi_cell(0, 8, text(session.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 11)
    pdf.cell(
        0,
        6,
        text(f"{when} · {room.name if room else 'no room'} · {conference.name}"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.cell(
        0,
        6,
        text(f"{len(delegates)} delegates booked" + (f" of {room.capacity} seats" if room else "")),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)
    widths = (8, 52, 62, 22, 46)
    headings = ("", "Name", "Organisation", "Ref.", "Signature")

    def header() -> None:
        pdf.set_font(family, "B", 10)
        for w, h in zip(widths, headings):
            pdf.cell(w, 7, h, border="B")
        pdf.ln()
        pdf.set_font(family, "", 10)

    header()
    for i, r in enumerate(delegates, start=1):
        if pdf.will_page_break(8):
            pdf.add_page()
            header()
        note = " *" if r.access_needs else ""
        cells = (str(i), text(r.name + note), text(r.organisation), r.reference, "")
        for w, value in zip(widths, cells):
            pdf.cell(w, 8, _fit(pdf, value, w - 1, "…" if unicode_ok else "..."), border="B")
        pdf.ln()
    if any(r.access_needs for r in delegates):
        pdf.ln(3)
        pdf.set_font(family, "", 9)
        pdf.multi_cell(
            0, 5, "* has told us of access needs: see the venue list.", new_x="LMARGIN", new_y="NEXT"
        )
    return bytes(pdf.output())


def _fit(pdf: FPDF, value: str, width: float, ellipsis: str) -> str:
    if pdf.get_string_width(value) <= width:
        return value
    while value and pdf.get_string_width(value + ellipsis) > width:
        value = value[:-1]
    return value + ellipsis
