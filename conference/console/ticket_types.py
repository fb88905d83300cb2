"""Ticket types in the organisers' console: the list (hide or show, move up or down, delete), and the form to add
or edit one (name, description, price and VAT, own cap, approval rule, payment methods, invoice terms, sale
window, public or hidden).

Organisers only. Forms post with the CSRF token through conference/web/forms.py's `act`: back (303) with
`?done=<what>`; the form again with every problem by field, as typed, when conference/tickets.py refuses it; any
other refusal (deleting a type that has registrations) on the list with its status code.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference import places, tickets
from conference.console.login import require_console
from conference.core import errors
from conference.core.audit import Actor
from conference.core.formats import conference_zone
from conference.payments import gateway
from conference.web.forms import act, done_message, field_problems
from conference.web.request import database, settings
from conference.web.templating import render

PATH = "/console/ticket-types"
DONE = {
    "created": "The ticket type is added.",
    "saved": "The ticket type is saved. Payments already taken and invoices already issued keep their amounts.",
    "unchanged": "Nothing was changed: the ticket type was already as given.",
    "hidden": "The ticket type is hidden: it is no longer on the public form or the API, and organisers can still "
    "book it by hand.",
    "shown": "The ticket type is public again: delegates can book it on the form while it is on sale.",
    "moved": "The order is saved.",
    "deleted": "The ticket type is deleted.",
}


def _ticket_type_id(request: Request) -> uuid.UUID:
    value = request.path_params["ticket_type_id"]  # the route's uuid convertor has parsed it
    assert isinstance(value, uuid.UUID)
    return value


async def _organiser(request: Request, back: str = PATH) -> Actor:
    return await require_console(request, "organiser", back=back)


def _card_available(request: Request) -> bool:
    return gateway.card_available(settings(request))


# --- the list ---------------------------------------------------------------------------------------------------


async def list_page(
    request: Request, *, problem: errors.DomainError | None = None, status_code: int = 200
) -> Response:
    await _organiser(request)
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        rows = await tickets.list_ticket_types(db, conference)
    return render(
        request,
        "console/ticket_types.html",
        {
            "conference": conference,
            "rows": rows,
            "approval_labels": tickets.APPROVAL_LABELS,
            "card_available": _card_available(request),
            "message": "" if problem else done_message(request, DONE),
            "problem": problem,
        },
        status_code=status_code,
    )


async def show_list(request: Request) -> Response:
    return await list_page(request)


async def _on_the_list(request: Request, exc: errors.DomainError) -> Response:
    return await list_page(request, problem=exc, status_code=exc.status_code)


# --- the form ---------------------------------------------------------------------------------------------------


async def _form_page(
    request: Request,
    ticket_type_id: uuid.UUID | None,
    *,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        ticket = None if ticket_type_id is None else await tickets.get_ticket_type(db, ticket_type_id)
    return render(
        request,
        "console/ticket_type_form.html",
        {
            "conference": conference,
            "ticket": ticket,
            "values": values
            if values is not None
            else tickets.form_values(ticket, conference_zone(conference)),
            "errors": problems or {},
            "labels": tickets.LABELS,
            "approval_labels": tickets.APPROVAL_LABELS,
            "card_available": _card_available(request),
        },
        status_code=status_code,
    )


async def new_form(request: Request) -> Response:
    await _organiser(request, PATH + "/new")
    return await _form_page(request, None)


async def edit_form(request: Request) -> Response:
    this = _ticket_type_id(request)
    await _organiser(request, f"{PATH}/{this}")
    return await _form_page(request, this)


async def _save(request: Request, ticket_type_id: uuid.UUID | None) -> Response:
    card_available = _card_available(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        if ticket_type_id is None:
            await tickets.create_ticket_type(db, values=values, card_available=card_available, actor=actor)
            return "created"
        changed = await tickets.update_ticket_type(
            db,
            settings=settings(request),
            ticket_type_id=ticket_type_id,
            values=values,
            card_available=card_available,
            actor=actor,
        )
        return "saved" if changed else "unchanged"

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        if isinstance(exc, errors.NotFound):
            raise exc
        return await _form_page(
            request, ticket_type_id, values=values, problems=field_problems(exc), status_code=exc.status_code
        )

    back = PATH + "/new" if ticket_type_id is None else f"{PATH}/{ticket_type_id}"
    return await act(request, action, actor=await _organiser(request, back), back=PATH, on_error=on_error)


async def create(request: Request) -> Response:
    return await _save(request, None)


async def save(request: Request) -> Response:
    return await _save(request, _ticket_type_id(request))


# --- actions from the list --------------------------------------------------------------------------------------


async def _list_action(request: Request, change: str) -> Response:
    this = _ticket_type_id(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        if change == "visibility":
            public = values.get("public", "")
            if public not in ("yes", "no"):
                raise errors.InvalidInput(fields={"public": "Choose to show or to hide the ticket type."})
            await tickets.set_public(db, ticket_type_id=this, public=public == "yes", actor=actor)
            return "shown" if public == "yes" else "hidden"
        if change == "move":
            direction = values.get("direction", "")
            if direction not in ("up", "down"):
                raise errors.InvalidInput(fields={"direction": "Choose to move the ticket type up or down."})
            await tickets.move_ticket_type(db, ticket_type_id=this, up=direction == "up", actor=actor)
            return "moved"
        await tickets.delete_ticket_type(db, ticket_type_id=this, actor=actor)
        return "deleted"

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        return await _on_the_list(request, exc)

    return await act(request, action, actor=await _organiser(request), back=PATH, on_error=on_error)


async def visibility(request: Request) -> Response:
    return await _list_action(request, "visibility")


async def move(request: Request) -> Response:
    return await _list_action(request, "move")


async def delete_confirm(request: Request) -> Response:
    this = _ticket_type_id(request)
    await _organiser(request, f"{PATH}/{this}/delete")
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        rows = await tickets.list_ticket_types(db, conference)
    row = next((r for r in rows if r.ticket.id == this), None)
    if row is None:
        raise errors.NotFound("No ticket type has this id.")
    if row.registrations:
        return await _on_the_list(request, tickets.TicketTypeInUse())
    return render(request, "console/ticket_type_delete.html", {"conference": conference, "row": row})


async def delete(request: Request) -> Response:
    return await _list_action(request, "delete")


_ONE = PATH + "/{ticket_type_id:uuid}"

routes = [
    Route(PATH, show_list, methods=["GET"], name="console-ticket-types"),
    Route(PATH, create, methods=["POST"], name="console-ticket-type-create"),
    Route(PATH + "/new", new_form, methods=["GET"], name="console-ticket-type-new"),
    Route(_ONE, edit_form, methods=["GET"], name="console-ticket-type"),
    Route(_ONE, save, methods=["POST"], name="console-ticket-type-save"),
    Route(_ONE + "/visibility", visibility, methods=["POST"], name="console-ticket-type-visibility"),
    Route(_ONE + "/move", move, methods=["POST"], name="console-ticket-type-move"),
    Route(_ONE + "/delete", delete_confirm, methods=["GET"], name="console-ticket-type-delete-confirm"),
    Route(_ONE + "/delete", delete, methods=["POST"], name="console-ticket-type-delete"),
]
