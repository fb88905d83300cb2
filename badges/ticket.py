"""The delegate's e-ticket: the code their printed badge carries (badges/codes.py, the registration's reference and
`badge_version`, signed), as a QR on their booking page and on a one-page PDF they can print or keep on a phone.

It is the badge, not a second credential: the door admits it exactly as it admits the printed badge, and once
the badge is reissued (a transfer, a corrected name, a lost badge: `badge_version` goes up) the ticket is made
afresh with the new code, while the old QR answers `invalid` at the door. Like a badge, only a confirmed place
has a ticket (badges/printing.py says why); anything else gets a sentence saying why not.

The conference package shows the QR and attaches the PDF to its emails through `conference.core.hooks`
(`PROVIDER`, installed by badges/ticket_pages.py).
"""

from __future__ import annotations

import asyncio
import unicodedata
from dataclasses import dataclass
from html import escape

from fpdf import FPDF
from sqlalchemy.ext.asyncio import AsyncSession

from badges import printing
from badges.codes import signer_for
from badges.render import QR_BORDER, BadgeData, band_colour, draw_qr, qr_matrix
from conference.core import formats, hooks
from conference.core.models import Conference, Registration, Status
from conference.core.pdf_fonts import add_body_font
from conference.core.settings import Settings
from conference.mail import calendar_file

__all__ = [
    "PROVIDER",
    "TicketDocument",
    "no_ticket_reason",
    "qr_svg",
    "render_ticket",
    "ticket_document",
    "ticket_path",
]

_PT = 25.4 / 72  # millimetres per point

# Why a booking has no ticket yet, or none at all (as badges/printing.py words it for the badge).
_NO_TICKET = {
    Status.pending_payment: "We are holding your place until payment arrives: your ticket is ready once it is paid.",
    Status.awaiting_approval: "Your registration is waiting for an organiser's approval: your ticket is ready once "
    "it is approved.",
    Status.awaiting_verification: "We are holding your place until you confirm your email address: your ticket is "
    "ready once you have.",
    Status.waitlisted: "You are on the waiting list and hold no place yet, so there is no ticket. If a place comes "
    "up, we will email you.",
    Status.cancelled: "This booking is cancelled, so it has no ticket. The code of any ticket or badge printed for "
    "it no longer admits anyone.",
}


@dataclass(frozen=True)
class TicketDocument:
    """What one ticket shows: the badge (name, organisation, ticket type, reference, signed code) and the event."""

    badge: BadgeData
    event: str
    dates: str
    venue: list[str]  # the venue's name, then its address, a line each


def ticket_path(token: str) -> str:
    """The ticket page for a manage token (a path of its own, so an email's only /manage/ link is the booking)."""
    return f"/ticket/{token}"


def no_ticket_reason(registration: Registration) -> str | None:
    """Why this registration has no ticket, or None when it has one."""
    if registration.status in printing.PRINTABLE and registration.erased_at is None:
        return None
    if registration.erased_at is not None:
        return "This booking's personal data has been erased, so it has no ticket."
    return _NO_TICKET.get(registration.status, "Only a confirmed place has a ticket.")


async def ticket_document(
    db: AsyncSession, settings: Settings, registration: Registration
) -> TicketDocument | None:
    """The ticket of a confirmed place; None for any other (no_ticket_reason says why)."""
    if no_ticket_reason(registration) is not None:
        return None
    badge = await printing.badge_for(db, signer_for(settings), registration.id)
    conference = await db.get(Conference, registration.conference_id)
    assert conference is not None
    return TicketDocument(
        badge=badge,
        event=conference.name,
        dates=formats.span(conference.starts_at, conference.ends_at, formats.conference_zone(conference)),
        venue=calendar_file.venue_lines(conference),
    )


# --- the QR as inline SVG --------------------------------------------------------------------------------------


def qr_svg(code: str, *, label: str) -> str:
    """The QR of `code` as SVG markup to put in a page as it is: black modules on a white square with the quiet
    zone, one path of a rectangle per dark run, scaled to the width of its box (its `viewBox` keeps it square).
    Inline, so the page shows it with no further request (and with no connection, once loaded)."""
    modules = qr_matrix(code)
    size = len(modules) + 2 * QR_BORDER
    runs = []
    for r, row in enumerate(modules):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            runs.append(f"M{start + QR_BORDER} {r + QR_BORDER}h{c - start}v1h-{c - start}z")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ticket-qr-code" viewBox="0 0 {size} {size}" '
        f'width="100%" role="img" aria-label="{escape(label, quote=True)}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#ffffff"/>'
        f'<path fill="#000000" d="{"".join(runs)}"/></svg>'
    )


# --- the PDF ---------------------------------------------------------------------------------------------------


class _Text:
    def __init__(self, pdf: FPDF) -> None:
        self.pdf = pdf
        self.family, self.unicode = add_body_font(pdf)

    def clean(self, value: str) -> str:
        value = unicodedata.normalize("NFC", " ".join(value.split()))
        return value if self.unicode else value.encode("latin-1", "replace").decode("latin-1")

    def cut(self, value: str, style: str, size: float, width: float) -> str:
        """`value` on one line of `width` mm at `size` points, cut short with an ellipsis if it must be."""
        self.pdf.set_font(self.family, style, size)
        if self.pdf.get_string_width(value) <= width:
            return value
        ellipsis = "…" if self.unicode else "..."
        while value and self.pdf.get_string_width(value + ellipsis) > width:
            value = value[:-1].rstrip()
        return value + ellipsis

    def line(
        self,
        value: str,
        *,
        y: float,
        size: float,
        style: str = "",
        grey: int = 0,
        x: float = 20,
        w: float = 170,
    ) -> float:
        """One centred line from `y` down (cut to fit); returns the y below it."""
        text = self.cut(self.clean(value), style, size, w)
        self.pdf.set_text_color(grey)
        self.pdf.set_xy(x, y)
        self.pdf.cell(w, size * _PT * 1.3, text, align="C")
        self.pdf.set_text_color(0)
        return y + size * _PT * 1.3

    def fitted(self, value: str, *, y: float, sizes: tuple[float, ...], style: str = "B") -> float:
        """A centred line at the largest of `sizes` that fits the width (else the smallest, cut short)."""
        text = self.clean(value)
        for size in sizes:
            self.pdf.set_font(self.family, style, size)
            if self.pdf.get_string_width(text) <= 170:
                return self.line(text, y=y, size=size, style=style)
        return self.line(text, y=y, size=sizes[-1], style=style)


def render_ticket(ticket: TicketDocument) -> bytes:
    """One A4 page: the event, the ticket type's band, the name and organisation, a large QR with the reference
    under it, the dates and venue, and what the ticket is for. Long texts are cut to keep it one page."""
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(20, 20, 20)
    pdf.set_title(f"Ticket {ticket.badge.reference}")
    pdf.set_creator("conference")
    pdf.add_page()
    text = _Text(pdf)
    badge = ticket.badge
    y = text.fitted(ticket.event, y=18, sizes=(20, 17, 14, 12))
    y = text.line("E-ticket", y=y + 1, size=12, grey=70)
    # The ticket type on its badge colour (the name is printed too: never colour alone).
    pdf.set_fill_color(*band_colour(badge.ticket_type))
    pdf.rect(20, y + 4, 170, 12, style="F")
    pdf.set_text_color(255)
    label = text.cut(text.clean(badge.ticket_type).upper() or "DELEGATE", "B", 16, 164)
    pdf.set_xy(20, y + 4)
    pdf.cell(170, 12, label, align="C")
    pdf.set_text_color(0)
    y = text.fitted(badge.name, y=y + 21, sizes=(28, 24, 20, 16, 13))
    if badge.organisation.strip():
        y = text.line(badge.organisation, y=y + 1, size=15, grey=60)
    qr = 95.0
    draw_qr(pdf, badge.code, (210 - qr) / 2, y + 5, qr)
    y = text.line(f"Booking reference {badge.reference}", y=y + 5 + qr, size=14, style="B")
    y += 5
    pdf.set_draw_color(190)
    pdf.set_line_width(0.3)
    pdf.line(20, y, 190, y)
    y = text.fitted(ticket.dates, y=y + 4, sizes=(13, 12, 11, 10))
    for place in ticket.venue[:5]:
        y = text.line(place, y=y + 0.5, size=12)
    notes = [
        "Show this QR code at the door, on your phone or printed. It is the code on your badge.",
        "If your badge is reissued (a transfer or a corrected name), this ticket stops working:",
        "open your booking page for the new one.",
    ]
    y = max(y + 6, 262.0)
    for note in notes:
        y = text.line(note, y=y, size=10, grey=70)
    return bytes(pdf.output())


# --- the hooks the conference package calls ----------------------------------------------------------------


async def _qr(db: AsyncSession, settings: Settings, registration: Registration) -> str | None:
    if no_ticket_reason(registration) is not None:
        return None
    code = signer_for(settings).code_for(registration.reference, registration.badge_version)
    return qr_svg(code, label=f"QR code of your ticket, booking reference {registration.reference}")


async def _pdf(db: AsyncSession, settings: Settings, registration: Registration) -> tuple[str, bytes] | None:
    ticket = await ticket_document(db, settings, registration)
    if ticket is None:
        return None
    # Drawn in a worker thread: a page takes some milliseconds of CPU the event loop keeps for requests.
    pdf = await asyncio.to_thread(render_ticket, ticket)
    return f"ticket-{ticket.badge.reference}.pdf", pdf


PROVIDER = hooks.TicketProvider(qr_svg=_qr, pdf=_pdf, path=ticket_path)
