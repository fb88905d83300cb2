"""The group lead's personal data, from their private link (/group/manage/{token}): "Download my data" (a JSON
file) and "Erase my details" (a confirmation page and its CSRF-protected POST). The rules are
conference/personal_data.py's (`export_group_for`, `erase_group`): erasure is refused while a member's place still
waits for payment, approval or a free place, and the link stops working once it is done.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference import groups, personal_data, places
from conference.core.audit import Actor
from conference.core.group_models import GroupBooking
from conference.web.request import database, rate_limit
from conference.web.templating import form_values, render


def _lead(group: GroupBooking) -> Actor:
    return Actor("group_lead", group.reference, scope_id=group.id)


async def _group(request: Request) -> GroupBooking:
    async with database(request).read() as db:
        return await groups.find_by_token(db, request.path_params["token"])


async def group_data(request: Request) -> Response:
    """Everything held about the lead, as a JSON file (audited, rate limited like a delegate's download)."""
    await rate_limit(request).check(request, "personal-data")
    group = await _group(request)
    async with database(request).read() as db:
        data = await personal_data.export_group_for(db, group_id=group.id)
    async with database(request).transaction() as db:
        await personal_data.record_group_download(db, group=group, actor=_lead(group), via="group_manage")
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={
            "content-disposition": f'attachment; filename="personal-data-{group.reference}.json"',
            "cache-control": "no-store",
        },
    )


async def _confirm_page(request: Request, group: GroupBooking, *, refused: bool = False) -> Response:
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        unsettled = await personal_data.unsettled_members(db, group, conference)
    return render(
        request,
        "conference/group_erase.html",
        {
            "conference": conference,
            "group": group,
            "token": request.path_params["token"],
            "unsettled": unsettled,
            "refused": refused,
        },
        status_code=409 if refused else 200,
    )


async def group_erase_confirm(request: Request) -> Response:
    return await _confirm_page(request, await _group(request))


async def group_erase(request: Request) -> Response:
    """Erase the lead's details; the members keep their places and their own links."""
    group = await _group(request)
    await form_values(request)
    try:
        async with database(request).transaction() as db:
            result = await personal_data.erase_group(
                db, group_id=group.id, actor=_lead(group), reason="lead_request"
            )
    except personal_data.GroupUnsettled:
        return await _confirm_page(request, group, refused=True)
    async with database(request).read() as db:
        conference = await places.get_conference(db)
    return render(request, "conference/group_erased.html", {"result": result, "conference": conference})


routes = [
    Route("/group/manage/{token}/data.json", group_data, methods=["GET"], name="group-data"),
    Route("/group/manage/{token}/erase", group_erase_confirm, methods=["GET"], name="group-erase-confirm"),
    Route("/group/manage/{token}/erase", group_erase, methods=["POST"], name="group-erase"),
]
