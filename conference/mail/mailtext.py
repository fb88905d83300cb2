"""What each email says. Rendered at send time from the registration as it is then."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from conference.core.models import Conference, OutboxEmail, Registration, Status
from conference.core.security import email_verify_token, manage_token
from conference.core.settings import Settings
from conference.core.text import one_line
from conference.mail import outbox

# Kinds composed elsewhere (conference.invoices.emails; sessions: the call for talks): a subject, a body,
# and optionally an attachment (a file name and a PDF).
Attachment = tuple[str, bytes]
Composed = tuple[str, str] | tuple[str, str, Attachment]
Composer = Callable[[AsyncSession, Settings, OutboxEmail], Awaitable[Composed]]
COMPOSERS: dict[str, Composer] = {}


class Undeliverable(Exception):
    """Raised by a composer when the message can never be sent (e.g. its recipient's data was erased): the mail
    queue gives up at once instead of retrying."""


def register_kind(kind: str, composer: Composer) -> None:
    outbox.KINDS.add(kind)
    COMPOSERS[kind] = composer


_STATUS_LINES = {
    Status.confirmed: "Your place is confirmed.",
    Status.pending_payment: "We are holding a place for you until your payment arrives.",
    Status.awaiting_approval: "Your registration is waiting for an organiser's approval; we will email you.",
    Status.waitlisted: "The conference is full, so you are on the waiting list (position {position}). "
    "If a place frees up you will move up automatically and we will email you.",
    Status.cancelled: "This registration is cancelled.",
    Status.awaiting_verification: "We are holding a place for you until you confirm your email address with the link "
    "we have sent to it.",
}


def _local_time(conf: Conference, iso: str | None) -> str:
    if not iso:
        return ""
    when = datetime.fromisoformat(iso).astimezone(ZoneInfo(conf.timezone))
    return when.strftime(" on %A %-d %B at %H:%M")


def manage_url(settings: Settings, registration: Registration) -> str:
    token = manage_token(str(settings.secret_key), registration.id, registration.token_version)
    return f"{settings.base_url}/manage/{token}"


def verify_url(settings: Settings, registration: Registration) -> str:
    """The link that confirms the delegate reads `registration.email` (conference/verification.py)."""
    token = email_verify_token(
        str(settings.secret_key), registration.id, registration.email_key, registration.token_version
    )
    return f"{settings.base_url}/verify-email/{token}"


async def render(db: AsyncSession, settings: Settings, row: OutboxEmail) -> EmailMessage:
    registration = await db.get(Registration, row.registration_id) if row.registration_id else None
    conference = await db.get(Conference, registration.conference_id) if registration else None
    attachment: tuple[str, bytes] | None = None
    if row.kind in COMPOSERS:
        composed = await COMPOSERS[row.kind](db, settings, row)
        subject, body = composed[0], composed[1]
        if len(composed) == 3:
            attachment = composed[2]
    else:
        subject, body = _compose(settings, row, registration, conference)
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = row.to_address
    # One line, whatever the text in it (a title stored with a line break stopped every email carrying it).
    message["Subject"] = one_line(subject)
    message["Message-ID"] = make_msgid(idstring=str(row.id), domain="conference.local")
    message.set_content(body)
    if attachment is not None:
        filename, content = attachment
        message.add_attachment(content, maintype="application", subtype="pdf", filename=filename)
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
        if row.context.get("transferred"):  # an organiser moved a colleague's place to this delegate
            opening = f"A colleague's place at {event} has been transferred to you."
        elif row.context.get("resent"):
            opening = f"Here is your registration for {event} again."
        else:
            opening = f"Thank you for registering for {event}."
        return f"{event}: registration {reg.reference}", (greeting + f"{opening}\n\n{status_line}\n" + footer)
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
            greeting
            + "We are sorry: an organiser could not approve your registration for this ticket type.\n"
            "If you think this is a mistake, reply to this email.\n"
            + f"\nBooking reference: {reg.reference}\n"
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
            greeting + f'A seat has come up in "{title}"{when} and it is now yours.\n'
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
        more = (
            (
                "\nWe could not give you any of your choices for: " + "; ".join(missed) + ".\n"
                "Seats left in other workshops can now be booked, first come, first served.\n"
            )
            if missed
            else ""
        )
        return f"{event}: your workshop seats", (
            greeting
            + "Workshop places have been allocated from everybody's ranked choices. Your seats:\n\n"
            + seats
            + "\n"
            + more
            + footer
        )
    if row.kind == "payment_confirmed":
        number = row.context.get("number")
        paid = f"Payment of invoice {number} has arrived" if number else "We have received your payment"
        return f"{event}: payment received, your place is confirmed ({reg.reference})", (
            greeting + f"{paid}, so your place at {event} is confirmed.\n" + footer
        )
    if row.kind in {"hold_expired", "payment_failed"}:
        why = (
            "The time we held your place for the card payment has run out"
            if row.kind == "hold_expired"
            else "Your card payment did not go through"
        )
        return f"{event}: your place has been released ({reg.reference})", (
            greeting + f"{why}, so the place has gone to the next person waiting. Nothing has been charged.\n"
            "If you still want to come, register again from the conference page.\n"
            + f"\nBooking reference: {reg.reference}\n"
        )
    if row.kind in {"refunded", "late_payment_refunded"}:
        amount = row.context.get("amount_pence")
        sum_ = f"£{amount / 100:,.2f}" if isinstance(amount, int) else "your payment"
        why = (
            "Your payment arrived after the time we held your place had run out, and the conference is now "
            "full, so we could not give you a place"
            if row.kind == "late_payment_refunded"
            else "Your registration has been cancelled"
        )
        return f"{event}: refund of {sum_} ({reg.reference})", (
            greeting + f"{why}. We are refunding {sum_} in full to the card you paid with; it usually shows "
            "within 5 to 10 working days.\n" + f"\nBooking reference: {reg.reference}\n"
        )
    if row.kind == "manage_link":
        return f"{event}: your booking link ({reg.reference})", (
            greeting + "You asked for the link to your booking again.\n\n" + status_line + "\n" + footer
        )
    if row.kind == "verify_email":
        return _verify_email(settings, row, reg, conf, greeting, footer)
    if row.kind == "email_verified":
        return f"{event}: email address confirmed ({reg.reference})", (
            greeting + f"Thank you for confirming your email address.\n\n{status_line}\n" + footer
        )
    if row.kind == "verification_expired":
        return f"{event}: your place has been released ({reg.reference})", (
            greeting
            + "The email address you registered with was not confirmed in time, so the place we held "
            "for you has gone to the next person waiting.\n"
            "If you still want to come, register again from the conference page.\n"
            + f"\nBooking reference: {reg.reference}\n"
        )
    raise ValueError(f"unknown email kind {row.kind!r}")


def _verify_email(
    settings: Settings, row: OutboxEmail, reg: Registration, conf: Conference, greeting: str, footer: str
) -> tuple[str, str]:
    # The link proves the address it is sent to: never send it to an address the registration no longer has (an
    # organiser corrected it after this was queued; the new address gets its own).
    if row.to_address.lower() != reg.email_key:
        raise Undeliverable("the registration's email address changed after this email was queued")
    event, link = conf.name, verify_url(settings, reg)
    if row.context.get("requested"):  # a delegate asked from their booking page; the place is not at stake
        return f"{event}: confirm your email address ({reg.reference})", (
            greeting
            + f"You asked to confirm the email address of your booking for {event}. Follow this link "
            f"and press the button on the page:\n\n{link}\n\n"
            "Once it is confirmed, the copy of your data also lists talk proposals made under this address.\n"
            "If you did not ask for this, you can ignore this email.\n" + footer
        )
    if row.context.get("promoted"):
        opening = f"Good news: a place at {event} has come up for you."
    elif row.context.get("transferred"):
        opening = f"A colleague's place at {event} has been transferred to you."
    elif row.context.get("resent"):
        opening = f"Here is your registration for {event} again."
    else:
        opening = f"Thank you for registering for {event}."
    deadline = (
        reg.verify_expires_at.astimezone(ZoneInfo(conf.timezone)).strftime(" by %H:%M on %A %-d %B")
        if reg.verify_expires_at
        else ""
    )
    return f"{event}: confirm your email address to keep your place ({reg.reference})", (
        greeting
        + f"{opening}\n\nYour email address lets us give you the place without an organiser's approval, "
        f"once you confirm that it is yours. Follow this link{deadline} and press the button on the page:\n\n"
        f"{link}\n\nWe are holding the place for you until then; if the link is not followed in time, the place "
        "goes to the next person waiting.\nIf you did not register, ignore this email and the place will be "
        "released.\n" + footer
    )


# An organiser transferred the place to a colleague (conference/delegates.py): to the previous delegate, named from
# the context (the registration now holds the colleague's details, none of which this email may show).
PLACE_TRANSFERRED = "place_transferred"


async def _place_transferred(db: AsyncSession, settings: Settings, row: OutboxEmail) -> tuple[str, str]:
    registration = await db.get(Registration, row.registration_id) if row.registration_id else None
    conference = await db.get(Conference, registration.conference_id) if registration else None
    if registration is None or conference is None:
        raise LookupError("registration behind this email no longer exists")
    name = str(row.context.get("name", ""))
    event = conference.name
    return f"{event}: your place has been transferred ({registration.reference})", (
        (f"Dear {name},\n\n" if name else "Hello,\n\n")
        + f"An organiser has transferred your place at {event} (booking reference {registration.reference}) to "
        "a colleague.\n\nThe link you had to manage the booking and your badge no longer work, and we will not "
        "email you about this booking again.\nIf you did not expect this, reply to this email.\n"
        f"\n{event}\n"
    )


register_kind(PLACE_TRANSFERRED, _place_transferred)
