"""What each email says. Rendered at send time from the registration as it is then."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import formats, hooks
from conference.core.group_models import GroupBooking
from conference.core.models import Conference, OutboxEmail, PaymentMethod, Registration, Status
from conference.core.security import email_verify_token, manage_token
from conference.core.settings import Settings
from conference.core.text import one_line
from conference.mail import calendar_file, html, outbox

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
    return f" on {formats.when(iso, formats.conference_zone(conf))}"


def manage_url(settings: Settings, registration: Registration) -> str:
    token = manage_token(str(settings.secret_key), registration.id, registration.token_version)
    return f"{settings.base_url}/manage/{token}"


def verify_url(settings: Settings, registration: Registration) -> str:
    """The link that confirms the delegate reads `registration.email` (conference/verification.py)."""
    token = email_verify_token(
        str(settings.secret_key), registration.id, registration.email_key, registration.token_version
    )
    return f"{settings.base_url}/verify-email/{token}"


# Emails that tell a delegate about their place: they say when and where the event is, and once the place is
# confirmed they carry the e-ticket (a link, and its PDF attached) and the event as a calendar file.
_ABOUT_THE_EVENT = {
    "registration",
    "promoted",
    "approved",
    "payment_confirmed",
    "email_verified",
    "manage_link",
}
_NO_ATTACHMENTS = {"manage_link"}  # asked for again from the lost-link form: the link is what they asked for


@dataclass
class _Extras:
    """What a delegate's email says that is looked up when it is sent (the waiting list moves on meanwhile)."""

    position: int | None = None
    ticket_link: str | None = None
    # A member of a group booking: who pays for the place ("Lena Lead (Leeds City Council)"), not the member.
    group_payer: str | None = None
    attachments: list[Attachment] = field(default_factory=list)


async def _waitlist_position(db: AsyncSession, registration: Registration) -> int | None:
    # As conference.places.waitlist_position counts it (this layer sits below places).
    if registration.status != Status.waitlisted:
        return None
    stmt = sa.select(sa.func.count()).where(
        col(Registration.conference_id) == registration.conference_id,
        col(Registration.status) == Status.waitlisted,
        col(Registration.number) <= registration.number,
    )
    return int((await db.execute(stmt)).scalar_one())


async def _extras(
    db: AsyncSession, settings: Settings, row: OutboxEmail, reg: Registration | None, conf: Conference | None
) -> _Extras:
    if reg is None or conf is None or row.kind in COMPOSERS:
        return _Extras()
    extras = _Extras(position=await _waitlist_position(db, reg))
    group = await db.get(GroupBooking, reg.group_id) if reg.group_id is not None else None
    if group is not None:
        extras.group_payer = f"{group.lead_name} ({group.organisation})"
    if row.kind not in _ABOUT_THE_EVENT or reg.status != Status.confirmed:
        return extras
    token = manage_token(str(settings.secret_key), reg.id, reg.token_version)
    path = hooks.ticket_path(token)
    extras.ticket_link = f"{settings.base_url}{path}" if path else None
    if row.kind in _NO_ATTACHMENTS:
        return extras
    ticket = await hooks.ticket_pdf(db, settings, reg)
    if ticket is None:
        extras.ticket_link = None  # no ticket after all (its maker says the place admits nobody)
    else:
        extras.attachments.append(ticket)
    extras.attachments.append(
        (
            "event.ics",
            calendar_file.event_ics(
                conf, base_url=settings.base_url, description=f"Booking reference: {reg.reference}"
            ),
        )
    )
    return extras


async def _sender(db: AsyncSession, settings: Settings, conference: Conference | None) -> tuple[str, str]:
    """The From header, with the event's name as the display name (the address is CONFERENCE_MAIL_FROM's), and
    that name (the HTML part's heading)."""
    if conference is None:  # an email about no registration (a console account, a reviewer): the one event
        conference = (await db.execute(sa.select(Conference).order_by(col(Conference.id)).limit(1))).scalar()
    name, address = parseaddr(settings.mail_from)
    event = one_line(conference.name) if conference is not None and conference.name.strip() else ""
    display = event or name
    if not address:
        return settings.mail_from, display
    return str(Address(display_name=display, addr_spec=address)), display


async def render(db: AsyncSession, settings: Settings, row: OutboxEmail) -> EmailMessage:
    registration = await db.get(Registration, row.registration_id) if row.registration_id else None
    conference = await db.get(Conference, registration.conference_id) if registration else None
    attachments: list[Attachment] = []
    if row.kind in COMPOSERS:
        composed = await COMPOSERS[row.kind](db, settings, row)
        subject, body = composed[0], composed[1]
        if len(composed) == 3:
            attachments.append(composed[2])
    else:
        extras = await _extras(db, settings, row, registration, conference)
        subject, body = _compose(settings, row, registration, conference, extras)
        attachments += extras.attachments
    sender, event = await _sender(db, settings, conference)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.to_address
    # One line, whatever the text in it (a title stored with a line break stopped every email carrying it).
    message["Subject"] = one_line(subject)
    message["Message-ID"] = make_msgid(idstring=str(row.id), domain="conference.local")
    # Plain text first, then the same words as HTML (clients show the last part they can read).
    message.set_content(body)
    message.add_alternative(html.from_text(body, heading=event), subtype="html")
    for filename, content in attachments:
        if filename.endswith(".ics"):
            message.add_attachment(
                content, maintype="text", subtype="calendar", filename=filename, params={"method": "PUBLISH"}
            )
        else:
            message.add_attachment(content, maintype="application", subtype="pdf", filename=filename)
    return message


def _event_block(conf: Conference, extras: _Extras) -> str:
    """When and where, how to get there, and the ticket once there is one (an email about the place)."""
    lines = [f"When: {calendar_file.event_dates(conf)}"]
    venue = calendar_file.venue_lines(conf)
    if venue:
        lines.append("Where: " + "\n".join(venue))
    if conf.travel_notes.strip():
        lines.append("\nGetting there:\n" + conf.travel_notes.strip())
    text = "\n" + "\n".join(lines) + "\n"
    if extras.ticket_link:
        attached = [name for name, _ in extras.attachments]
        text += f"\nYour ticket: {extras.ticket_link}\n" + (
            "Show its QR code at the door, on your phone or printed"
            + (" (the ticket is attached as a PDF)" if any(n.endswith(".pdf") for n in attached) else "")
            + ".\n"
        )
        if "event.ics" in attached:
            text += "The calendar file attached (event.ics) adds the event to your calendar.\n"
    return text


def _next_step(reg: Registration, conf: Conference, status: Status, group_payer: str | None = None) -> str:
    """What a delegate given a place has to do now: pay, wait, or nothing (a group's member never pays)."""
    if status == Status.confirmed:
        return "There is nothing more you need to do: we look forward to seeing you.\n"
    if status == Status.pending_payment and group_payer:
        return (
            f"What to do next: nothing for you; your group's organiser, {group_payer}, pays for the place, "
            "and it is confirmed once their payment arrives.\n"
        )
    if status == Status.pending_payment and reg.payment_method == PaymentMethod.card:
        held = reg.hold_expires_at
        until = f" by {formats.when(held, formats.conference_zone(conf))}" if held else ""
        return (
            f"What to do next: pay by card{until} to keep the place. Open your booking with the link below and "
            'press "Pay now". If it is not paid in time, the place goes to the next person waiting.\n'
        )
    if status == Status.pending_payment:
        return (
            "What to do next: nothing for you; we are sending the invoice to your organisation's billing "
            "contact, and the place is confirmed once it is paid.\n"
        )
    return ""


def _compose(
    settings: Settings, row: OutboxEmail, reg: Registration | None, conf: Conference | None, extras: _Extras
) -> tuple[str, str]:
    if reg is None or conf is None:
        raise LookupError("registration behind this email no longer exists")
    event = conf.name
    link = manage_url(settings, reg)
    status = Status(row.context.get("status", reg.status))
    # The position as it is now (the list moves up while an email waits), else as it was when queued.
    position = extras.position if extras.position is not None else row.context.get("position")
    status_line = _STATUS_LINES[status].format(position=position if position is not None else "?")
    if status == Status.pending_payment and extras.group_payer:
        status_line = (
            f"Your place is paid for by your group's organiser, {extras.group_payer}: we are holding it until "
            "their payment arrives. There is nothing for you to pay."
        )
    greeting = f"Dear {reg.name},\n\n"
    footer = (
        f"\nBooking reference: {reg.reference}\n"
        f"View or cancel your booking: {link}\n\n"
        "Keep this link private: anyone who has it can manage your booking.\n"
        f"\n{event}\n"
    )
    if row.kind in _ABOUT_THE_EVENT:
        footer = _event_block(conf, extras) + footer
    if row.kind == "registration":
        if row.context.get("transferred"):  # an organiser moved a colleague's place to this delegate
            opening = f"A colleague's place at {event} has been transferred to you."
        elif row.context.get("resent"):
            opening = f"Here is your registration for {event} again."
        elif row.context.get("by_hand"):  # an organiser booked the place (conference/bookings.py)
            opening = f"An organiser has registered you for {event}."
        else:
            opening = f"Thank you for registering for {event}."
        return f"{event}: registration {reg.reference}", (greeting + f"{opening}\n\n{status_line}\n" + footer)
    if row.kind == "promoted":
        return f"{event}: a place has come up for you ({reg.reference})", (
            greeting
            + f"Good news: a place at {event} has come up and it is now yours.\n\n{status_line}\n"
            + _next_step(reg, conf, status, extras.group_payer)
            + "If you can no longer come, please cancel so the next person can have it.\n"
            + footer
        )
    if row.kind == "approved":
        return f"{event}: registration approved ({reg.reference})", (
            greeting
            + f"An organiser has approved your registration.\n\n{status_line}\n"
            + _next_step(reg, conf, status, extras.group_payer)
            + footer
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
        if extras.group_payer:
            paid = f"Your group's organiser, {extras.group_payer}, has paid for your place"
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
    expires = reg.verify_expires_at
    deadline = f" by {formats.when(expires, formats.conference_zone(conf))}" if expires else ""
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
        + ("You have" if row.context.get("by") == "attendee" else "An organiser has")
        + f" transferred your place at {event} (booking reference {registration.reference}) to "
        "a colleague.\n\nThe link you had to manage the booking and your badge no longer work, and we will not "
        "email you about this booking again.\nIf you did not expect this, reply to this email.\n"
        f"\n{event}\n"
    )


register_kind(PLACE_TRANSFERRED, _place_transferred)
