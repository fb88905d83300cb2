"""The call for talks' emails, composed at send time (so private links are derived, never stored)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from conference.core.models import Conference, OutboxEmail
from conference.core.settings import Settings
from sessions.call.proposals import proposal_url, speakers_of
from sessions.call.review import reviewer_url
from sessions.models import FORMAT_LABELS, Proposal, Reviewer

KEEP_PRIVATE = "Keep this link private: anyone who has it can act on the proposal.\n"


async def _proposal(db: AsyncSession, row: OutboxEmail) -> tuple[Proposal, Conference]:
    proposal = await db.get(Proposal, uuid.UUID(row.context["proposal_id"]))
    conference = await db.get(Conference, proposal.conference_id) if proposal else None
    if proposal is None or conference is None:
        raise LookupError("proposal behind this email no longer exists")
    return proposal, conference


async def _greeting(db: AsyncSession, row: OutboxEmail, proposal: Proposal) -> str:
    position = int(row.context.get("speaker_position", 0))
    speakers = (await speakers_of(db, [proposal.id]))[proposal.id]
    name = next((s.name for s in speakers if s.position == position), "")
    return f"Dear {name},\n\n" if name else "Hello,\n\n"


async def proposal_received(db: AsyncSession, settings: Settings, row: OutboxEmail) -> tuple[str, str]:
    proposal, conference = await _proposal(db, row)
    what = f"{FORMAT_LABELS[proposal.format].lower()}, {proposal.duration_minutes} minutes"
    return f'{conference.name}: we have your proposal "{proposal.title}"', (
        await _greeting(db, row, proposal)
        + f'Thank you for proposing "{proposal.title}" ({what}) for {conference.name}.\n\n'
        "You can view, edit or withdraw it until the call for talks closes:\n"
        f"{proposal_url(settings, proposal)}\n\n"
        + KEEP_PRIVATE
        + "\nReviewers score every proposal after the call closes, and we will email every speaker our decision.\n"
        f"\n{conference.name}\n"
    )


async def proposal_accepted(db: AsyncSession, settings: Settings, row: OutboxEmail) -> tuple[str, str]:
    proposal, conference = await _proposal(db, row)
    contact = int(row.context.get("speaker_position", 0)) == 0
    # Only the contact speaker (who submitted it) gets the link that answers for everyone.
    answer = (
        f"Please confirm that you will give it, or tell us you can't, here:\n{proposal_url(settings, proposal)}\n\n"
        + KEEP_PRIVATE
        if contact
        else "The speaker who submitted it will confirm for all of you from the link we sent them.\n"
    )
    return f'{conference.name}: "{proposal.title}" is accepted', (
        await _greeting(db, row, proposal)
        + f'We are delighted to tell you that "{proposal.title}" has been accepted for {conference.name}.\n\n'
        + answer
        + "\nWe will tell you the time and room once the programme is published.\n"
        f"\n{conference.name}\n"
    )


async def proposal_rejected(db: AsyncSession, settings: Settings, row: OutboxEmail) -> tuple[str, str]:
    proposal, conference = await _proposal(db, row)
    return f'{conference.name}: your proposal "{proposal.title}"', (
        await _greeting(db, row, proposal)
        + f'Thank you for proposing "{proposal.title}". We received many more strong proposals than the programme '
        "has room for, and we are sorry that we cannot include yours this year.\n\n"
        "We hope to see you at the conference, and to hear about your work again next year.\n"
        f"\n{conference.name}\n"
    )


async def reviewer_invited(db: AsyncSession, settings: Settings, row: OutboxEmail) -> tuple[str, str]:
    reviewer = await db.get(Reviewer, uuid.UUID(row.context["reviewer_id"]))
    conference = await db.get(Conference, reviewer.conference_id) if reviewer else None
    if reviewer is None or conference is None:
        raise LookupError("reviewer behind this email no longer exists")
    return f"{conference.name}: please review proposed talks", (
        f"Dear {reviewer.name},\n\nThank you for agreeing to review proposals for {conference.name}.\n\n"
        "Score each proposal from 1 to 5 on relevance, evidence of impact and transferability, with a short "
        f"comment, here:\n{reviewer_url(settings, reviewer)}\n\n"
        "Keep this link private: it signs you in as a reviewer. You can change your scores until the "
        "organisers decide.\n"
        f"\n{conference.name}\n"
    )


COMPOSERS = {
    "proposal_received": proposal_received,
    "proposal_accepted": proposal_accepted,
    "proposal_rejected": proposal_rejected,
    "reviewer_invited": reviewer_invited,
}
