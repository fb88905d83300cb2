"""What the lead and the organisers read of a group booking: the lead's private link, the members, the group as
the API shows it, its CSV, and the lead's email."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import errors
from conference.core.group_models import GroupBooking
from conference.core.models import HOLDING, STATUS_LABELS, Conference, OutboxEmail, Registration, TicketType
from conference.core.security import hash_token
from conference.core.settings import Settings
from conference.invoices import invoicing
from conference.mail import mailtext


def group_token(secret: str, group_id: uuid.UUID, version: int) -> str:
    """The lead's private link, derived from the server secret like a member's manage token (its own prefix)."""
    raw = hmac.new(secret.encode(), f"group:{group_id}:{version}".encode(), hashlib.sha256).digest()
    return "g_" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def find_by_token(db: AsyncSession, token: str) -> GroupBooking:
    if not token.startswith("g_"):
        raise errors.NotFound("This group link is not valid; ask the organisers to send it again.")
    stmt = sa.select(GroupBooking).where(col(GroupBooking.manage_token_hash) == hash_token(token))
    group = (await db.execute(stmt)).scalar_one_or_none()
    if group is None:
        raise errors.NotFound("This group link is not valid; ask the organisers to send it again.")
    return group


async def members_of(db: AsyncSession, group_id: uuid.UUID) -> list[Registration]:
    stmt = (
        sa.select(Registration)
        .where(col(Registration.group_id) == group_id)
        .order_by(col(Registration.number))
    )
    return list((await db.execute(stmt)).scalars())


async def list_groups(
    db: AsyncSession, *, query: str = "", limit: int = 100, offset: int = 0
) -> list[GroupBooking]:
    stmt = sa.select(GroupBooking).order_by(col(GroupBooking.created_at).desc()).limit(limit).offset(offset)
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(col(GroupBooking.reference)).like(like),
                sa.func.lower(col(GroupBooking.organisation)).like(like),
                col(GroupBooking.lead_email_key).like(like),
            )
        )
    return list((await db.execute(stmt)).scalars())


async def group_public(db: AsyncSession, group: GroupBooking) -> dict[str, Any]:
    members = await members_of(db, group.id)
    ticket = await db.get(TicketType, group.ticket_type_id)
    held = [r for r in members if r.status in HOLDING]
    return {
        "id": str(group.id),
        "reference": group.reference,
        "lead": {"name": group.lead_name, "email": group.lead_email, "attends": group.lead_attends},
        "organisation": group.organisation,
        "sector": group.sector,
        "ticket_type": {"id": str(group.ticket_type_id), "name": ticket.name if ticket else ""},
        "payment_method": group.payment_method,
        "billing": group.billing,
        "created_at": group.created_at.isoformat(),
        "cancelled_at": group.cancelled_at.isoformat() if group.cancelled_at else None,
        "places_held": len(held),
        "members": [
            {
                "id": str(r.id),
                "reference": r.reference,
                "name": r.name,
                "email": r.email,
                "status": r.status.value,
                "job_title": r.job_title,
            }
            for r in members
        ],
        "invoices": await invoicing.invoices_public(db, group_id=group.id),
    }


CSV_HEADERS = ["reference", "name", "email", "job_title", "region", "status", "dietary", "access_needs"]


async def group_csv(db: AsyncSession, group_id: uuid.UUID) -> str:
    """The group's members as CSV (the lead's download); cells that a spreadsheet would run as a formula are
    quoted with a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADERS)
    for r in await members_of(db, group_id):
        writer.writerow(
            [
                _cell(v)
                for v in (
                    r.reference,
                    r.name,
                    r.email,
                    r.job_title,
                    r.region,
                    r.status.value,
                    r.dietary,
                    r.access_needs,
                )
            ]
        )
    return out.getvalue()


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# --- the lead's email ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadEmail:
    """What an email to a group's lead is written from: the group, its conference, the lead's private link, and
    its members with their status (`listed`, a line each)."""

    group: GroupBooking
    conference: Conference
    link: str
    members: list[Registration]
    listed: str


async def lead_email(db: AsyncSession, settings: Settings, row: OutboxEmail) -> LeadEmail:
    """The group behind a queued email to its lead (the link derived again: no secret is stored)."""
    group = await db.get(GroupBooking, uuid.UUID(row.context["group_id"]))
    conference = await db.get(Conference, group.conference_id) if group else None
    if group is None or conference is None:
        raise mailtext.Undeliverable("the group behind this email no longer exists")
    link = f"{settings.base_url}/group/manage/{group_token(str(settings.secret_key), group.id, group.token_version)}"
    members = await members_of(db, group.id)
    listed = "\n".join(f"  {r.name} ({r.reference}): {STATUS_LABELS[r.status.value]}" for r in members)
    return LeadEmail(group, conference, link, members, listed)


async def compose_group_booked(db: AsyncSession, settings: Settings, row: OutboxEmail) -> tuple[str, str]:
    """To the lead: the group's reference, its members and their status, and the lead's private link."""
    lead = await lead_email(db, settings, row)
    group, conference, members = lead.group, lead.conference, lead.members
    body = (
        f"Dear {group.lead_name},\n\n"
        f"Your group booking {group.reference} for {conference.name} has {len(members)} "
        f"{'person' if len(members) == 1 else 'people'}:\n\n{lead.listed}\n\n"
        "Each of them gets their own email with their e-ticket and the link to manage their own booking.\n\n"
        f"Your page for the group (add a colleague while places remain, substitute or cancel one, download the "
        f"invoice and a list of the group):\n{lead.link}\n\n"
        "Keep this link private: anyone with it can change the group's bookings.\n\n"
        f"{conference.name}\n"
    )
    return f"{conference.name}: group booking {group.reference}", body


def install() -> None:
    """Register the lead's email with the mail queue (called by the composition roots: server/plugins.py)."""
    mailtext.register_kind("group_booked", compose_group_booked)
