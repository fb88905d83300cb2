"""Pages for confirming a delegate's email address (conference/verification.py).

The emailed link opens a page with a button and changes nothing (mail scanners open links too); the button posts
the form with its CSRF token and confirms. The booking page offers the link to delegates who have not confirmed
their address (`/manage/{token}/verify-email`, rate limited like the other emails a visitor can trigger).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from conference import places, verification
from conference.core.audit import Actor
from conference.core.models import Status
from conference.mail.mailtext import manage_url
from conference.pages.registration import by_token
from conference.web.request import database, rate_limit, settings
from conference.web.templating import form_values, render

_OUTCOMES = {
    "confirmed": "Thank you: your email address is confirmed.",
    "already": "Your email address was already confirmed; nothing has changed.",
    "released": "This booking is no longer open, so there was nothing to confirm.",
}


async def verify_page(request: Request) -> Response:
    token = request.path_params["token"]
    async with database(request).read() as db:
        r = await verification.find_by_token(db, settings(request), token)
        if r is None:
            raise verification.InvalidLink()
        conference = await places.get_conference(db)
    return render(request, "conference/verify_email.html", {"r": r, "conference": conference, "token": token})


async def verify(request: Request) -> Response:
    token = request.path_params["token"]
    await form_values(request)
    async with database(request).transaction() as db:
        outcome = await verification.confirm_email(db, settings=settings(request), token=token)
        r = outcome.registration
        status = r.status
        manage = manage_url(settings(request), r) if outcome.state != "released" else ""
    text = _OUTCOMES[outcome.state]
    if outcome.state == "confirmed" and status == Status.pending_payment:
        text += " Your place is held for your payment: see your booking page."
    elif outcome.state == "confirmed" and status == Status.confirmed:
        text += " Your place is confirmed."
    return render(
        request,
        "conference/verify_done.html",
        {
            "title": "Email address confirmed" if manage else "Nothing to confirm",
            "text": text,
            "manage": manage,
        },
    )


async def request_link(request: Request) -> Response:
    """The booking page's "Confirm my email address": email the link to the booking's address."""
    await rate_limit(request).check(request, "resend-link")
    r, _conf, _position, _ticket = await by_token(request)
    await form_values(request)
    async with database(request).transaction() as db:
        await verification.request_verification(
            db, settings=settings(request), registration_id=r.id, actor=Actor("attendee", r.reference, r.id)
        )
    return RedirectResponse(
        request.url_for("manage", token=request.path_params["token"]).include_query_params(verify="sent"), 303
    )


routes = [
    Route("/verify-email/{token}", verify_page, methods=["GET"], name="verify-email"),
    Route("/verify-email/{token}", verify, methods=["POST"], name="verify-email-confirm"),
    Route("/manage/{token}/verify-email", request_link, methods=["POST"], name="manage-verify-email"),
]
