"""Helpers for the call-for-talks tests: open or close the call, a proposal body, reviewers, and an email's text."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import sqlalchemy as sa

from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import OutboxEmail, utcnow
from conference.core.settings import Settings
from conference.mail import mailtext
from sessions.call import call as calls
from sessions.call import review
from sessions.models import CallUpdate, ReviewerInvite

ORGANISER = Actor("organiser", "tests")
PROPOSAL_LINK = re.compile(r"http://testserver/proposal/(p_[A-Za-z0-9_-]+)")
REVIEW_LINK = re.compile(r"http://testserver/review/(r_[A-Za-z0-9_-]+)")


async def set_call(database: Database, *, open_: bool = True, anonymous: bool = True) -> None:
    now = utcnow()
    async with database.transaction() as db:
        await calls.update_call(
            db,
            data=CallUpdate(
                opens_at=now - timedelta(days=30),
                closes_at=now + (timedelta(days=10) if open_ else -timedelta(days=1)),
                anonymous_review=anonymous,
            ),
            actor=ORGANISER,
        )


def proposal_body(**overrides: Any) -> dict[str, Any]:
    n = uuid.uuid4().hex[:6]
    body: dict[str, Any] = {
        "title": "One front door for children's referrals",
        "abstract": "How a shared triage desk cut referral times from five days to one.",
        "format": "talk",
        "duration_minutes": 20,
        "themes": ["information sharing", "partnership working"],
        "speakers": [
            {
                "name": "Grace Okafor",
                "email": f"grace.okafor.{n}@leeds.gov.uk",
                "organisation": "Leeds City Council",
            }
        ],
        "audience_level": "intermediate",
        "access_needs": "Step-free access to the stage",
    }
    body.update(overrides)
    return body


async def submit(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/proposals", json=proposal_body(**overrides))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def invite(
    database: Database, settings: Settings, name: str = "Dr Helen Marsh", email: str | None = None
) -> tuple[uuid.UUID, str]:
    async with database.transaction() as db:
        r = await review.invite_reviewer(
            db,
            settings=settings,
            actor=ORGANISER,
            data=ReviewerInvite(
                name=name, email=email or f"reviewer.{uuid.uuid4().hex[:6]}@whatworks.org.uk"
            ),
        )
    return r.id, review.reviewer_token(settings, r)


async def emails(database: Database, settings: Settings, kind: str | None = None) -> list[EmailMessage]:
    """The queued emails rendered exactly as the mail worker would send them."""
    async with database.read() as db:
        stmt = sa.select(OutboxEmail).order_by(OutboxEmail.created_at)
        if kind:
            stmt = stmt.where(OutboxEmail.kind == kind)
        rows = list((await db.execute(stmt)).scalars())
        return [await mailtext.render(db, settings, row) for row in rows]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content
