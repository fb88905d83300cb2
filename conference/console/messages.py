"""Organisers' messages to groups of delegates: compose, preview, send, and watch the copies go out.

GET /console/messages lists what was sent; /console/messages/new composes; POST /console/messages/preview shows
how many the message reaches and the copy the first of them would get, with a form that carries the fields to
POST /console/messages, which queues it (conference/broadcasts.py) and answers 303 to the message's page. That
page shows delivery progress and every copy that failed, with the error; it lists recipients' addresses, so
each view of it is audited as a view of personal data.

Organisers only (staff get 403, anonymous browsers are sent to /login). Forms carry the CSRF token.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference import broadcasts, places
from conference.console.login import require_console
from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.models import Broadcast
from conference.web.forms import act_alone, done_message
from conference.web.request import database, settings
from conference.web.templating import form_values, render

PER_PAGE = 50
NEW = "/console/messages/new"
FIELDS = ("segment", "ticket_type_id", "session_id", "subject", "body", "per_minute")
LABELS = {
    "segment": "Send to",
    "ticket_type_id": "Ticket type",
    "session_id": "Workshop",
    "subject": "Subject",
    "body": "Message",
    "per_minute": "Sending rate",
}
DONE = {
    "sent": "The message is queued. Copies go out at the rate you chose; this page shows how far they have got.",
    "already": "This message had already been sent (the form was submitted twice); it was not sent again.",
}


async def _organiser(request: Request, back: str | None = None) -> Actor:
    """The signed-in organiser; a browser that is not signed in comes back to `back` (by default this page)."""
    return await require_console(request, "organiser", back=back)


def _ref(values: dict[str, str]) -> str:
    field = broadcasts.REF_FIELDS.get(values.get("segment", ""))
    return values.get(field, "") if field else ""


def _values(values: dict[str, str]) -> dict[str, str]:
    return {k: values.get(k, "") for k in FIELDS}


# --- the list ---------------------------------------------------------------------------------------------


async def messages_page(request: Request) -> Response:
    await _organiser(request)
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        total = int((await db.execute(sa.select(sa.func.count()).select_from(Broadcast))).scalar_one())
        pages = max(1, math.ceil(total / PER_PAGE))
        page = min(page, pages)
        rows = list(
            (
                await db.execute(
                    sa.select(Broadcast)
                    .order_by(col(Broadcast.created_at).desc(), col(Broadcast.id))
                    .limit(PER_PAGE)
                    .offset((page - 1) * PER_PAGE)
                )
            ).scalars()
        )
        counts = await broadcasts.delivery_counts(db, [b.id for b in rows])
    return render(
        request,
        "console/messages.html",
        {
            "conference": conference,
            "rows": rows,
            "counts": counts,
            "page": page,
            "pages": pages,
            "total": total,
        },
    )


# --- compose and preview ----------------------------------------------------------------------------------


async def _compose(
    request: Request,
    values: dict[str, str],
    *,
    problems: dict[str, str] | None = None,
    problem: errors.DomainError | None = None,
    shown: broadcasts.Preview | None = None,
    status_code: int = 200,
) -> Response:
    async with database(request).read() as db:
        options = await broadcasts.segment_options(db)
    return render(
        request,
        "console/message_compose.html",
        {
            **options,
            "values": values,
            "errors": problems or {},
            "problem": problem,
            "preview": shown,
            "segments": broadcasts.SEGMENTS,
            "labels": LABELS,
            "broadcast_id": uuid.uuid4(),
            "max_subject": broadcasts.MAX_SUBJECT,
            "max_body": broadcasts.MAX_BODY,
            "min_rate": broadcasts.MIN_RATE,
            "max_rate": broadcasts.MAX_RATE,
        },
        status_code=status_code,
    )


async def compose_page(request: Request) -> Response:
    await _organiser(request)
    params = request.query_params
    values = {k: params.get(k, "") for k in FIELDS}
    values["segment"] = values["segment"] if values["segment"] in broadcasts.SEGMENTS else "all"
    values["per_minute"] = values["per_minute"] or str(broadcasts.DEFAULT_RATE)
    return await _compose(request, values)


async def _preview(request: Request, values: dict[str, str], **extra: Any) -> Response:
    try:
        async with database(request).read() as db:
            shown = await broadcasts.preview(
                db,
                segment=values["segment"],
                ref=_ref(values),
                subject=values["subject"],
                body=values["body"],
                per_minute=values["per_minute"],
            )
    except errors.InvalidInput as exc:
        return await _compose(request, values, problems=exc.fields, status_code=exc.status_code)
    return await _compose(request, values, shown=shown, **extra)


async def preview_message(request: Request) -> Response:
    await _organiser(request, NEW)
    values = _values(await form_values(request))
    return await _preview(request, values)


# --- send -------------------------------------------------------------------------------------------------


async def send_message(request: Request) -> Response:
    actor = await _organiser(request, NEW)
    # The form's own id for the message (made when it was composed): sent twice, it is sent once.
    raw = (await request.form()).get("broadcast_id", "")
    try:
        broadcast_id = uuid.UUID(raw if isinstance(raw, str) else "")
    except ValueError:
        broadcast_id = uuid.uuid4()

    async def change(form: dict[str, str], actor: Actor) -> str:
        values = _values(form)
        try:
            expected: int | None = int(form.get("expected", ""))
        except ValueError:
            expected = None
        try:
            async with database(request).transaction() as db:
                if await db.get(Broadcast, broadcast_id) is not None:
                    return "already"
                await broadcasts.send(
                    db,
                    settings=settings(request),
                    segment=values["segment"],
                    ref=_ref(values),
                    subject=values["subject"],
                    body=values["body"],
                    actor=actor,
                    per_minute=values["per_minute"],
                    broadcast_id=broadcast_id,
                    expected=expected,
                )
        except IntegrityError:
            # The same form submitted twice at once (PostgreSQL): the other submission sent it.
            async with database(request).read() as db:
                if await db.get(Broadcast, broadcast_id) is None:
                    raise
            return "already"
        return "sent"

    async def on_error(exc: errors.DomainError, form: dict[str, str]) -> Response:
        if isinstance(exc, broadcasts.AudienceChanged):
            return await _preview(request, _values(form), problem=exc, status_code=exc.status_code)
        if isinstance(exc, errors.InvalidInput):
            return await _compose(request, _values(form), problems=exc.fields, status_code=exc.status_code)
        raise exc

    return await act_alone(
        request,
        change,
        actor=actor,
        back=request.url_for("console-message", broadcast_id=broadcast_id),
        on_error=on_error,
    )


def _copies(n: int) -> str:
    return f"{n} cop{'y' if n == 1 else 'ies'}"


def delivery_summary(counts: dict[str, int], recipients: int) -> str:
    """What has happened to a message's copies, in words. Copies kept because no mail server is configured are
    finished too (they stay in the outbox to be read, never sent): "0 of 68 done" beside "Kept: 68" said nothing
    had happened when everything had."""
    kept, sent, failed = counts["kept"], counts["sent"], counts["failed"]
    waiting = counts["queued"] + counts["sending"]
    if recipients and kept == recipients:
        return (
            f"Not emailed: no mail server is configured, so all {_copies(kept)} are kept in the outbox, where "
            "organisers can read them."
        )
    parts = [
        f"{n} {what}"
        for n, what in (
            (sent, "delivered to the mail server"),
            (failed, "failed"),
            (kept, "kept in the outbox (no mail server)"),
            (waiting, "waiting to be sent"),
        )
        if n
    ]
    finished = sent + failed + kept
    head = f"{finished} of {recipients} done" if finished < recipients else f"All {recipients} done"
    return head + (": " + ", ".join(parts) if parts else "")


# --- one message ------------------------------------------------------------------------------------------


async def message_page(request: Request) -> Response:
    broadcast_id = request.path_params["broadcast_id"]
    assert isinstance(broadcast_id, uuid.UUID)
    actor = await _organiser(request)
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        broadcast = await db.get(Broadcast, broadcast_id)
        if broadcast is None:
            raise errors.NotFound("No message has this id.")
        counts = (await broadcasts.delivery_counts(db, [broadcast.id]))[broadcast.id]
        problems = await broadcasts.delivery_problems(db, broadcast.id)
        last_due = await broadcasts.last_due(db, broadcast.id)
    async with database(request).transaction() as db:
        # The page lists the addresses of the copies that failed: a view of personal data (how many, not whose).
        await audit.record(
            db,
            "conference.broadcast.viewed",
            actor=actor,
            subject=str(broadcast.id),
            personal_data=bool(problems),
            addresses_shown=len(problems),
        )
    return render(
        request,
        "console/message.html",
        {
            "conference": conference,
            "b": broadcast,
            "counts": counts,
            "problems": problems,
            "last_due": last_due,
            "message": done_message(request, DONE),
            "done_count": counts["sent"] + counts["failed"] + counts["kept"],
            "summary": delivery_summary(counts, broadcast.recipients),
            "labels": broadcasts.SEGMENTS,
        },
    )


routes = [
    Route("/console/messages", messages_page, methods=["GET"], name="console-messages"),
    Route("/console/messages", send_message, methods=["POST"], name="console-message-send"),
    Route(NEW, compose_page, methods=["GET"], name="console-message-new"),
    Route("/console/messages/preview", preview_message, methods=["POST"], name="console-message-preview"),
    Route("/console/messages/{broadcast_id:uuid}", message_page, methods=["GET"], name="console-message"),
]
