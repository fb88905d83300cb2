"""A delegate's own changes to their booking, from their manage link: correcting their details, and handing the
place to a colleague. Both are open until the organisers' deadline for changes, the one that also closes changes
to the answers (`Conference.answers_editable_until`, set on the console's questions page; without one, until the
conference starts): one date for "changes to your booking", not three.

Both run the organisers' own services (conference/delegates.py), so their rules hold here too: an email change is
confirmed again; a transfer keeps the place (ticket, payment, invoices, seats) and reissues the manage link and the
badge, forgets the first request's Idempotency-Key records (a replay cannot hand the colleague's link back) and
withdraws mail still queued for the previous holder. What a delegate's own change adds:

- the manage link is checked again under the capacity lock, so of two requests made with one link, the one that
  comes second after a transfer finds the link gone (InvalidManageLink) instead of acting for the colleague;
- the deadline, and a cancelled booking, refused with a sentence saying so;
- a new address at the holder's own email domain, unless the organisers allow any (`Conference.transfer_any_domain`):
  a place booked for an organisation stays with it. The same rule covers an email change, or a delegate could hand
  the place over by changing the name and address. A ticket approved by email domain keeps to its domains;
- an address that already has a booking is refused without saying whose (the organisers' message names it).

Audited through the organisers' services, with the delegate as the actor (`attendee:<reference>`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference import answers, delegates, places
from conference.core import errors
from conference.core.audit import Actor
from conference.core.models import Approval, Conference, Registration, Status, TicketType
from conference.core.security import hash_token
from conference.core.settings import Settings

# What the transfer form asks about the colleague; their dietary and access needs are theirs to give, from their
# own link (the previous holder's are cleared).
TRANSFER_FIELDS = ("name", "email", "organisation", "job_title", "sector", "region")


class InvalidManageLink(errors.NotFound):
    message = (
        "This booking link is not valid: it may have been replaced by a newer one. Ask for a new link below."
    )


class ChangesClosed(errors.DomainError):
    code = "changes_closed"
    message = (
        "Your booking can no longer be changed online: the deadline for changes has passed. "
        "If something has changed, contact the organisers."
    )


class BookingCancelled(errors.AlreadyCancelled):
    message = "This booking is cancelled, so there is nothing to change or transfer."


def editable_until(conference: Conference) -> datetime:
    return answers.editable_until(conference)


def can_change(registration: Registration, conference: Conference, now: datetime | None = None) -> bool:
    """Details, answers and the place itself may be changed by the delegate (not cancelled, not erased, before the
    deadline)."""
    return answers.can_change(registration, conference, now)


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower()


def parse_own_details(values: dict[str, Any]) -> dict[str, Any]:
    """The delegate's corrected details, checked by the registration form's rules (delegates.parse_details), in
    the delegate's own words where the organisers' differ."""
    try:
        return delegates.parse_details(values)
    except errors.InvalidInput as exc:
        fields = dict(exc.fields or {})
        if "sector" in fields and not str(values.get("sector", "")).strip():
            fields["sector"] = "Choose the sector you work in."
        raise errors.InvalidInput(fields=fields) from None


def parse_colleague(values: dict[str, Any]) -> dict[str, Any]:
    """The colleague's details from the transfer form, and the box that says the holder knows what follows.
    Raises InvalidInput naming every field at fault at once."""
    problems: dict[str, str] = {}
    details: dict[str, Any] = {}
    try:
        details = delegates.parse_details(
            {**{name: values.get(name, "") for name in TRANSFER_FIELDS}, "dietary": "", "access_needs": ""}
        )
    except errors.InvalidInput as exc:
        problems = dict(exc.fields or {})
        if "sector" in problems and not str(values.get("sector", "")).strip():
            problems["sector"] = "Choose the sector your colleague works in."
        if "email" in problems and not str(values.get("email", "")).strip():
            problems["email"] = "Give your colleague's email address."
    if values.get("confirm") != "yes":
        problems["confirm"] = "Tick the box to confirm that your place, and this link, go to your colleague."
    if problems:
        raise errors.InvalidInput(fields=problems)
    return details


def _parsed(
    parse: Callable[[dict[str, Any]], dict[str, Any]], values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """What `parse` makes of the form, or its problems by field (named with the address's, all at once)."""
    try:
        return parse(values), {}
    except errors.InvalidInput as exc:
        return {}, dict(exc.fields or {})


async def _open_by_link(db: AsyncSession, token: str) -> tuple[Conference, Registration]:
    """The capacity lock, then the registration this link opens, locked: InvalidManageLink when none does now (a
    transfer or an erasure reissued it since the page was opened); BookingCancelled or ChangesClosed when the
    delegate may not change it."""
    assert db.in_transaction()
    conference = await places.get_conference(db, for_update=True)
    registration = (
        await db.execute(
            sa.select(Registration)
            .where(col(Registration.manage_token_hash) == hash_token(token))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if registration is None or registration.erased_at is not None:
        raise InvalidManageLink()
    if registration.status == Status.cancelled:
        raise BookingCancelled()
    if not can_change(registration, conference):
        raise ChangesClosed()
    return conference, registration


async def _address_problem(
    db: AsyncSession, conference: Conference, registration: Registration, email: str, *, transfer: bool
) -> errors.DomainError | None:
    """Why the delegate may not give the booking this new address, if they may not (call with the capacity lock
    held)."""
    domain, own = email_domain(email), email_domain(registration.email)
    if domain != own:
        if not conference.transfer_any_domain:
            text = (
                f"Give your colleague's address at @{own}: a place goes to someone in the same organisation."
                if transfer
                else f"Keep an address at @{own}: a booking stays with its organisation."
            )
            return errors.InvalidInput(
                fields={
                    "email": text + " The organisers can make the change for you if it needs to be otherwise."
                }
            )
        ticket = await db.get(TicketType, registration.ticket_type_id)
        if (
            ticket is not None
            and ticket.approval == Approval.domain
            and not places.domain_approved(ticket, email)
        ):
            allowed = ", ".join(d.strip() for d in ticket.approval_domains.split(",") if d.strip())
            return errors.InvalidInput(
                fields={
                    "email": f"The {ticket.name} ticket is for addresses at {allowed}: give one of those, or ask "
                    "the organisers."
                }
            )
    taken = (
        await db.execute(
            sa.select(col(Registration.id))
            .where(
                col(Registration.conference_id) == registration.conference_id,
                col(Registration.email_key) == email.lower(),
                col(Registration.status) != Status.cancelled,
                col(Registration.id) != registration.id,
            )
            .limit(1)
        )
    ).scalar_one_or_none()
    if taken is not None:
        # Never whose booking it is: the delegate learns only that this address cannot take another one.
        text = (
            "This address already has its own booking for the conference, so it cannot take yours too."
            if transfer
            else "This address already has a booking for the conference: give another one."
        )
        return errors.AlreadyRegistered(text, fields={"email": text})
    return None


def _actor(registration: Registration) -> Actor:
    return Actor("attendee", registration.reference, registration.id)


def _typed_email(values: dict[str, Any], problems: dict[str, str]) -> str | None:
    """The new address as typed, when the form's own checks passed it (else None: its problem is named already)."""
    return None if "email" in problems else str(values.get("email", "")).strip()


def _refuse(problems: dict[str, str], order: tuple[str, ...], address: errors.DomainError | None) -> None:
    """Every problem at once: the form's, and the address's (which keeps its own status when it is the only one)."""
    if address is not None and not problems:
        raise address
    if address is not None:
        problems = {**problems, **(address.fields or {"email": address.message})}
    if problems:
        raise errors.InvalidInput(
            fields={
                k: problems[k]
                for k in sorted(problems, key=lambda k: order.index(k) if k in order else len(order))
            }
        )


@dataclass(frozen=True)
class DetailsChanged:
    changed: list[str]  # the names of the fields that changed
    email_changed: bool


async def change_own_details(
    db: AsyncSession, *, settings: Settings, token: str, values: dict[str, Any]
) -> DetailsChanged:
    """The delegate corrects their details (the form's `values`) through their manage link, until the deadline.
    Every problem is named at once, the form's and the new address's; a new address goes through confirmation
    again, as when an organiser changes it."""
    conference, registration = await _open_by_link(db, token)
    details, problems = _parsed(parse_own_details, values)
    email = _typed_email(values, problems)
    new_address = email is not None and email.lower() != registration.email_key
    address = (
        await _address_problem(db, conference, registration, email, transfer=False)
        if email is not None and new_address
        else None
    )
    _refuse(problems, delegates.FIELDS, address)
    changed = await delegates.edit_details(
        db, settings=settings, registration_id=registration.id, details=details, actor=_actor(registration)
    )
    return DetailsChanged(changed, new_address and "email" in changed)


@dataclass(frozen=True)
class Transferred:
    registration_id: uuid.UUID
    reference: str
    name: str  # the colleague's, for the previous holder's page


async def transfer_place(
    db: AsyncSession, *, settings: Settings, token: str, values: dict[str, Any]
) -> Transferred:
    """The delegate hands their place to a colleague (the transfer form's `values`), until the deadline: the
    colleague gets their own link and ticket, and this link, the badge and any replay of the first request stop
    working. Every problem is named at once."""
    conference, registration = await _open_by_link(db, token)
    colleague, problems = _parsed(parse_colleague, values)
    email = _typed_email(values, problems)
    address: errors.DomainError | None = None
    if email is not None and email.lower() == registration.email_key:
        address = errors.InvalidInput(
            fields={"email": "This is your own address: give your colleague's email address."}
        )
    elif email is not None:
        address = await _address_problem(db, conference, registration, email, transfer=True)
    _refuse(problems, (*TRANSFER_FIELDS, "confirm"), address)
    actor = _actor(registration)  # the reference stays with the place; the actor is the holder who acted
    moved = await delegates.substitute(
        db, settings=settings, registration_id=registration.id, details=colleague, actor=actor
    )
    return Transferred(moved.id, moved.reference, moved.name)
