"""Console settings: how long delegates' personal data is kept after the conference (the retention rule).

Organisers only. The form posts with the CSRF token and changes `conference.retention_days` through the same
service (and the same validation) as `PATCH /api/v1/conference`, through conference/web/forms.py's `act` (back
with `?done=saved`); conference/personal_data.py applies it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference import personal_data, places, registration
from conference.console.login import require_console
from conference.core import errors
from conference.core.audit import Actor
from conference.core.models import Registration
from conference.core.schemas import ConferenceUpdate
from conference.web.forms import act, done_message
from conference.web.request import database, settings, validate
from conference.web.templating import render

PATH = "/console/settings/retention"
LABELS = {"retention_days": "Days to keep personal data after the conference"}
DONE = {"saved": "The retention period is saved."}


async def _organiser(request: Request) -> Actor:
    return await require_console(request, "organiser", back=PATH)


async def _page(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
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
    return render(
        request,
        "console/settings_retention.html",
        {
            "conference": conference,
            "due": personal_data.retention_due_at(conference),
            "erased": erased,
            "total": total,
            "values": values if values is not None else {"retention_days": current},
            "errors": problems or {},
            "labels": LABELS,
            "message": "" if problems else done_message(request, DONE),
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
    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        if "retention_days" not in values:
            raise errors.InvalidInput(
                fields={
                    "retention_days": "Enter how many days after the event to keep personal data, "
                    "or leave it empty to keep it until an organiser erases it."
                }
            )
        data = validate(ConferenceUpdate, {"retention_days": _days(values["retention_days"])})
        changes: dict[str, Any] = data.model_dump(exclude_unset=True)
        await registration.update_conference(db, settings=settings(request), changes=changes, actor=actor)
        return "saved"

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        if not isinstance(exc, errors.InvalidInput):
            raise exc
        return await _page(
            request, values=values, problems=dict(exc.fields or {}), status_code=exc.status_code
        )

    return await act(
        request,
        action,
        actor=await _organiser(request),
        back=request.url_for("console-settings-retention"),
        on_error=on_error,
    )


routes = [
    Route(PATH, retention_page, methods=["GET"], name="console-settings-retention"),
    Route(PATH, retention_save, methods=["POST"], name="console-settings-retention-save"),
]
