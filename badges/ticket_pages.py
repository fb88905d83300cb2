"""The delegate's e-ticket pages, at their manage link's token: the ticket with its QR (`/ticket/{token}`) and the
one-page PDF (`/ticket/{token}.pdf`), both linked from the booking page and the confirmation email.

The token is the manage link's own, so whatever ends the link (a transfer, erasure) ends the ticket's pages too:
the old token finds nothing and gets the invalid-link page with its "Lost your link?" form. A booking without a
confirmed place gets a page saying why there is no ticket, with no QR (409, for the PDF as for the page).

`install()` connects the ticket to the conference package (the manage page's QR, the confirmation's attachment)
through conference.core.hooks; the app factory calls it.
"""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from badges import ticket
from conference import places, registration, self_service
from conference.core import hooks
from conference.core.models import Conference, Registration
from conference.web import templating
from conference.web.downloads import private_file
from conference.web.request import database, settings

_TEMPLATES = Path(__file__).parent / "templates"


def install() -> None:
    hooks.on_ticket(ticket.PROVIDER)
    templating.add_template_folder(_TEMPLATES)


async def _booking(request: Request) -> tuple[Registration, Conference]:
    async with database(request).read() as db:
        found = await registration.find_by_token(db, request.path_params["token"])
        if found is None:
            raise self_service.InvalidManageLink()  # its page has the "Lost your link?" form
        conference = await places.get_conference(db)
    return found, conference


def _no_ticket(request: Request, found: Registration, conference: Conference, reason: str) -> Response:
    return templating.render(
        request,
        "badges/ticket.html",
        {"r": found, "conference": conference, "reason": reason, "token": request.path_params["token"]},
        status_code=409,
    )


async def ticket_page(request: Request) -> Response:
    found, conference = await _booking(request)
    reason = ticket.no_ticket_reason(found)
    if reason is not None:
        return _no_ticket(request, found, conference, reason)
    async with database(request).read() as db:
        document = await ticket.ticket_document(db, settings(request), found)
        qr = await ticket.PROVIDER.qr_svg(db, settings(request), found)
    assert document is not None and qr is not None
    return templating.render(
        request,
        "badges/ticket.html",
        {
            "r": found,
            "conference": conference,
            "ticket": document,
            "qr": Markup(
                qr
            ),  # markup we drew from the code alone (badges/ticket.qr_svg): no text of anyone's
            "token": request.path_params["token"],
        },
    )


async def ticket_pdf(request: Request) -> Response:
    found, conference = await _booking(request)
    reason = ticket.no_ticket_reason(found)
    if reason is not None:
        return _no_ticket(request, found, conference, reason)
    async with database(request).read() as db:
        made = await ticket.PROVIDER.pdf(db, settings(request), found)
    assert made is not None
    filename, pdf = made
    return private_file(pdf, filename, "application/pdf")


routes = [
    # The PDF first: "/ticket/{token}" would take "m_….pdf" for a token.
    Route("/ticket/{token}.pdf", ticket_pdf, methods=["GET"], name="ticket-pdf"),
    Route("/ticket/{token}", ticket_page, methods=["GET"], name="ticket"),
]
