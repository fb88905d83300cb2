"""The speakers' own pages for the library, on their proposal's private link: what they have shared (with the
organisers' decision and note), a form to upload a file (multipart), a form to share a link, removing an item,
and downloading their own file (with the library's safe headers).

Works without JavaScript; each form carries the CSRF token; a refused form shows the problem by its field and
keeps what was typed (a browser cannot keep a chosen file: the page says to choose it again).
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from conference.core import errors
from conference.core.audit import Actor
from conference.core.settings import Settings
from conference.web.forms import NOT_THE_FORMS_FAULT, done_message, done_redirect, field_problems
from conference.web.middleware import LargerBody
from conference.web.request import database, path_uuid, rate_limit, settings
from conference.web.templating import FormRefused, form_values, render
from sessions.call import call as calls
from sessions.call import proposals
from sessions.library import files, storage, uploads
from sessions.models import Proposal
from sessions.models.library import VISIBILITY_LABELS, LibraryResource, ResourceKind, ResourceStatus

# A multipart upload's own overhead (boundaries, the other fields) on top of the file: BodyLimit's allowance.
FORM_OVERHEAD_BYTES = 64 * 1024
UPLOAD_LABELS = {"title": "Title", "file": "File", "visibility": "Who may see it", "form": "Upload"}
LINK_LABELS = {
    "link_title": "Title",
    "url": "Address",
    "link_visibility": "Who may see it",
    "link_form": "Link",
}
STATUS_LABELS = {
    ResourceStatus.pending: "Waiting for the organisers",
    ResourceStatus.approved: "In the library",
    ResourceStatus.rejected: "Not published",
}
FORMAT_LABELS = {
    "pdf": "PDF",
    "pptx": "PowerPoint",
    "docx": "Word",
    "odp": "OpenDocument presentation",
    "link": "Link",
}
MESSAGES = {
    "uploaded": "Thank you: your file is uploaded. The organisers will check it before it appears in the library.",
    "linked": "Thank you: your link is added. The organisers will check it before it appears in the library.",
    "removed": "The item is removed.",
}


def upload_body_limit(settings: Settings) -> LargerBody:
    """The upload form's body limit for BodyLimit: the largest file plus the form around it, and a 413 that says
    how large a file may be."""
    return LargerBody(
        prefix="/proposal/",
        suffix="/resources",
        max_bytes=settings.library_max_bytes + FORM_OVERHEAD_BYTES,
        message=(
            f"The file is too large: the most you can upload is {files.human_size(settings.library_max_bytes)}. "
            "Go back, make it smaller (for example, export the slides as PDF with compressed pictures) and "
            "try again."
        ),
    )


async def _proposal(request: Request) -> tuple[Proposal, Actor]:
    async with database(request).read() as db:
        p = await proposals.find_by_token(db, request.path_params["token"])
    if p is None:
        raise errors.NotFound("This proposal link is not valid. Check you copied all of it from the email.")
    return p, Actor("speaker", str(p.id)[:8], scope_id=p.id)


def _item(r: LibraryResource) -> dict[str, Any]:
    return {
        "r": r,
        "status": STATUS_LABELS[r.status],
        "visibility": VISIBILITY_LABELS[r.visibility],
        "format": FORMAT_LABELS.get(r.format, r.format),
        "size": files.human_size(r.size_bytes) if r.kind == ResourceKind.file else "",
    }


async def _page(
    request: Request,
    *,
    upload_values: dict[str, str] | None = None,
    link_values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    p, _actor = await _proposal(request)
    async with database(request).read() as db:
        items = await uploads.resources_of(db, p.id)
        conference, _call = await calls.get_call(db)
    shareable = p.status in uploads.SHAREABLE
    problems = problems or {}
    if not shareable:  # no forms on the page: a refusal is about the talk, said beside the notice
        problems = {"resources-closed": " ".join(dict.fromkeys(problems.values()))} if problems else {}
    return render(
        request,
        "sessions/resources.html",
        {
            "p": p,
            "conference": conference,
            "token": request.path_params["token"],
            "items": [_item(r) for r in items],
            "shareable": shareable,
            "visibilities": [(v.value, label) for v, label in VISIBILITY_LABELS.items()],
            "upload_values": upload_values or {},
            "link_values": link_values or {},
            "errors": problems,
            "labels": {**UPLOAD_LABELS, **LINK_LABELS, "resources-closed": "Sharing"},
            "max_size": files.human_size(settings(request).library_max_bytes),
            "message": done_message(request, MESSAGES),
        },
        status_code=status_code,
    )


async def resources_page(request: Request) -> Response:
    return await _page(request)


async def upload_submit(request: Request) -> Response:
    p, actor = await _proposal(request)
    await rate_limit(request).check(request, "library")
    form = await request.form()
    try:
        try:
            values = await form_values(request)
        except FormRefused as exc:
            return await _page(
                request, upload_values=exc.values, problems=_upload_problems(exc), status_code=422
            )
        file = form.get("file")
        if not isinstance(file, UploadFile) or not (file.filename or "").strip():
            return await _page(
                request,
                upload_values=values,
                problems={"file": "Choose a file to upload: a PDF, PowerPoint, Word or OpenDocument file."},
                status_code=422,
            )
        data = await file.read(settings(request).library_max_bytes + 1)
        try:
            async with database(request).transaction() as db:
                await uploads.add_file(
                    db,
                    settings(request),
                    proposal=p,
                    title=values.get("title", ""),
                    file_name=file.filename or "",
                    data=data,
                    visibility=values.get("visibility", ""),
                    actor=actor,
                )
        except NOT_THE_FORMS_FAULT:
            raise
        except errors.DomainError as exc:
            return await _page(
                request, upload_values=values, problems=_upload_problems(exc), status_code=exc.status_code
            )
    finally:
        await form.close()  # the uploaded file's temporary copy
    return done_redirect(
        request.url_for("proposal-resources", token=request.path_params["token"]), "uploaded"
    )


def _upload_problems(exc: errors.DomainError) -> dict[str, str]:
    problems = {("upload-heading" if k == "form" else k): v for k, v in field_problems(exc).items()}
    if "file" in problems:
        problems["file"] += " (Choose the file again: a browser does not keep it.)"
    return problems


def _link_problems(exc: errors.DomainError) -> dict[str, str]:
    rename = {"title": "link_title", "visibility": "link_visibility", "form": "link-heading"}
    return {rename.get(k, k): v for k, v in field_problems(exc).items()}


async def link_submit(request: Request) -> Response:
    p, actor = await _proposal(request)
    await rate_limit(request).check(request, "library")
    try:
        values = await form_values(request)
    except FormRefused as exc:
        return await _page(request, link_values=exc.values, problems=_link_problems(exc), status_code=422)
    try:
        async with database(request).transaction() as db:
            await uploads.add_link(
                db,
                proposal=p,
                title=values.get("title", ""),
                url=values.get("url", ""),
                visibility=values.get("visibility", ""),
                actor=actor,
            )
    except NOT_THE_FORMS_FAULT:
        raise
    except errors.DomainError as exc:
        return await _page(
            request, link_values=values, problems=_link_problems(exc), status_code=exc.status_code
        )
    return done_redirect(request.url_for("proposal-resources", token=request.path_params["token"]), "linked")


def _resource_id(request: Request) -> uuid.UUID:
    return path_uuid(request, "resource_id")


async def remove_confirm(request: Request) -> Response:
    """Removing asks first: an item in the library disappears from it for everyone, and a file is deleted."""
    p, _actor = await _proposal(request)
    async with database(request).read() as db:
        resource = await uploads.own_resource(db, proposal_id=p.id, resource_id=_resource_id(request))
    return render(
        request,
        "sessions/resource_remove.html",
        {"p": p, "r": resource, "token": request.path_params["token"]},
    )


async def remove_submit(request: Request) -> Response:
    p, actor = await _proposal(request)
    await form_values(request)
    async with database(request).transaction() as db:
        await uploads.remove_resource(
            db, settings(request), proposal=p, resource_id=_resource_id(request), actor=actor
        )
    return done_redirect(request.url_for("proposal-resources", token=request.path_params["token"]), "removed")


async def own_file(request: Request) -> Response:
    p, _actor = await _proposal(request)
    async with database(request).read() as db:
        resource = await uploads.own_resource(db, proposal_id=p.id, resource_id=_resource_id(request))
    if resource.kind != ResourceKind.file:
        raise errors.NotFound("This item is a link, not a file.")
    path = storage.open_resource(settings(request), resource.stored_name)
    headers = storage.safe_file_headers(resource) | {"cache-control": "private, no-store"}
    media_type = headers.pop("content-type")
    return FileResponse(path, media_type=media_type, headers=headers)


routes = [
    Route("/proposal/{token}/resources", resources_page, methods=["GET"], name="proposal-resources"),
    Route("/proposal/{token}/resources", upload_submit, methods=["POST"], name="proposal-resources-upload"),
    Route("/proposal/{token}/resources/links", link_submit, methods=["POST"], name="proposal-resources-link"),
    Route(
        "/proposal/{token}/resources/{resource_id}/remove",
        remove_confirm,
        methods=["GET"],
        name="proposal-resource-remove-confirm",
    ),
    Route(
        "/proposal/{token}/resources/{resource_id}/remove",
        remove_submit,
        methods=["POST"],
        name="proposal-resource-remove",
    ),
    Route(
        "/proposal/{token}/resources/{resource_id}/file",
        own_file,
        methods=["GET"],
        name="proposal-resource-file",
    ),
]
