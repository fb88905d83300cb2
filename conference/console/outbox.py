"""The mail outbox in the console: every email the system wrote, queued, sent, failed or kept (no mail server).

GET /console/outbox lists them newest first, 50 a page, found by recipient (`q`, part of the address), `status`
and `kind`. GET /console/outbox/{id} shows one as it would be sent now (conference/mail/browse.py): subject, the
plain-text body with its links as links, attachments, status and the last error; without a mail server this is
how organisers reach the links the system emailed (booking links, password resets, invitations), so the page
says it is sensitive and each view is audited (conference.outbox.viewed). POST /console/outbox/{id}/resend
queues a failed or kept email again (conference.outbox.resent), with the page's CSRF token.

Organisers only (staff get 403, anonymous browsers are sent to /login). Nothing here is logged.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference import places
from conference.console.login import require_console
from conference.core import errors
from conference.core.audit import Actor
from conference.mail import browse
from conference.mail.sender import MailWorker
from conference.web.forms import act_alone, done_message
from conference.web.request import database, settings
from conference.web.templating import render

DONE = {
    "resent": "The email is queued to be sent again. Reload this page to see how it went.",
}
LABELS = {"q": "Recipient", "status": "Status", "kind": "Kind of email"}


@dataclass
class Filters:
    q: str = ""
    status: str = ""
    kind: str = ""
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def raw(self) -> dict[str, str]:
        return {"q": self.q, "status": self.status, "kind": self.kind}

    def query(self, page: int = 1) -> str:
        query = {k: v for k, v in self.raw.items() if v}
        if page > 1:
            query["page"] = str(page)
        return urlencode(query)


def parse_filters(params: Any) -> Filters:
    f = Filters(
        q=params.get("q", "").strip(),
        status=params.get("status", "").strip(),
        kind=params.get("kind", "").strip(),
    )
    if len(f.q) > browse.MAX_RECIPIENT:
        f.errors["q"] = f"Use at most {browse.MAX_RECIPIENT} characters."
        f.q = f.q[: browse.MAX_RECIPIENT]
    if f.status and f.status not in browse.STATUS_LABELS:
        f.errors["status"] = "Choose a status from the list."
        f.status = ""
    if f.kind and f.kind not in browse.kinds():
        f.errors["kind"] = "Choose a kind of email from the list."
        f.kind = ""
    try:
        f.page = max(1, int(params.get("page", "1")))
    except ValueError:
        f.page = 1
    return f


async def outbox_page(request: Request) -> Response:
    await require_console(request, "organiser")
    f = parse_filters(request.query_params)
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        found = None
        if not f.errors:
            found = await browse.list_messages(db, recipient=f.q, status=f.status, kind=f.kind, page=f.page)
    page, pages = (found.page, found.pages) if found else (1, 1)
    rows = found.rows if found else []
    return render(
        request,
        "console/outbox.html",
        {
            "conference": conference,
            "filters": f,
            "values": f.raw,
            "errors": f.errors,
            "labels": LABELS,
            "rows": rows,
            "total": found.total if found else 0,
            "page": page,
            "pages": pages,
            "first": found.first if found else 0,
            "last": (found.first + len(rows) - 1) if rows and found else 0,
            "filtered": any(f.raw.values()),
            "previous_url": f"?{f.query(page - 1)}" if page > 1 else None,
            "next_url": f"?{f.query(page + 1)}" if page < pages else None,
            "status_names": browse.STATUS_LABELS,
            "kinds": [(kind, browse.kind_label(kind)) for kind in browse.kinds()],
            "kind_label": browse.kind_label,
            "mail_server": bool(settings(request).smtp_url),
        },
        status_code=422 if f.errors else 200,
    )


def _message_id(request: Request) -> uuid.UUID:
    message_id = request.path_params["message_id"]
    assert isinstance(message_id, uuid.UUID)
    return message_id


async def _message_page(
    request: Request, actor: Actor, *, problem: errors.DomainError | None = None, status_code: int = 200
) -> Response:
    row, composed = await browse.show_message(
        database(request), settings(request), message_id=_message_id(request), actor=actor
    )
    async with database(request).read() as db:
        conference = await places.get_conference(db)
    return render(
        request,
        "console/outbox_message.html",
        {
            "conference": conference,
            "m": row,
            "composed": composed,
            "status_names": browse.STATUS_LABELS,
            "kind_label": browse.kind_label,
            "resendable": row.status in browse.RESENDABLE,
            "mail_server": bool(settings(request).smtp_url),
            "message": done_message(request, DONE) if problem is None else "",
            "problem": problem,
        },
        status_code=status_code,
    )


async def message_page(request: Request) -> Response:
    return await _message_page(request, await require_console(request, "organiser"))


async def resend_message(request: Request) -> Response:
    message_id = _message_id(request)
    actor = await require_console(request, "organiser", back=f"/console/outbox/{message_id}")

    async def change(values: dict[str, str], actor: Actor) -> str:
        async with database(request).transaction() as db:
            await browse.resend(db, settings(request), message_id=message_id, actor=actor)
        # An UPDATE doesn't wake this process's sender as an INSERT does; without this it polls within seconds.
        worker = getattr(request.app.state, "mail", None)
        if isinstance(worker, MailWorker):
            worker.wake()
        return "resent"

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        if isinstance(exc, errors.NotFound):
            raise exc
        return await _message_page(request, actor, problem=exc, status_code=exc.status_code)

    return await act_alone(
        request,
        change,
        actor=actor,
        back=request.url_for("console-outbox-message", message_id=message_id),
        on_error=on_error,
    )


routes = [
    Route("/console/outbox", outbox_page, methods=["GET"], name="console-outbox"),
    Route("/console/outbox/{message_id:uuid}", message_page, methods=["GET"], name="console-outbox-message"),
    Route(
        "/console/outbox/{message_id:uuid}/resend",
        resend_message,
        methods=["POST"],
        name="console-outbox-resend",
    ),
]
