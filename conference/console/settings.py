"""Console settings: how long delegates' personal data is kept after the conference (the retention rule).

Organisers only. The form posts with the CSRF token and changes `conference.retention_days` through the same
service (and the same validation) as `PATCH /api/v1/conference`; conference/personal_data.py applies it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from conference import personal_data, places, registration
from conference.console.login import LoginRequired, require_console
from conference.core import errors
from conference.core.audit import Actor
from conference.core.formats import when
from conference.core.models import ConferenceUpdate, Registration
from conference.web.request import database, settings, validate
from conference.web.templating import form_values, render

PATH = "/console/settings/retention"
LABELS = {"retention_days": "Days to keep personal data after the conference"}


async def _organiser(request: Request) -> Actor:
    try:
        return await require_console(request, "organiser")
    except LoginRequired:
        raise LoginRequired(
            PATH
        ) from None  # after signing in, back to the page (a POST path would answer 405)


async def _page(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    form_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        erased = int(
            (
                await db.execute(
                    sa.select(sa.func.count())
                    .select_from(Registration)
                    .where(
                        col(Registration.conference_id) == conference.id,
                        col(Registration.erased_at).is_not(None),
                    )
                )
            ).scalar_one()
        )
        total = int(
            (
                await db.execute(
                    sa.select(sa.func.count())
                    .select_from(Registration)
                    .where(col(Registration.conference_id) == conference.id)
                )
            ).scalar_one()
        )
    current = "" if conference.retention_days is None else str(conference.retention_days)
    done = request.query_params.get("done") == "saved"
    return render(
        request,
        "console/settings_retention.html",
        {
            "conference": conference,
            "due": personal_data.retention_due_at(conference),
            "when": when,
            "erased": erased,
            "total": total,
            "values": values if values is not None else {"retention_days": current},
            "errors": form_errors or {},
            "labels": LABELS,
            "saved": done and not form_errors,
            "max_days": personal_data.MAX_RETENTION_DAYS,
        },
        status_code=status_code,
    )


async def retention_page(request: Request) -> Response:
    await _organiser(request)
    return await _page(request)


def _days(raw: str) -> int | None:
    text = raw.strip()
    if not text:
        return None  # no retention period: kept until an organiser erases
    if not text.isdigit() or int(text[:6]) > personal_data.MAX_RETENTION_DAYS:
        raise errors.InvalidInput(
            fields={
                "retention_days": f"Give a whole number of days from 0 to "
                f"{personal_data.MAX_RETENTION_DAYS}, or leave it empty."
            }
        )
    return int(text)


async def retention_save(request: Request) -> Response:
    actor = await _organiser(request)
    values = await form_values(request)
    if "retention_days" not in values:
        return await _page(
            request, values=values, form_errors={"retention_days": "This field is required."}, status_code=422
        )
    try:
        data = validate(ConferenceUpdate, {"retention_days": _days(values["retention_days"])})
        changes: dict[str, Any] = data.model_dump(exclude_unset=True)
        async with database(request).transaction() as db:
            await registration.update_conference(db, settings=settings(request), changes=changes, actor=actor)
    except errors.InvalidInput as exc:
        return await _page(
            request, values=values, form_errors=dict(exc.fields or {}), status_code=exc.status_code
        )
    return RedirectResponse(
        request.url_for("console-settings-retention").include_query_params(done="saved"), 303
    )


routes = [
    Route(PATH, retention_page, methods=["GET"], name="console-settings-retention"),
    Route(PATH, retention_save, methods=["POST"], name="console-settings-retention-save"),
]
