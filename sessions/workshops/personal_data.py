"""What this package holds about one delegate, for their data export, and what goes when it is erased.

Hooks of conference/personal_data.py (installed by `sessions.wiring.install()`): seats, the agenda, ranked choices,
stars, and the call-for-talks proposals that name the delegate's confirmed email as a speaker's (export only: a speaker
manages or withdraws a proposal through its own private link, and the programme may still carry the talk).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core.models import Registration, Status
from conference.core.settings import Settings
from sessions.models import ProgrammeSession, Proposal, ProposalSpeaker, SeatBooking, SessionChoice, Star
from sessions.workshops.agenda import agenda


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def export_sessions(db: AsyncSession, registration: Registration) -> dict[str, Any]:
    seats = (
        await db.execute(
            sa.select(SeatBooking, ProgrammeSession)
            .join(ProgrammeSession, col(ProgrammeSession.id) == SeatBooking.session_id)
            .where(col(SeatBooking.registration_id) == registration.id)
            .order_by(col(ProgrammeSession.starts_at), col(SeatBooking.created_at))
        )
    ).all()
    choices = (
        await db.execute(
            sa.select(SessionChoice, ProgrammeSession)
            .join(ProgrammeSession, col(ProgrammeSession.id) == SessionChoice.session_id)
            .where(col(SessionChoice.registration_id) == registration.id)
            .order_by(col(ProgrammeSession.starts_at), col(SessionChoice.rank))
        )
    ).all()
    stars = (
        await db.execute(
            sa.select(Star, Proposal)
            .join(Proposal, col(Proposal.id) == Star.proposal_id)
            .where(col(Star.registration_id) == registration.id)
            .order_by(col(Proposal.title))
        )
    ).all()
    return {
        "workshop_seats": [
            {
                "session_id": str(session.id),
                "title": session.title,
                "starts_at": _iso(session.starts_at),
                "ends_at": _iso(session.ends_at),
                "status": seat.status.value,
                "how": seat.source,
                "requested_at": _iso(seat.created_at),
                "updated_at": _iso(seat.updated_at),
            }
            for seat, session in seats
        ],
        "agenda": [
            {
                "title": session.title,
                "starts_at": _iso(session.starts_at),
                "ends_at": _iso(session.ends_at),
                "room": room.name if room is not None else None,
                "why": why,
            }
            for session, room, why in await agenda(db, registration)
        ]
        if registration.status != Status.cancelled
        else [],
        "workshop_choices": [
            {
                "session_id": str(session.id),
                "title": session.title,
                "rank": choice.rank,
                "chosen_at": _iso(choice.created_at),
            }
            for choice, session in choices
        ],
        "talk_stars": [
            {
                "proposal_id": str(proposal.id),
                "title": proposal.title,
                "starred_at": _iso(star.created_at),
            }
            for star, proposal in stars
        ],
        "talk_proposals": await _proposals(db, registration),
    }


async def _proposals(db: AsyncSession, registration: Registration) -> list[dict[str, Any]]:
    """Proposals with a speaker of this registration's email: the proposal and that speaker's own entry only (not
    the co-speakers'). One indexed look-up (proposal_speaker.email_key).

    Only once the delegate has confirmed the address (the link emailed to it, conference/verification.py): anybody
    can register with somebody else's address, and must not download that person's proposals with it."""
    if registration.erased_at is not None:
        return []  # the email is gone, so nothing matches it any more
    if registration.email_verified_at is None:
        return []
    rows = (
        await db.execute(
            sa.select(ProposalSpeaker, Proposal)
            .join(Proposal, col(Proposal.id) == ProposalSpeaker.proposal_id)
            .where(
                col(ProposalSpeaker.email_key) == registration.email_key,
                col(Proposal.conference_id) == registration.conference_id,
            )
            .order_by(col(Proposal.created_at))
        )
    ).all()
    return [
        {
            "proposal_id": str(proposal.id),
            "title": proposal.title,
            "format": proposal.format.value,
            "status": proposal.status.value,
            "submitted_at": _iso(proposal.created_at),
            "you_as_speaker": {
                "name": speaker.name,
                "email": speaker.email,
                "organisation": speaker.organisation,
                "contact_speaker": speaker.position == 0,
                "unavailable_slots": speaker.unavailable_slots,
                "unavailable_days": speaker.unavailable_days,
            },
        }
        for speaker, proposal in rows
    ]


async def erase_sessions(db: AsyncSession, settings: Settings, registration: Registration) -> None:
    """Stars and ranked choices say what one person wanted: they go. Seats stay (anonymous counts); a
    registration that still held a place has already been cancelled, which released them."""
    await db.execute(sa.delete(Star).where(col(Star.registration_id) == registration.id))
    await db.execute(sa.delete(SessionChoice).where(col(SessionChoice.registration_id) == registration.id))
