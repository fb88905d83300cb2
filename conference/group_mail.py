"""The group lead's email when their waitlisted group comes off the waiting list together
(`places.promote_waitlist` queues it): who now has a place and what happens next, with the lead's private link."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from conference.core.models import OutboxEmail
from conference.core.settings import Settings
from conference.group_views import lead_email
from conference.mail import mailtext


async def compose_group_promoted(db: AsyncSession, settings: Settings, row: OutboxEmail) -> tuple[str, str]:
    """To the lead: the group's places have come up, every member's status now, and the lead's private link."""
    lead = await lead_email(db, settings, row)
    group, conference = lead.group, lead.conference
    body = (
        f"Dear {group.lead_name},\n\n"
        f"Good news: places at {conference.name} have come up for your whole group {group.reference}, "
        "so it is no longer on the waiting list. The group now stands as follows:\n\n"
        f"{lead.listed}\n\n"
        "Each of them gets their own email saying so. If there is a payment to make, your page for the group "
        f"shows it:\n{lead.link}\n\n"
        "Keep this link private: anyone with it can change the group's bookings. If colleagues can no longer come, "
        "please cancel their places there so the next people on the waiting list can have them.\n\n"
        f"{conference.name}\n"
    )
    return f"{conference.name}: places for your group {group.reference}", body


def install() -> None:
    """Register the lead's email with the mail queue (called by the composition roots: server/plugins.py)."""
    mailtext.register_kind("group_promoted", compose_group_promoted)
