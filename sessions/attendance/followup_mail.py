"""The after-event emails' words, composed when each is sent (followup.py queues them).

certificate_ready attaches the delegate's current certificate as a PDF, with links to its page
(/manage/{token}/certificate) and its verification address; feedback_invite lists the sessions they can rate and
links /manage/{token}/feedback. Links are derived at send time, never stored.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from conference.core import formats
from conference.core.models import Conference, OutboxEmail, Registration
from conference.core.settings import Settings
from conference.mail.mailtext import Composed, Composer, Undeliverable, manage_url
from sessions.attendance.certificate_pdf import certificate_file_name, render_certificate
from sessions.attendance.certificates import current_certificate, verify_url
from sessions.attendance.followup import CERTIFICATE_READY, FEEDBACK_INVITE
from sessions.models.attendance import AfterEventSettings
from sessions.workshops.attended import attended_by

KEEP_PRIVATE = "Keep this link private: anyone who has it can see your booking.\n"


async def _delegate(db: AsyncSession, row: OutboxEmail) -> tuple[Registration, Conference]:
    registration = await db.get(Registration, row.registration_id) if row.registration_id else None
    conference = await db.get(Conference, registration.conference_id) if registration else None
    if registration is None or conference is None:
        raise Undeliverable("the registration behind this email no longer exists")
    if registration.erased_at is not None:
        raise Undeliverable("the delegate's personal data has been erased")
    return registration, conference


def hours(minutes: int) -> str:
    """CPD minutes in words: "5 hours 30 minutes", "1 hour", "45 minutes"."""
    h, m = divmod(max(0, minutes), 60)
    parts = [f"{h} hour{'' if h == 1 else 's'}"] if h else []
    if m or not parts:
        parts.append(f"{m} minute{'' if m == 1 else 's'}")
    return " ".join(parts)


async def certificate_ready(db: AsyncSession, settings: Settings, row: OutboxEmail) -> Composed:
    registration, conference = await _delegate(db, row)
    certificate = await current_certificate(db, registration.id)
    if certificate is None:
        raise Undeliverable("the delegate has no current certificate (withdrawn since this was queued)")
    link = manage_url(settings, registration)
    check = verify_url(settings, certificate.code)
    pdf = render_certificate(certificate, conference=conference, verify_url=check)
    zone = formats.conference_zone(conference)
    event = conference.name
    corrected = bool(row.context.get("corrected"))
    opening = (
        f"We have corrected your certificate of attendance for {event}: this one replaces the one we sent "
        "before, whose code no longer verifies.\n"
        if corrected
        else f"Thank you for coming to {event}. Your certificate of attendance is attached.\n"
    )
    sessions = "\n".join(
        f"- {s.get('title', '')} ({formats.span(s.get('starts_at'), s.get('ends_at'), zone)})"
        for s in certificate.sessions
    )
    subject = f"{event}: your {'corrected ' if corrected else ''}certificate of attendance ({registration.reference})"
    body = (
        f"Dear {registration.name},\n\n"
        + opening
        + f"\nCPD hours: {hours(certificate.cpd_minutes)}\n"
        + (
            f"\nThe sessions it lists, as verified at the door and in the rooms:\n{sessions}\n"
            if sessions
            else ""
        )
        + f"\nAnyone, your employer for instance, can check it is genuine at:\n{check}\n"
        + f"\nYour certificate online, to download again: {link}/certificate\n"
        + KEEP_PRIVATE
        + f"\nBooking reference: {registration.reference}\n\n{event}\n"
    )
    return subject, body, (certificate_file_name(certificate), pdf)


async def feedback_invite(db: AsyncSession, settings: Settings, row: OutboxEmail) -> Composed:
    registration, conference = await _delegate(db, row)
    assert conference.id is not None
    # Read, not made: the mail sender composes in a read transaction (no settings row: the defaults').
    rules = await db.get(AfterEventSettings, conference.id)
    zone = formats.conference_zone(conference)
    attended = await attended_by(
        db,
        conference_id=conference.id,
        registration_id=registration.id,
        plenaries_on_door_scan=rules.plenaries_on_door_scan if rules else True,
        zone=zone,
    )
    event = conference.name
    link = f"{manage_url(settings, registration)}/feedback"
    listed = "\n".join(f"- {a.title} ({formats.span(a.starts_at, a.ends_at, zone)})" for a in attended)
    body = (
        f"Dear {registration.name},\n\n"
        f"Thank you for coming to {event}. Tell us how it went: rate the sessions you attended, from 1 to 5, "
        "and the event as a whole. It takes a few minutes, and you can change your answers for a week.\n"
        + (f"\nThe sessions you can rate:\n{listed}\n" if listed else "")
        + f"\nGive your feedback here: {link}\n"
        + "Your answers are anonymous: speakers and organisers see them without your name.\n"
        + f"\nThe slides and resources the speakers shared are in the best-practice library: "
        f"{manage_url(settings, registration)}/library\n"
        + KEEP_PRIVATE
        + f"\nBooking reference: {registration.reference}\n\n{event}\n"
    )
    return f"{event}: tell us how it went", body


COMPOSERS: dict[str, Composer] = {CERTIFICATE_READY: certificate_ready, FEEDBACK_INVITE: feedback_invite}
