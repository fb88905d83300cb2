"""The organisers' library queue: /console/library lists what speakers shared, pending first, with the talk each is
for; each item can be downloaded to check, approved with the visibility chosen, rejected with a note the speaker
reads, or (once approved) given another visibility. Organisers only; every change audited
(sessions/library/approval.py).

One form per item; its buttons post to the change they name (`formaction`: no script needed). A refused change
shows the page again with the problem beside that item's form and what was typed.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference.console.login import require_console
from conference.core import errors
from conference.core.audit import Actor
from conference.places import get_conference
from conference.web.forms import Action, FormPage, act, done_message, show_again
from conference.web.request import database
from conference.web.templating import render
from sessions.library import approval
from sessions.library.public_pages import FORMAT_NAMES, file_response, size_label
from sessions.models import ResourceKind, ResourceStatus, Visibility
from sessions.models.library import VISIBILITY_LABELS

DONE = {
    "approved": "Approved: the item is in the library.",
    "rejected": "Rejected: the speaker sees your note on their resources page.",
    "visibility": "Visibility changed.",
}
STATUS_LABELS = {
    ResourceStatus.pending: "Waiting for approval",
    ResourceStatus.approved: "In the library",
    ResourceStatus.rejected: "Rejected",
}
SHOWN = {
    "pending": ResourceStatus.pending,
    "approved": ResourceStatus.approved,
    "rejected": ResourceStatus.rejected,
}


def _visibility(values: dict[str, str]) -> Visibility:
    try:
        return Visibility(values.get("visibility", ""))
    except ValueError:
        raise errors.InvalidInput(
            fields={"visibility": "Choose who may see it: " + "; ".join(VISIBILITY_LABELS.values()) + "."}
        ) from None


def _resource_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(str(request.path_params["resource_id"]))
    except ValueError:
        raise errors.NotFound("No library item has this id.") from None


async def library_page(
    request: Request,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await require_console(request, "organiser")
    shown = request.query_params.get("status", "")
    status = SHOWN.get(shown)
    async with database(request).read() as db:
        conference = await get_conference(db)
        assert conference.id is not None
        rows = await approval.review_queue(db, conference.id, status=status)
        pending = await approval.pending_count(db, conference.id)
    # The item whose form was refused: its problems and what was typed go beside that form.
    failed = str(request.path_params.get("resource_id", ""))
    errors_by_field = {f"{name}-{failed}": text for name, text in (problems or {}).items()}
    return render(
        request,
        "sessions/console_library.html",
        {
            "conference": conference,
            "rows": rows,
            "pending": pending,
            "shown": shown if status else "",
            "failed": failed,
            "typed": values or {},
            "errors": errors_by_field,
            "message": done_message(request, DONE),
            "visibilities": VISIBILITY_LABELS,
            "status_labels": STATUS_LABELS,
            "format_names": FORMAT_NAMES,
            "size_label": size_label,
        },
        status_code=status_code,
    )


async def _act(request: Request, action: Action) -> Response:
    back = "/console/library"
    actor = await require_console(request, "organiser", back=back)
    page: FormPage = library_page
    return await act(request, action, actor=actor, back=back, on_error=show_again(request, page))


async def approve(request: Request) -> Response:
    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> str:
        await approval.approve_resource(
            db,
            resource_id=_resource_id(request),
            visibility=_visibility(v),
            note=v.get("note", ""),
            actor=actor,
        )
        return "approved"

    return await _act(request, action)


async def reject(request: Request) -> Response:
    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> str:
        await approval.reject_resource(
            db, resource_id=_resource_id(request), note=v.get("note", ""), actor=actor
        )
        return "rejected"

    return await _act(request, action)


async def change_visibility(request: Request) -> Response:
    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> str:
        await approval.set_visibility(
            db, resource_id=_resource_id(request), visibility=_visibility(v), actor=actor
        )
        return "visibility"

    return await _act(request, action)


async def download(request: Request) -> Response:
    """The file as the speaker uploaded it (whatever its status), with the same safe headers as the library's."""
    await require_console(request, "organiser")
    resource_id = _resource_id(request)
    async with database(request).read() as db:
        resource = await approval.get_resource(db, resource_id)
    if resource.kind != ResourceKind.file:
        raise errors.NotFound("This item is a link, not a file: open its address instead.")
    response = file_response(request, resource)
    response.headers["cache-control"] = "private, no-store"
    return response


routes = [
    Route("/console/library", library_page, methods=["GET"], name="console-library"),
    Route("/console/library/{resource_id}/file", download, methods=["GET"], name="console-library-file"),
    Route(
        "/console/library/{resource_id}/approve", approve, methods=["POST"], name="console-library-approve"
    ),
    Route("/console/library/{resource_id}/reject", reject, methods=["POST"], name="console-library-reject"),
    Route(
        "/console/library/{resource_id}/visibility",
        change_visibility,
        methods=["POST"],
        name="console-library-visibility",
    ),
]
