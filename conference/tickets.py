"""Organisers setting up ticket types: create, edit, hide or show, reorder, delete one nobody holds.

A type's fields come from the console's form as text (`parse_form`: every problem at once, by field); the
service functions run in the caller's transaction and write an audit entry each. A price change applies to new
bookings only: payments (`Payment.amount_pence`) and invoices (`Invoice.net_pence`, `gross_pence`) keep the
amounts they were made with, because they never read the type's price again.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference import places
from conference.core import audit, errors, formats
from conference.core.audit import Actor
from conference.core.formats import conference_zone, money
from conference.core.models import HOLDING, Approval, Conference, Registration, TicketType, utcnow
from conference.core.settings import Settings

# The form's fields, in its order (the error summary follows it).
FIELDS = (
    "name",
    "description",
    "price",
    "vat_rate_percent",
    "cap",
    "approval",
    "approval_domains",
    "card_allowed",
    "invoice_allowed",
    "invoice_confirms",
    "po_optional",
    "available_from",
    "available_until",
    "public",
)
LABELS = {
    "name": "Name",
    "description": "Description",
    "price": "Price before VAT",
    "vat_rate_percent": "VAT rate",
    "cap": "Places of this type",
    "approval": "Who confirms a registration",
    "approval_domains": "Email domains approved automatically",
    "card_allowed": "Payment methods",
    "invoice_allowed": "Payment methods",
    "invoice_confirms": "When paying by invoice",
    "po_optional": "Purchase order",
    "available_from": "On sale from",
    "available_until": "On sale until",
    "public": "Who can book it",
}
APPROVAL_LABELS = {
    Approval.none.value: "Confirmed at once",
    Approval.manual.value: "An organiser approves every registration",
    Approval.domain.value: "Approved automatically for the email domains listed; an organiser approves the rest",
}
MAX_PRICE_PENCE = 100_000_000  # £1,000,000: far above any conference ticket, far below an integer's limit
_PRICE = re.compile(r"^£?(\d{1,9})(?:\.(\d{1,2}))?$")
_DOMAIN_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class TicketTypeInUse(errors.DomainError):
    code = "ticket_type_in_use"
    message = (
        "This ticket type has registrations, so it cannot be deleted (they would lose their ticket); hide it "
        "instead, and nobody can book it on the public form."
    )


@dataclass(frozen=True)
class TicketTypeRow:
    """A type in the organisers' list, with how many places it holds and how many registrations it has."""

    ticket: TicketType
    held: int  # places held (confirmed, pending payment, awaiting approval or address confirmation)
    registrations: int  # any status, cancelled included: these keep the type from being deleted
    on_sale: bool


async def list_ticket_types(db: AsyncSession, conference: Conference) -> list[TicketTypeRow]:
    types = (
        await db.execute(
            sa.select(TicketType)
            .where(col(TicketType.conference_id) == conference.id)
            .order_by(col(TicketType.position), col(TicketType.name))
        )
    ).scalars()
    counts: dict[uuid.UUID, tuple[int, int]] = {
        row[0]: (int(row[1]), int(row[2]))
        for row in (
            await db.execute(
                sa.select(
                    col(Registration.ticket_type_id),
                    sa.func.count(),
                    sa.func.count().filter(col(Registration.status).in_(HOLDING)),
                ).group_by(col(Registration.ticket_type_id))
            )
        ).all()
    }
    rows = []
    for t in types:
        total, held = counts.get(t.id, (0, 0))
        rows.append(TicketTypeRow(t, held=held, registrations=total, on_sale=places.on_sale(t)))
    return rows


async def get_ticket_type(db: AsyncSession, ticket_type_id: uuid.UUID) -> TicketType:
    ticket = await db.get(TicketType, ticket_type_id)
    if ticket is None:
        raise errors.NotFound("No ticket type has this id.")
    return ticket


# --- the form ---------------------------------------------------------------------------------------------------


def form_values(ticket: TicketType | None, zone: ZoneInfo) -> dict[str, str]:
    """What the form shows for a type (a new one: the usual defaults)."""
    if ticket is None:
        return {
            "vat_rate_percent": "20",
            "approval": Approval.none.value,
            "card_allowed": "yes",
            "invoice_allowed": "yes",
            "invoice_confirms": "yes",
            "public": "yes",
        }
    pounds, pence = divmod(ticket.price_pence, 100)
    return {
        "name": ticket.name,
        "description": ticket.description,
        "price": f"{pounds}.{pence:02d}",
        "vat_rate_percent": str(ticket.vat_rate_percent),
        "cap": "" if ticket.cap is None else str(ticket.cap),
        "approval": ticket.approval.value,
        "approval_domains": "\n".join(d for d in ticket.approval_domains.split(",") if d),
        "card_allowed": "yes" if ticket.card_allowed else "",
        "invoice_allowed": "yes" if ticket.invoice_allowed else "",
        "invoice_confirms": "yes" if ticket.invoice_confirms else "no",
        "po_optional": "yes" if ticket.po_optional else "",
        "available_from": _local_input(ticket.available_from, zone),
        "available_until": _local_input(ticket.available_until, zone),
        "public": "yes" if ticket.public else "no",
    }


def _local_input(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if value else ""


def parse_price(raw: str) -> tuple[int | None, str | None]:
    """Pounds (and pence) as typed, e.g. 450, 450.5, £1,200.00 → pence; or the problem with it."""
    text = raw.strip().replace(",", "").replace(" ", "")
    if not text:
        return 0, None  # no price: a free ticket
    if text.startswith(("-", "£-")):
        return None, "The price cannot be negative; give 0 for a free ticket."
    match = _PRICE.match(text)
    if match is None:
        return None, "Give the price in pounds, to the penny at most, e.g. 450 or 449.50."
    pence = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if pence > MAX_PRICE_PENCE:
        return None, f"Give a price of at most {money(MAX_PRICE_PENCE)}."
    return pence, None


def parse_domains(raw: str) -> tuple[list[str], list[str]]:
    """Email domains, one per line or separated by commas or spaces (an @ or a leading dot is dropped): the
    domains, and what was typed that is not one."""
    good, bad = [], []
    for item in re.split(r"[\s,;]+", raw.strip()):
        if not item:
            continue
        domain = item.lower().lstrip("@").lstrip(".").rstrip(".")
        labels = domain.split(".")
        if (
            len(domain) <= 253
            and len(labels) >= 2
            and all(_DOMAIN_LABEL.match(label) for label in labels)
            and labels[-1].isalpha()
        ):
            if domain not in good:
                good.append(domain)
        else:
            bad.append(item)
    return good, bad


def _whole(raw: str) -> int | None:
    text = raw.strip()
    return int(text) if text.isdigit() and len(text) <= 9 else None


def parse_form(
    values: dict[str, str],
    *,
    conference: Conference,
    card_available: bool,
    current: TicketType | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The type's columns from the form; raises InvalidInput naming every problem at once, in the form's order."""
    zone = conference_zone(conference)
    problems: dict[str, str] = {}
    data: dict[str, Any] = {}
    name = values.get("name", "").strip()
    if not name:
        problems["name"] = "Give the ticket type a name, e.g. Delegate or Early bird."
    elif len(name) > 100 or "\n" in name:
        problems["name"] = "Use one line of at most 100 characters."
    data["name"] = name
    description = values.get("description", "").strip()
    if len(description) > 500:
        problems["description"] = "Use at most 500 characters."
    data["description"] = description

    price, problem = parse_price(values.get("price", ""))
    if problem:
        problems["price"] = problem
    data["price_pence"] = price or 0
    vat = _whole(values.get("vat_rate_percent", ""))
    if vat is None or vat > 100:
        problems["vat_rate_percent"] = "Give the VAT rate as a whole percentage from 0 to 100, e.g. 20."
    data["vat_rate_percent"] = vat or 0

    raw_cap = values.get("cap", "").strip()
    cap = _whole(raw_cap) if raw_cap else None
    if raw_cap and (cap is None or cap < 1):
        problems["cap"] = (
            "Give a whole number of places (1 or more), or leave it empty for no cap of its own."
        )
    elif cap is not None and cap > conference.capacity:
        problems["cap"] = (
            f"The cap cannot be above the conference's capacity of {conference.capacity} places; "
            "lower it, or raise the capacity first."
        )
    data["cap"] = cap

    approval = values.get("approval", "")
    if approval not in APPROVAL_LABELS:
        problems["approval"] = "Choose who confirms a registration."
    data["approval"] = Approval(approval) if approval in APPROVAL_LABELS else Approval.none
    domains, bad = parse_domains(values.get("approval_domains", ""))
    if bad:
        problems["approval_domains"] = (
            f"These are not email domains: {', '.join(bad[:5])}{' …' if len(bad) > 5 else ''}. Give domains "
            "such as gov.uk or nhs.net, one a line."
        )
    elif approval == Approval.domain.value and not domains:
        problems["approval_domains"] = "List at least one email domain to approve automatically, e.g. gov.uk."
    elif len(",".join(domains)) > 1000:
        problems["approval_domains"] = "The list is too long: at most 1,000 characters in all."
    data["approval_domains"] = ",".join(domains)

    card, invoice = values.get("card_allowed") == "yes", values.get("invoice_allowed") == "yes"
    data["card_allowed"], data["invoice_allowed"] = card, invoice
    if data["price_pence"] > 0 and "price" not in problems:
        if not card and not invoice:
            problems["card_allowed"] = "A priced ticket needs a way to pay: tick card, invoice or both."
        elif not invoice and not card_available:
            problems["card_allowed"] = (
                "Card payments are not set up (no STRIPE_SECRET_KEY), so a card-only ticket could not be paid "
                "for: tick invoice too."
            )
    confirms = values.get("invoice_confirms", "")
    if confirms not in ("yes", "no"):
        problems["invoice_confirms"] = "Choose whether an invoice confirms the place at once."
    data["invoice_confirms"] = confirms != "no"
    # Charities and companies without a PO system may leave the purchase order empty (group bookings).
    data["po_optional"] = values.get("po_optional") == "yes"

    starts, problem = formats.form_moment(values.get("available_from", ""), zone)
    if problem:
        problems["available_from"] = problem
    ends, problem = formats.form_moment(values.get("available_until", ""), zone)
    if problem:
        problems["available_until"] = problem
    elif ends is not None:
        changed = current is None or current.available_until != ends
        if starts is not None and ends <= starts:
            problems["available_until"] = "The sale must end after it starts: give a later time."
        elif changed and ends <= (now or utcnow()):
            problems["available_until"] = "This time has passed: give a later one, or leave it empty."
    data["available_from"], data["available_until"] = starts, ends

    public = values.get("public", "")
    if public not in ("yes", "no"):
        problems["public"] = "Choose whether delegates can book it on the public form."
    data["public"] = public != "no"
    if problems:
        raise errors.InvalidInput(fields={k: problems[k] for k in FIELDS if k in problems})
    return data


# --- the changes ------------------------------------------------------------------------------------------------


async def _name_taken(db: AsyncSession, conference_id: int, name: str, other_than: uuid.UUID | None) -> bool:
    stmt = sa.select(col(TicketType.id)).where(
        col(TicketType.conference_id) == conference_id,
        sa.func.lower(col(TicketType.name)) == name.lower(),
    )
    if other_than is not None:
        stmt = stmt.where(col(TicketType.id) != other_than)
    return (await db.execute(stmt.limit(1))).first() is not None


async def _parse(
    db: AsyncSession,
    values: dict[str, str],
    *,
    card_available: bool,
    current: TicketType | None,
) -> tuple[Conference, dict[str, Any]]:
    conference = await places.get_conference(db)
    assert conference.id is not None
    try:
        data = parse_form(values, conference=conference, card_available=card_available, current=current)
        problems: dict[str, str] = {}
    except errors.InvalidInput as exc:
        data, problems = {}, dict(exc.fields or {})
    name = values.get("name", "").strip()
    if "name" not in problems and await _name_taken(db, conference.id, name, current.id if current else None):
        problems["name"] = f"Another ticket type is already called {name}; give this one another name."
    if problems:
        raise errors.InvalidInput(fields={k: problems[k] for k in FIELDS if k in problems})
    return conference, data


def _audit_values(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else getattr(v, "value", v) for k, v in data.items()}


async def create_ticket_type(
    db: AsyncSession, *, values: dict[str, str], card_available: bool, actor: Actor
) -> TicketType:
    assert db.in_transaction()
    conference, data = await _parse(db, values, card_available=card_available, current=None)
    last = (
        await db.execute(
            sa.select(sa.func.max(col(TicketType.position))).where(
                col(TicketType.conference_id) == conference.id
            )
        )
    ).scalar_one()
    assert conference.id is not None
    ticket = TicketType(conference_id=conference.id, position=(last or 0) + 1, currency="GBP", **data)
    db.add(ticket)
    await db.flush()
    await audit.record(
        db, "conference.ticket_type.created", actor=actor, subject=str(ticket.id), **_audit_values(data)
    )
    return ticket


async def update_ticket_type(
    db: AsyncSession,
    *,
    settings: Settings,
    ticket_type_id: uuid.UUID,
    values: dict[str, str],
    card_available: bool,
    actor: Actor,
) -> list[str]:
    """Save the form's changes; the names of the fields that changed (none: nothing written or audited)."""
    assert db.in_transaction()
    ticket = await get_ticket_type(db, ticket_type_id)
    _, data = await _parse(db, values, card_available=card_available, current=ticket)
    changed = {k: v for k, v in data.items() if getattr(ticket, k) != v}
    if not changed:
        return []
    # A new cap changes who may hold a place: under the capacity lock (taken before the type's row is written, the
    # lock order of every path), and a higher (or no) cap may let waitlisted delegates of this type in now.
    conference = await places.get_conference(db, for_update=True) if "cap" in changed else None
    before = {k: getattr(ticket, k) for k in changed}
    for name, value in changed.items():
        setattr(ticket, name, value)
    await db.flush()
    await audit.record(
        db,
        "conference.ticket_type.updated",
        actor=actor,
        subject=str(ticket.id),
        fields=sorted(changed),
        before=_audit_values(before),
        after=_audit_values(changed),
    )
    if conference is not None:
        await places.promote_waitlist(db, settings=settings, conference=conference)
    return sorted(changed)


async def set_public(db: AsyncSession, *, ticket_type_id: uuid.UUID, public: bool, actor: Actor) -> bool:
    """Offer the type on the public form and API (public) or only by hand (hidden); False if it already was."""
    ticket = await get_ticket_type(db, ticket_type_id)
    if ticket.public == public:
        return False
    ticket.public = public
    await db.flush()
    action = "conference.ticket_type.shown" if public else "conference.ticket_type.hidden"
    await audit.record(db, action, actor=actor, subject=str(ticket.id), name=ticket.name)
    return True


async def move_ticket_type(db: AsyncSession, *, ticket_type_id: uuid.UUID, up: bool, actor: Actor) -> bool:
    """Swap the type with the one before (up) or after it in the list; False at the top (bottom) already."""
    ticket = await get_ticket_type(db, ticket_type_id)
    ordered = list(
        (
            await db.execute(
                sa.select(TicketType)
                .where(col(TicketType.conference_id) == ticket.conference_id)
                .order_by(col(TicketType.position), col(TicketType.name))
            )
        ).scalars()
    )
    at = next(i for i, t in enumerate(ordered) if t.id == ticket.id)
    to = at - 1 if up else at + 1
    if not 0 <= to < len(ordered):
        return False
    ordered[at], ordered[to] = ordered[to], ordered[at]
    # Numbered afresh 1..n: positions made elsewhere (the demo, the API) may repeat or leave gaps.
    for position, t in enumerate(ordered, start=1):
        t.position = position
    await db.flush()
    await audit.record(
        db,
        "conference.ticket_type.moved",
        actor=actor,
        subject=str(ticket.id),
        direction="up" if up else "down",
        position=to + 1,
    )
    return True


async def delete_ticket_type(db: AsyncSession, *, ticket_type_id: uuid.UUID, actor: Actor) -> str:
    """Delete a type nobody has ever registered with (its name, for the page); refused otherwise."""
    ticket = await get_ticket_type(db, ticket_type_id)
    await places.get_conference(db, for_update=True)  # no registration for it can arrive meanwhile
    used = (
        await db.execute(sa.select(sa.func.count()).where(col(Registration.ticket_type_id) == ticket.id))
    ).scalar_one()
    if used:
        raise TicketTypeInUse()
    name = ticket.name
    await db.delete(ticket)
    await db.flush()
    await audit.record(
        db, "conference.ticket_type.deleted", actor=actor, subject=str(ticket_type_id), name=name
    )
    return name
