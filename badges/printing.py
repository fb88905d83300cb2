"""Which badges to print and in what order, and recording that they were printed.

Badges are for CONFIRMED registrations only. A place held while a card payment, an invoice, an approval or the
delegate's confirmation of their email address is outstanding (pending_payment, awaiting_approval,
awaiting_verification) may never turn into an attendee, and the door would answer `unpaid` to its code anyway: printing it would waste badge stock and put a genuine-looking badge in the hands
of someone who may not be coming. Once confirmed, `not_printed` picks them up in the next print run.

Sheets are sorted by surname, then the given names: the surname is the name's last word (so "Ó Briain"
files under B), compared without case or accents (Évans with Evans), and a single name is its own surname.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterable
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from badges.codes import BadgeSigner
from badges.render import BadgeData
from conference import answers
from conference.core import audit, errors
from conference.core.audit import SYSTEM, Actor
from conference.core.models import Registration, Status, TicketType, utcnow
from conference.questions import all_questions

__all__ = ["PRINTABLE", "NoBadges", "NoPlace", "badge_data", "badge_for", "mark_printed", "surname_key"]

PRINTABLE = (Status.confirmed,)

_NO_PLACE = {
    Status.pending_payment: "This place is waiting for payment; the badge is ready once it is paid.",
    Status.awaiting_approval: "This registration is waiting for an organiser's approval; the badge is ready "
    "once it is approved.",
    Status.awaiting_verification: "This place is held until the delegate confirms their email address; the badge "
    "is ready once they have.",
    Status.waitlisted: "This registration is on the waiting list and holds no place yet, so it has no badge.",
    Status.cancelled: "This registration is cancelled, so it has no badge.",
}


class NoPlace(errors.DomainError):
    code = "no_place"
    message = "Only a confirmed place has a badge."


class NoBadges(errors.DomainError):
    status_code = 404
    code = "no_badges"
    message = "No confirmed registrations match these filters, so there are no badges to print."


def _fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def surname_key(name: str) -> tuple[str, str]:
    """(surname, given names), folded for sorting: "Siân Evans" → ("evans", "sian"); "Cher" → ("cher", "")."""
    words = name.split()
    if not words:
        return ("", "")
    return (_fold(words[-1]), _fold(" ".join(words[:-1])))


def _badge(
    signer: BadgeSigner,
    r_id: uuid.UUID,
    reference: str,
    name: str,
    organisation: str,
    ticket_type: str,
    version: int,
    details: list[str] | None = None,
) -> BadgeData:
    return BadgeData(
        reference=reference,
        name=name,
        organisation=organisation,
        ticket_type=ticket_type,
        code=signer.code_for(reference, version),
        registration_id=r_id,
        details=details or [],
    )


async def badge_data(
    db: AsyncSession,
    signer: BadgeSigner,
    *,
    ticket_type: str | None = None,
    organisation: str | None = None,
    not_printed: bool = False,
    registration_id: uuid.UUID | None = None,
) -> list[BadgeData]:
    """Badges for confirmed registrations, surname order.

    `ticket_type` matches a ticket type's name (any case) or its id; `organisation` matches the organisation
    exactly but for case and spacing; `not_printed` leaves out badges already printed. Both text filters are
    compared here rather than in SQL, so SQLite and PostgreSQL fold non-ASCII letters alike.
    """
    stmt = (
        sa.select(
            col(Registration.id),
            col(Registration.reference),
            col(Registration.name),
            col(Registration.organisation),
            col(Registration.badge_version),
            col(TicketType.id),
            col(TicketType.name),
            col(Registration.answers),
        )
        .join(TicketType, col(TicketType.id) == Registration.ticket_type_id)
        .where(col(Registration.status).in_(PRINTABLE))
    )
    if not_printed:
        stmt = stmt.where(col(Registration.badge_printed_at).is_(None))
    if registration_id is not None:
        stmt = stmt.where(col(Registration.id) == registration_id)
    wanted_type = _fold(" ".join(ticket_type.split())) if ticket_type and ticket_type.strip() else None
    wanted_org = _fold(" ".join(organisation.split())) if organisation and organisation.strip() else None
    printed = [q for q in await all_questions(db) if q.on_badge]  # answers the organisers print on badges
    badges = []
    for r_id, reference, name, org, version, type_id, type_name, given in (await db.execute(stmt)).all():
        if wanted_type is not None and wanted_type not in (_fold(" ".join(type_name.split())), str(type_id)):
            continue
        if wanted_org is not None and wanted_org != _fold(" ".join(org.split())):
            continue
        details = answers.badge_lines(printed, given)
        badges.append(_badge(signer, r_id, reference, name, org, type_name, version, details))
    badges.sort(key=lambda b: (*surname_key(b.name), b.reference))
    return badges


async def badge_for(db: AsyncSession, signer: BadgeSigner, registration_id: uuid.UUID) -> BadgeData:
    """One registration's badge: NotFound, or NoPlace (409) saying why a registration has none."""
    r = await db.get(Registration, registration_id)
    if r is None:
        raise errors.NotFound("No registration has this id.")
    if r.status not in PRINTABLE:
        raise NoPlace(_NO_PLACE.get(r.status))
    ticket = await db.get(TicketType, r.ticket_type_id)
    printed = [q for q in await all_questions(db) if q.on_badge]
    return _badge(
        signer,
        r.id,
        r.reference,
        r.name,
        r.organisation,
        ticket.name if ticket else "",
        r.badge_version,
        answers.badge_lines(printed, r.answers),
    )


async def mark_printed(
    db: AsyncSession, registration_ids: Iterable[uuid.UUID], *, actor: Actor = SYSTEM
) -> int:
    """Stamp badge_printed_at on these registrations and audit the count (no names); returns the count."""
    assert db.in_transaction(), "mark_printed needs a transaction"
    ids = list(dict.fromkeys(registration_ids))
    now = utcnow()
    count = 0
    for start in range(0, len(ids), 500):  # well under any database's limit on bound parameters
        chunk = ids[start : start + 500]
        # An UPDATE gives a CursorResult (it has the rowcount); Session.execute is typed for any statement.
        result = cast(
            CursorResult[Any],
            await db.execute(
                sa.update(Registration).where(col(Registration.id).in_(chunk)).values(badge_printed_at=now)
            ),
        )
        count += result.rowcount
    await audit.record(db, "badges.printed", actor=actor, count=count)
    return count
