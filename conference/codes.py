"""Codes: complimentary places, discounts and reserved blocks (pretix's vouchers, for our needs).

A code has a use limit, a validity window and the ticket types it applies to; a reserved block holds places for
the code's holders from its creation until `reserved_until` (then what is left returns to general sale:
`places.reserved_places` reads the clock, so nothing has to run at that moment).

`redeem` is called with the capacity lock held, in the registration's (or group booking's) transaction: it counts
the code's uses there, so two people can never both take its last use. A use is a live registration (not
cancelled) that carries the code's id; cancelling gives the use back.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference import places
from conference.core import audit, errors, formats, registration_window, spreadsheets
from conference.core.audit import Actor
from conference.core.code_models import (
    DISCOUNT_LABELS,
    MAX_BULK,
    Code,
    CodeBulkCreate,
    CodeCreate,
    CodeSettings,
    Discount,
)
from conference.core.formats import conference_zone, money, when
from conference.core.models import HOLDING, Conference, Registration, Status, TicketType, utcnow
from conference.core.settings import Settings
from conference.tickets import parse_price

# No 0/O, 1/I/L: a code read out on the phone or copied from a printed letter is typed right first time.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
RANDOM_LENGTH = 8  # 31^8, about 8.5e11 codes: not guessable through the registration API's rate limit
_OWN_TEXT = re.compile(r"^[A-Z0-9][A-Z0-9-]{3,39}$")
STATES = ("active", "used_up", "not_yet_valid", "expired", "revoked")
STATE_LABELS = {
    "active": "Active",
    "used_up": "Used up",
    "not_yet_valid": "Not yet valid",
    "expired": "Expired",
    "revoked": "Revoked",
}


def normalise(text: str) -> str:
    """What people type, as stored: case-insensitive, spaces ignored."""
    return "".join(text.split()).upper()


def new_text(prefix: str = "") -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    head = re.sub(r"[^A-Z0-9]", "", prefix.upper())[:12]
    return f"{head}-{body}" if head else body


@dataclass(frozen=True)
class Redemption:
    code: Code
    block_places: int  # places still free in the code's reserved block (0: no block), on top of general sale
    complimentary: bool

    def price_pence(self, list_price_pence: int) -> int:
        """The net price after the code's discount, never below 0."""
        code = self.code
        if code.discount == Discount.complimentary:
            return 0
        if code.discount == Discount.percent:
            return max(list_price_pence - (list_price_pence * code.value + 50) // 100, 0)
        if code.discount == Discount.fixed:
            return max(list_price_pence - code.value, 0)
        return list_price_pence

    @property
    def sets_price(self) -> bool:
        return self.code.discount != Discount.none


def _refuse(message: str) -> errors.InvalidInput:
    return errors.InvalidInput(fields={"code": message})


_USES = sa.select(sa.func.count()).where(
    col(Registration.code_id) == sa.bindparam("code_id"), col(Registration.status) != Status.cancelled
)
_HELD = sa.select(sa.func.count()).where(
    col(Registration.code_id) == sa.bindparam("code_id"), col(Registration.status).in_(HOLDING)
)


def block_active(code: Code, now: datetime) -> bool:
    return (
        code.reserved_places > 0
        and code.revoked_at is None
        and (code.reserved_until is None or now < code.reserved_until)
    )


async def redeem(
    db: AsyncSession, *, conference: Conference, text: str, ticket: TicketType | Any, uses: int = 1
) -> Redemption:
    """Check the code for `uses` places of `ticket`. Call with the capacity lock held, in the caller's
    transaction: the uses counted here cannot change before it commits."""
    assert db.in_transaction()
    key = normalise(text)
    code = (
        await db.execute(
            sa.select(Code).where(col(Code.text) == key, col(Code.conference_id) == conference.id)
        )
    ).scalar_one_or_none()
    if code is None:
        raise _refuse(
            "We don't recognise this code. Check it against the message it came in (capitals or not, it is the "
            "same code), or leave the field empty."
        )
    now = registration_window.clock()
    zone = conference_zone(conference)
    if code.revoked_at is not None:
        raise _refuse("This code has been withdrawn. Ask whoever gave it to you for another.")
    if code.valid_from is not None and now < code.valid_from:
        raise _refuse(f"This code can be used from {when(code.valid_from, zone)}.")
    if code.valid_until is not None and now >= code.valid_until:
        raise _refuse(f"This code expired on {when(code.valid_until, zone)}.")
    if code.ticket_type_ids and str(ticket.id) not in code.ticket_type_ids:
        names = await _ticket_names(db, code.ticket_type_ids)
        raise _refuse(
            f"This code is not for this ticket type; it is for: {', '.join(names) or 'another ticket type'}. "
            "Choose that ticket type, or leave the code empty."
        )
    used = int((await db.execute(_USES, {"code_id": code.id})).scalar_one())
    left = code.max_uses - used
    if left <= 0:
        raise _refuse("This code has been used as many times as it allows.")
    if left < uses:
        raise _refuse(f"This code has only {left} {'use' if left == 1 else 'uses'} left; {uses} are needed.")
    block = 0
    if block_active(code, now):
        held = int((await db.execute(_HELD, {"code_id": code.id})).scalar_one())
        block = max(code.reserved_places - held, 0)
    return Redemption(code=code, block_places=block, complimentary=code.discount == Discount.complimentary)


async def _ticket_names(db: AsyncSession, ids: list[str]) -> list[str]:
    wanted = [uuid.UUID(i) for i in ids]
    rows = await db.execute(
        sa.select(col(TicketType.name))
        .where(col(TicketType.id).in_(wanted))
        .order_by(col(TicketType.position))
    )
    return list(rows.scalars())


# --- organisers: create, revoke, list ----------------------------------------------------------------------


async def _check_settings(
    db: AsyncSession, conference: Conference, data: CodeSettings, *, count: int
) -> dict[str, str]:
    """Every problem with the settings at once (field -> what to do)."""
    problems: dict[str, str] = {}
    if data.discount == Discount.percent and not 1 <= data.value <= 100:
        problems["value"] = "Give the percentage off, from 1 to 100."
    if data.discount == Discount.fixed and data.value < 1:
        problems["value"] = "Give the amount off in pence (e.g. 5000 for £50.00)."
    if data.valid_from and data.valid_until and data.valid_until <= data.valid_from:
        problems["valid_until"] = "Make the end of the validity window later than its start."
    if data.reserved_places > data.max_uses:
        problems["reserved_places"] = (
            f"A block cannot be larger than the code's use limit ({data.max_uses}); raise the limit or "
            "reserve fewer places."
        )
    if data.reserved_until and data.reserved_until <= registration_window.clock():
        problems["reserved_until"] = "Give a date in the future (or none: held until the code is revoked)."
    if data.ticket_type_ids:
        known = set(
            (
                await db.execute(
                    sa.select(col(TicketType.id)).where(
                        col(TicketType.conference_id) == conference.id,
                        col(TicketType.id).in_(data.ticket_type_ids),
                    )
                )
            ).scalars()
        )
        if known != set(data.ticket_type_ids):
            problems["ticket_type_ids"] = "Choose ticket types of this conference (or none: every type)."
    if data.reserved_places and "reserved_places" not in problems:
        free = (await places.availability(db, conference)).remaining
        wanted = data.reserved_places * count
        if wanted > free:
            problems["reserved_places"] = (
                f"Only {free} {'place is' if free == 1 else 'places are'} free to reserve; reserve fewer "
                "or raise the capacity."
            )
    return problems


def _code(conference: Conference, data: CodeSettings, text: str, actor: Actor) -> Code:
    value = data.value if data.discount in (Discount.percent, Discount.fixed) else 0
    assert conference.id is not None
    return Code(
        conference_id=conference.id,
        text=text,
        label=data.label,
        discount=data.discount,
        value=value,
        max_uses=data.max_uses,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        ticket_type_ids=[str(t) for t in dict.fromkeys(data.ticket_type_ids)],
        reserved_places=data.reserved_places,
        reserved_until=data.reserved_until if data.reserved_places else None,
        created_by=actor.label,
    )


async def _taken(db: AsyncSession, texts: list[str]) -> set[str]:
    return set((await db.execute(sa.select(col(Code.text)).where(col(Code.text).in_(texts)))).scalars())


async def _fresh_texts(db: AsyncSession, prefix: str, count: int) -> list[str]:
    texts: list[str] = []
    while len(texts) < count:
        batch = list(dict.fromkeys(new_text(prefix) for _ in range(count - len(texts))))
        clash = await _taken(db, batch) | set(texts)
        texts.extend(t for t in batch if t not in clash)
    return texts


async def create_code(db: AsyncSession, *, data: CodeCreate, actor: Actor) -> Code:
    # Under the capacity lock: a reserved block is checked against, and then holds, places nobody else can take.
    conference = await places.get_conference(db, for_update=True)
    problems = await _check_settings(db, conference, data, count=1)
    text = normalise(data.text) if data.text else None
    if text is not None:
        if not _OWN_TEXT.match(text):
            problems["text"] = (
                "Use 4 to 40 letters, digits and hyphens (e.g. SPEAKERS-2026), or leave it empty."
            )
        elif await _taken(db, [text]):
            problems["text"] = "A code with this text exists already; choose another."
    if problems:
        raise errors.InvalidInput(fields=problems)
    code = _code(conference, data, text or (await _fresh_texts(db, data.prefix, 1))[0], actor)
    db.add(code)
    await db.flush()
    await audit.record(
        db,
        "conference.code.created",
        actor=actor,
        subject=str(code.id),
        discount=code.discount.value,
        max_uses=code.max_uses,
        reserved_places=code.reserved_places,
    )
    return code


async def create_codes(db: AsyncSession, *, data: CodeBulkCreate, actor: Actor) -> list[Code]:
    """`count` codes with the same settings, each with its own generated text (to mail out one by one)."""
    conference = await places.get_conference(db, for_update=True)
    problems = await _check_settings(db, conference, data, count=data.count)
    if problems:
        raise errors.InvalidInput(fields=problems)
    codes = [_code(conference, data, text, actor) for text in await _fresh_texts(db, data.prefix, data.count)]
    made_at = utcnow()
    for code in codes:
        code.created_at = made_at  # one moment for the batch: the console lists (and exports) it by this
    db.add_all(codes)
    await db.flush()
    await audit.record(
        db,
        "conference.code.bulk_created",
        actor=actor,
        subject=str(codes[0].id),
        count=len(codes),
        discount=data.discount.value,
        max_uses=data.max_uses,
        reserved_places=data.reserved_places,
    )
    return codes


async def revoke_code(db: AsyncSession, *, settings: Settings, code_id: uuid.UUID, actor: Actor) -> Code:
    """No further use; places already booked with it stay booked. What is left of its block returns to sale, so
    the waiting list moves up into it."""
    conference = await places.get_conference(db, for_update=True)
    code = await get_code(db, code_id)
    if code.revoked_at is not None:
        raise errors.DomainError("This code is already revoked.")
    code.revoked_at = utcnow()
    await db.flush()
    await audit.record(db, "conference.code.revoked", actor=actor, subject=str(code.id))
    await places.promote_waitlist(db, settings=settings, conference=conference)
    return code


async def get_code(db: AsyncSession, code_id: uuid.UUID) -> Code:
    code = await db.get(Code, code_id)
    if code is None:
        raise errors.NotFound("No code has this id.")
    return code


@dataclass(frozen=True)
class CodeRow:
    code: Code
    uses: int  # live registrations booked with it
    held: int  # of those, the ones holding a place (the rest wait on the waiting list)

    def state(self, now: datetime) -> str:
        code = self.code
        if code.revoked_at is not None:
            return "revoked"
        if code.valid_until is not None and now >= code.valid_until:
            return "expired"
        if code.valid_from is not None and now < code.valid_from:
            return "not_yet_valid"
        if self.uses >= code.max_uses:
            return "used_up"
        return "active"

    def block_left(self, now: datetime) -> int:
        return max(self.code.reserved_places - self.held, 0) if block_active(self.code, now) else 0


async def list_codes(
    db: AsyncSession,
    *,
    search: str = "",
    state: str = "",
    discount: str = "",
    ticket_type_id: str = "",
    ids: list[uuid.UUID] | None = None,
) -> list[CodeRow]:
    """Codes, newest first, with their uses; filtered by text or label, state, discount and ticket type."""
    live = sa.func.sum(sa.case((col(Registration.status) != Status.cancelled, 1), else_=0))
    holding = sa.func.sum(sa.case((col(Registration.status).in_(HOLDING), 1), else_=0))
    stmt = (
        sa.select(Code, sa.func.coalesce(live, 0), sa.func.coalesce(holding, 0))
        .outerjoin(Registration, col(Registration.code_id) == col(Code.id))
        .group_by(col(Code.id))
        .order_by(col(Code.created_at).desc(), col(Code.text))
    )
    if search:
        needle = f"%{search.lower()}%"
        stmt = stmt.where(
            sa.or_(sa.func.lower(col(Code.text)).like(needle), sa.func.lower(col(Code.label)).like(needle))
        )
    if discount:
        stmt = stmt.where(col(Code.discount) == Discount(discount))
    if ids is not None:
        stmt = stmt.where(col(Code.id).in_(ids))
    rows = [CodeRow(code, int(uses), int(held)) for code, uses, held in (await db.execute(stmt)).all()]
    if ticket_type_id:
        rows = [r for r in rows if not r.code.ticket_type_ids or ticket_type_id in r.code.ticket_type_ids]
    if state:
        now = registration_window.clock()
        rows = [r for r in rows if r.state(now) == state]
    return rows


def check_filters(*, state: str, discount: str, ticket_type_id: str) -> dict[str, str]:
    problems = {}
    if state and state not in STATES:
        problems["state"] = f"Choose one of: {', '.join(STATES)}."
    if discount and discount not in {d.value for d in Discount}:
        problems["discount"] = f"Choose one of: {', '.join(d.value for d in Discount)}."
    if ticket_type_id:
        try:
            uuid.UUID(ticket_type_id)
        except ValueError:
            problems["ticket_type_id"] = "Give the id of one of the ticket types."
    return problems


async def batch_of(db: AsyncSession, code_id: uuid.UUID) -> list[CodeRow]:
    """The codes made in bulk with this one (the same moment, the same organiser), in text order."""
    first = await get_code(db, code_id)
    ids = (
        await db.execute(
            sa.select(col(Code.id)).where(
                col(Code.created_at) == first.created_at, col(Code.created_by) == first.created_by
            )
        )
    ).scalars()
    return sorted(await list_codes(db, ids=list(ids)), key=lambda r: r.code.text)


async def code_row(db: AsyncSession, code_id: uuid.UUID) -> CodeRow:
    rows = await list_codes(db, ids=[code_id])
    if not rows:
        raise errors.NotFound("No code has this id.")
    return rows[0]


async def code_uses(db: AsyncSession, code_id: uuid.UUID) -> list[Registration]:
    """Who booked with the code (cancelled bookings too, marked by their status), in booking order."""
    stmt = (
        sa.select(Registration).where(col(Registration.code_id) == code_id).order_by(col(Registration.number))
    )
    return list((await db.execute(stmt)).scalars())


# --- shapes out ----------------------------------------------------------------------------------------------


def code_public(row: CodeRow, now: datetime | None = None) -> dict[str, Any]:
    code, moment = row.code, now or registration_window.clock()

    def at(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": str(code.id),
        "text": code.text,
        "label": code.label,
        "discount": code.discount.value,
        "value": code.value,
        "max_uses": code.max_uses,
        "uses": row.uses,
        "uses_left": max(code.max_uses - row.uses, 0),
        "valid_from": at(code.valid_from),
        "valid_until": at(code.valid_until),
        "ticket_type_ids": list(code.ticket_type_ids),
        "reserved_places": code.reserved_places,
        "reserved_until": at(code.reserved_until),
        "reserved_left": row.block_left(moment),
        "state": row.state(moment),
        "revoked_at": at(code.revoked_at),
        "created_by": code.created_by,
        "created_at": at(code.created_at),
    }


def use_public(r: Registration) -> dict[str, Any]:
    return {
        "registration_id": str(r.id),
        "reference": r.reference,
        "name": r.name,
        "email": r.email,
        "organisation": r.organisation,
        "status": r.status.value,
        "price_pence": r.price_pence,
        "created_at": r.created_at.isoformat(),
    }


def describe_discount(code: Code, currency: str = "GBP") -> str:
    if code.discount == Discount.percent:
        return f"{code.value}% off"
    if code.discount == Discount.fixed:
        return f"{money(code.value, currency)} off"
    return DISCOUNT_LABELS[code.discount.value]


def codes_sheet(rows: list[CodeRow], *, conference: Conference, names: dict[str, str]) -> spreadsheets.Sheet:
    """The codes as a spreadsheet: to mail out (a bulk just made) or to keep track (the console's export)."""
    zone, now = conference_zone(conference), registration_window.clock()
    return spreadsheets.Sheet(
        title="Codes",
        header=[
            "Code",
            "For",
            "Discount",
            "Ticket types",
            "Use limit",
            "Uses",
            "Valid from",
            "Valid until",
            "Reserved places",
            "Reserved until",
            "State",
        ],
        rows=[
            [
                r.code.text,
                r.code.label,
                describe_discount(r.code),
                ", ".join(names.get(t, t) for t in r.code.ticket_type_ids) or "Any",
                r.code.max_uses,
                r.uses,
                when(r.code.valid_from, zone),
                when(r.code.valid_until, zone),
                r.code.reserved_places,
                when(r.code.reserved_until, zone),
                STATE_LABELS[r.state(now)],
            ]
            for r in rows
        ],
        widths=(22, 30, 24, 30, 10, 8, 22, 22, 10, 22, 14),
    )


async def ticket_names(db: AsyncSession, conference: Conference) -> dict[str, str]:
    rows = await db.execute(
        sa.select(col(TicketType.id), col(TicketType.name)).where(
            col(TicketType.conference_id) == conference.id
        )
    )
    return {str(i): n for i, n in rows.all()}


# --- the console's form ----------------------------------------------------------------------------------------

FORM_LABELS = {
    "text": "Code",
    "prefix": "Start each code with",
    "count": "How many codes",
    "label": "Who it is for",
    "discount": "Discount",
    "value": "Amount off",
    "max_uses": "Use limit",
    "valid_from": "Valid from",
    "valid_until": "Valid until",
    "ticket_type_ids": "Ticket types",
    "reserved_places": "Places reserved",
    "reserved_until": "Reserved until",
    "form": "Form",
}


def _whole(raw: str, *, empty: int | None = None) -> int | None:
    text = raw.strip()
    if not text:
        return empty
    return int(text) if text.isdigit() and len(text) <= 6 else None


def parse_form(
    values: dict[str, str], *, ticket_type_ids: list[str], zone: ZoneInfo, bulk: bool
) -> CodeCreate | CodeBulkCreate:
    """The console form's fields as the API's shape; raises InvalidInput naming every problem at once."""
    problems: dict[str, str] = {}
    data: dict[str, Any] = {
        "label": values.get("label", "").strip(),
        "prefix": values.get("prefix", "").strip(),
    }
    if bulk:
        count = _whole(values.get("count", ""))
        if count is None or not 1 <= count <= MAX_BULK:
            problems["count"] = f"Give a whole number from 1 to {MAX_BULK}."
        data["count"] = count or 1
    else:
        data["text"] = values.get("text", "").strip() or None
    discount = values.get("discount", Discount.none.value)
    if discount not in {d.value for d in Discount}:
        problems["discount"] = "Choose a kind of discount."
        discount = Discount.none.value
    data["discount"] = discount
    raw_value = values.get("value", "")
    if discount == Discount.percent.value:
        percent = _whole(raw_value)
        if percent is None or not 1 <= percent <= 100:
            problems["value"] = "Give the percentage off as a whole number from 1 to 100, e.g. 25."
        data["value"] = percent or 0
    elif discount == Discount.fixed.value:
        pence, problem = parse_price(raw_value)
        if problem or not pence:
            problems["value"] = problem or "Give the amount off in pounds, e.g. 50 or 49.50."
        data["value"] = pence or 0
    uses = _whole(values.get("max_uses", ""))
    if uses is None or uses < 1:
        problems["max_uses"] = "Give how many places the code may be used for: a whole number, 1 or more."
    data["max_uses"] = uses or 1
    reserved = _whole(values.get("reserved_places", ""), empty=0)
    if reserved is None:
        problems["reserved_places"] = "Give a whole number of places (0 for no block)."
    data["reserved_places"] = reserved or 0
    for name in ("valid_from", "valid_until", "reserved_until"):
        moment, problem = formats.form_moment(values.get(name, ""), zone)
        if problem:
            problems[name] = problem
        data[name] = moment
    data["ticket_type_ids"] = []
    for raw in ticket_type_ids:
        try:
            data["ticket_type_ids"].append(uuid.UUID(raw))
        except ValueError:
            problems["ticket_type_ids"] = "Choose ticket types from the list."
    if problems:
        raise errors.InvalidInput(fields=problems)
    shape: type[CodeCreate] | type[CodeBulkCreate] = CodeBulkCreate if bulk else CodeCreate
    if bulk:
        data.pop("text", None)
    try:
        return shape.model_validate(data)
    except ValidationError as exc:
        raise errors.from_validation_error(exc) from None
