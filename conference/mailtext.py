"""What each email says. Rendered at send time from the registration as it is then."""

from __future__ import annotations

from email.message import EmailMessage
from datetime import datetime
from email.utils import make_msgid
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from conference.models import Conference, OutboxEmail, Registration, Status
from conference.security import manage_token
from conference.settings import Settings

KINDS = {"registration", "promoted", "cancelled", "manage_link", "approved", "rejected", "seat_promoted", "programme_changed", "allocation"}

_STATUS_LINES = {
    Status.confirmed: "Your place is confirmed.",
    Status.pending_payment: "We are holding a place for you until your payment arrives.",
    Status.awaiting_approval: "Your registration is waiting for an organiser's approval; we will email you.",
    Status.waitlisted: "The conference is full, so you are on the waiting list (position {position}). "
    "If a place frees up you will move up automatically and we will email you.",
    Status.cancelled: "This registration is cancelled.",
}


def _local_time(conf: Conference, iso: str | None) -> str:
    if not iso:
        return ""
    when = datetime.fromisoformat(iso).astimezone(ZoneInfo(conf.timezone))
    return when.strftime(" on %A %-d %B at %H:%M")


def manage_url(settings: Settings, registration: Registration) -> str:
    token = manage_token(str(settings.secret_key), registration.id, registration.token_version)
    return f"{settings.base_url}/manage/{token}"


async def render(db: AsyncSession, settings: Settings, row: OutboxEmail) -> EmailMessage:
    registration = await db.get(Registration, row.registration_id) if row.registration_id else None
    conference = await db.get(Conference, registration.conference_id) if registration else None
    subject, body = _compose(settings, row, registration, conference)
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = row.to_address
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(idstring=str(row.id), domain="conference.local")
    message.set_content(body)
    return message


def _compose(
    settings: Settings, row: OutboxEmail, reg: Registration | None, conf: Conference | None
) -> tuple[str, str]:
    if reg is None or conf is None:
        raise LookupError("registration behind this email no longer exists")
    event = conf.name
    link = manage_url(settings, reg)
    status_line = _STATUS_LINES[Status(row.context.get("status", reg.status))].format(
        position=row.context.get("position", "?")
    )
    greeting = f"Dear {reg.name},\n\n"
    footer = (
        f"\nBooking reference: {reg.reference}\n"
        f"View or cancel your booking: {link}\n\n"
        "Keep this link private: anyone who has it can manage your booking.\n"
        f"\n{event}\n"
    )
    if row.kind == "registration":
        return f"{event}: registration {reg.reference}", (
            greeting + f"Thank you for registering for {event}.\n\n{status_line}\n" + footer
        )
    if row.kind == "promoted":
        return f"{event}: a place has come up for you ({reg.reference})", (
            greeting + f"Good news: a place at {event} has come up and it is now yours.\n\n{status_line}\n"
            "If you can no longer come, please cancel so the next person can have it.\n" + footer
        )
    if row.kind == "approved":
        return f"{event}: registration approved ({reg.reference})", (
            greeting + f"An organiser has approved your registration.\n\n{status_line}\n" + footer
        )
    if row.kind == "rejected":
        return f"{event}: registration not approved ({reg.reference})", (
            greeting + "We are sorry: an organiser could not approve your registration for this ticket type.\n"
            "If you think this is a mistake, reply to this email.\n" + f"\nBooking reference: {reg.reference}\n"
        )
    if row.kind == "cancelled":
        return f"{event}: registration cancelled ({reg.reference})", (
            greeting + f"Your registration for {event} has been cancelled. We hope to see you another time.\n"
            f"\nBooking reference: {reg.reference}\n"
        )
    if row.kind == "seat_promoted":
        title = row.context.get("session_title", "a workshop")
        when = _local_time(conf, row.context.get("starts_at"))
        return f"{event}: you have a seat in {title}", (
            greeting + f"A seat has come up in \"{title}\"{when} and it is now yours.\n"
            "If you can no longer go, please give the seat up from your booking page so the next person can.\n"
            + footer
        )
    if row.kind == "programme_changed":
        changes = "\n".join(f"- {line}" for line in row.context.get("changes", []))
        return f"{event}: a change to your programme", (
            greeting + "The programme has changed for sessions you booked:\n\n" + changes + "\n" + footer
        )
    if row.kind == "allocation":
        seats = "\n".join(f"- {line}" for line in row.context.get("seats", [])) or "- none of your choices"
        missed = row.context.get("missed", [])
        more = ("\nWe could not give you any of your choices for: " + "; ".join(missed) + ".\n"
                "Seats left in other workshops can now be booked, first come, first served.\n") if missed else ""
        return f"{event}: your workshop seats", (
            greeting + "Workshop places have been allocated from everybody's ranked choices. Your seats:\n\n"
            + seats + "\n" + more + footer
        )
    if row.kind == "manage_link":
        return f"{event}: your booking link ({reg.reference})", (
            greeting + "You asked for the link to your booking again.\n\n" + status_line + "\n" + footer
        )
    raise ValueError(f"unknown email kind {row.kind!r}")
