"""A delegate's own changes, from their manage link (conference/self_service.py): correct their details, transfer
the place to a colleague; and "Lost your link?", the page that asks for the link again by email.

They work without JavaScript: a refused form comes back with every problem in its error summary (focused), linked
to each field, what was typed kept, nothing saved. The link is checked again inside the change's transaction, so a
link that a transfer has just replaced acts for nobody.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from conference import self_service
from conference.core import errors
from conference.core.models import REGIONS, SECTOR_LABELS, Conference, Registration
from conference.pages.registration import by_token
from conference.web.forms import NOT_THE_FORMS_FAULT, field_problems
from conference.web.register import FIELD_LABELS
from conference.web.request import database, rate_limit, settings
from conference.web.templating import FormRefused, form_values, render

T = TypeVar("T")

DETAILS = ("name", "email", "organisation", "job_title", "sector", "region", "dietary", "access_needs")
DETAIL_LABELS = {name: FIELD_LABELS[name] for name in DETAILS} | {"form": "Your details"}
TRANSFER_LABELS = {
    "name": "Your colleague's full name",
    "email": "Your colleague's email address",
    "organisation": "Organisation",
    "job_title": "Job title",
    "sector": "Sector",
    "region": "Region",
    "confirm": "Confirm the transfer",
    "form": "Transfer",
}


def _ordered(problems: dict[str, str], labels: dict[str, str]) -> dict[str, str]:
    order = list(labels)
    return {
        k: problems[k] for k in sorted(problems, key=lambda k: order.index(k) if k in order else len(order))
    }


def _problems(exc: errors.DomainError) -> dict[str, str]:
    # A control character refused by form_values names the field as posted; everything else names it already.
    return {k.replace(".", "_"): v for k, v in field_problems(exc).items()}


@dataclass(frozen=True)
class _Form:
    """One of the delegate's two forms: its page, labels and fields, and the values it opens with."""

    template: str
    labels: dict[str, str]
    fields: tuple[str, ...]  # what a refused form shows again
    opening: Callable[[Registration], dict[str, str]]


def _held(r: Registration) -> dict[str, str]:
    # The form's values are text: an enum (the sector) by its value, not its name.
    return {name: str(getattr(getattr(r, name), "value", getattr(r, name)) or "") for name in DETAILS}


def _colleague(r: Registration) -> dict[str, str]:
    # The colleague's organisation and sector start as the holder's: most transfers stay in one team.
    return {"organisation": r.organisation, "sector": r.sector.value, "region": r.region}


DETAILS_FORM = _Form("conference/manage_edit.html", DETAIL_LABELS, DETAILS, _held)
TRANSFER_FORM = _Form(
    "conference/manage_transfer.html", TRANSFER_LABELS, (*self_service.TRANSFER_FIELDS, "confirm"), _colleague
)


def _page(
    request: Request,
    form: _Form,
    r: Registration,
    conference: Conference,
    *,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        form.template,
        {
            "r": r,
            "conference": conference,
            "token": request.path_params["token"],
            "values": values if values is not None else form.opening(r),
            "errors": _ordered(problems or {}, form.labels),
            "labels": form.labels,
            "sectors": SECTOR_LABELS,
            "regions": REGIONS,
            "open": self_service.can_change(r, conference),
            "until": self_service.editable_until(conference),
            "own_domain": self_service.email_domain(r.email),
            "any_domain": conference.transfer_any_domain,
        },
        status_code=status_code,
    )


async def _submit(
    request: Request,
    form: _Form,
    r: Registration,
    conference: Conference,
    change: Callable[..., Awaitable[T]],
) -> T | Response:
    """The form's service, `change(db, settings=, token=, values=)`, in one transaction: what it returns, or
    (refused) the form again with every problem and what was typed, nothing saved."""
    await rate_limit(request).check(request, "self-service")
    values: dict[str, str] = {}
    try:
        values = await form_values(request)
        async with database(request).transaction() as db:
            return await change(
                db, settings=settings(request), token=request.path_params["token"], values=values
            )
    except (self_service.InvalidManageLink, *NOT_THE_FORMS_FAULT):
        raise
    except errors.DomainError as exc:
        kept = exc.values if isinstance(exc, FormRefused) else values
        shown = {name: kept.get(name, "") for name in form.fields}
        return _page(
            request, form, r, conference, values=shown, problems=_problems(exc), status_code=exc.status_code
        )


# --- correcting one's own details ---------------------------------------------------------------------------------


async def details_form(request: Request) -> Response:
    r, conference, _position, _ticket = await by_token(request)
    return _page(request, DETAILS_FORM, r, conference)


async def save_details(request: Request) -> Response:
    r, conference, _position, _ticket = await by_token(request)
    done = await _submit(request, DETAILS_FORM, r, conference, self_service.change_own_details)
    if isinstance(done, Response):
        return done
    outcome = "email" if done.email_changed else "saved" if done.changed else "unchanged"
    back = request.url_for("manage", token=request.path_params["token"]).include_query_params(details=outcome)
    return RedirectResponse(str(back), 303)


# --- transferring the place ---------------------------------------------------------------------------------------


async def transfer_form(request: Request) -> Response:
    r, conference, _position, _ticket = await by_token(request)
    return _page(request, TRANSFER_FORM, r, conference)


async def transfer(request: Request) -> Response:
    r, conference, _position, _ticket = await by_token(request)
    moved = await _submit(request, TRANSFER_FORM, r, conference, self_service.transfer_place)
    if isinstance(moved, Response):
        return moved
    # This link now opens nothing: the answer is a page of its own, not a redirect back to the booking.
    return render(
        request,
        "conference/message.html",
        {
            "conference": conference,
            "title": "Your place has been transferred",
            "text": f"Booking {moved.reference} is now {moved.name}'s. We have emailed them their own link and "
            "ticket. This link, your badge and your ticket no longer work, and we will not email you about this "
            "booking again.",
        },
    )


# --- "Lost your link?" --------------------------------------------------------------------------------------------


async def lost_link(request: Request) -> Response:
    """The form on its own page (the one the resend endpoint shows again when the address is refused)."""
    return render(request, "conference/lost_link.html", {"values": {}, "errors": {}})


routes = [
    Route("/lost-link", lost_link, methods=["GET"], name="lost-link"),
    Route("/manage/{token}/details", details_form, methods=["GET"], name="manage-details"),
    Route("/manage/{token}/details", save_details, methods=["POST"], name="manage-details-save"),
    Route("/manage/{token}/transfer", transfer_form, methods=["GET"], name="manage-transfer"),
    Route("/manage/{token}/transfer", transfer, methods=["POST"], name="manage-transfer-save"),
]
