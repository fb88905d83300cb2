"""What a group booking request is: the shapes the API and the pages hand over (the lead, the members, the
billing), the checks made on them before anything is locked (how the group pays, who attends, each member's
answers), and the refusals a group booking can meet."""

from __future__ import annotations

import re
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, StrictBool, ValidationError, field_validator
from pydantic import Field as PField

from conference import answers
from conference.core import errors
from conference.core.models import REGIONS, PaymentMethod, Sector, TicketType
from conference.core.question_models import Question
from conference.core.settings import Settings
from conference.core.text import Line, Text
from conference.payments import gateway

_STRIP = ConfigDict(str_strip_whitespace=True, extra="forbid")
# The most members a request may carry at all (the deployment's own limit, settings.group_max_members, is lower).
MEMBERS_LIMIT = 500


# --- the shapes the API and the pages hand over -------------------------------------------------------------------


# The lead booker (who may or may not attend)
class GroupLead(BaseModel):
    model_config = _STRIP
    name: Line = PField(min_length=1, max_length=120)
    email: EmailStr = PField(max_length=254)
    attends: StrictBool = False


# One member of the group
class GroupMember(BaseModel):
    model_config = _STRIP
    name: Line = PField(min_length=1, max_length=120)
    email: EmailStr = PField(max_length=254)
    job_title: Line = PField(default="", max_length=120)
    region: Line = PField(default="", max_length=60)
    dietary: Text = PField(default="", max_length=500)
    access_needs: Text = PField(default="", max_length=1000)
    answers: dict[str, Any] = PField(default_factory=dict, max_length=200)

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value and value not in REGIONS:
            raise ValueError("Choose a region from the list.")
        return value


# The organisation an invoice goes to: the purchase order may be empty when the ticket type allows it (po_optional)
class GroupBilling(BaseModel):
    model_config = _STRIP
    organisation: Line = PField(min_length=1, max_length=200)
    contact: Line = PField(min_length=1, max_length=120)
    email: EmailStr = PField(max_length=254)
    address: Text = PField(min_length=5, max_length=1000)
    purchase_order: Line = PField(default="", max_length=60)
    buyer_reference: Line = PField(default="", max_length=60)


# Properties to receive on a group booking (the API and the group form share it)
class GroupCreate(BaseModel):
    model_config = _STRIP
    ticket_type_id: uuid.UUID | None = None  # None: the first public ticket type on sale
    lead: GroupLead
    organisation: Line = PField(min_length=1, max_length=200)
    sector: Sector
    members: list[GroupMember] = PField(min_length=1, max_length=MEMBERS_LIMIT)
    payment_method: PaymentMethod | None = None  # None: card if it can be taken, else invoice
    billing: GroupBilling | None = None
    code: Line | None = PField(default=None, max_length=60)
    if_full: Literal["refuse", "waitlist"] = "refuse"


# A member added later by the lead, or the colleague who takes a member's place
class MemberCreate(GroupMember):
    pass


class NotEnoughPlaces(errors.DomainError):
    code = "not_enough_places"
    message = "There are not enough places left for the whole group."

    def __init__(self, remaining: int, wanted: int) -> None:
        self.remaining, self.wanted = remaining, wanted
        places_left = (
            "no places" if remaining == 0 else f"only {remaining} place{'s' if remaining != 1 else ''}"
        )
        super().__init__(
            f"There are {places_left} left, and the group needs {wanted}. Nothing has been booked: you can "
            f"waitlist the whole group (if_full: waitlist)"
            + (f" or book {remaining} of them." if remaining else ".")
        )

    def payload(self) -> dict[str, Any]:
        body = super().payload()
        body["error"]["remaining"] = self.remaining
        return body


class GroupClosed(errors.DomainError):
    code = "group_closed"
    message = "This group booking is cancelled; nothing can be changed on it."


def parse(model: type[GroupCreate] | type[MemberCreate], data: Any) -> Any:
    """Validate a body, naming members' fields like `members[3].email` (pydantic says `members.3.email`)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        found = errors.from_validation_error(exc)
        fields = {re.sub(r"^members\.(\d+)", r"members[\1]", k): v for k, v in (found.fields or {}).items()}
        raise errors.InvalidInput(fields=fields) from None


# --- checks made before the capacity lock ---------------------------------------------------------------------


def payment_method(
    settings: Settings,
    ticket: TicketType,
    body: GroupCreate,
    problems: dict[str, str],
    *,
    price: int | None = None,
) -> PaymentMethod:
    """How the group pays: nothing for a free ticket, or one a code made free (`price`, the price after the code,
    as conference/registration.py's payment_method); card or invoice otherwise, with the billing an invoice needs."""
    if (ticket.price_pence if price is None else price) == 0:
        return PaymentMethod.none
    card_set_up = gateway.card_available(settings)
    card = card_set_up and ticket.card_allowed
    method = body.payment_method or (PaymentMethod.card if card else PaymentMethod.invoice)
    if method == PaymentMethod.none:
        problems["payment_method"] = "This ticket has a price: choose card or invoice."
    elif method == PaymentMethod.card and not card:
        refusal = "This ticket cannot be paid by card" if card_set_up else "Card payment is not available"
        problems["payment_method"] = f"{refusal}; choose invoice."
    elif method == PaymentMethod.invoice:
        if not ticket.invoice_allowed:
            problems["payment_method"] = "This ticket cannot be paid by invoice; choose card."
        elif body.billing is None:
            problems["billing"] = (
                "Give the paying organisation, contact, email, address and purchase order number to be invoiced."
            )
        elif not body.billing.purchase_order and not ticket.po_optional:
            problems["billing.purchase_order"] = (
                "Give the purchase order number the invoice must quote (this ticket type needs one)."
            )
    return method


def with_lead(body: GroupCreate, problems: dict[str, str]) -> list[GroupMember]:
    """The members in order; the lead is added first when they attend and are not listed already."""
    members = list(body.members)
    lead_key = body.lead.email.lower()
    listed = [i for i, m in enumerate(members) if m.email.lower() == lead_key]
    if body.lead.attends and not listed:
        members.insert(0, GroupMember(name=body.lead.name, email=body.lead.email))
    elif listed and not body.lead.attends:
        problems[f"members[{listed[0]}].email"] = (
            "This is the lead booker's address, but the lead does not attend: set lead.attends to true, "
            "or give this member's own address."
        )
    return members


def check_members(
    members: list[GroupMember],
    questions: list[Question],
    ticket: TicketType,
    problems: dict[str, str],
    *,
    offset: int = 0,
    prefix: str = "members",
) -> list[dict[str, Any]]:
    """Each member's checked answers; problems named `members[i].field` (i: the index in the body)."""
    seen: dict[str, int] = {}
    checked: list[dict[str, Any]] = []
    for i, member in enumerate(members):
        # The attending lead added in front of the members (offset 1) is named "lead".
        where = ("lead" if i < offset else f"{prefix}[{i - offset}]") if prefix else ""
        key = member.email.lower()
        if key in seen:
            problems[f"{where}.email".lstrip(".")] = (
                f"This email address is also given for member {seen[key] - offset + 1}: each member needs their "
                "own address."
            )
        seen.setdefault(key, i)
        try:
            checked.append(answers.check_answers(questions, ticket_type_id=ticket.id, given=member.answers))
        except errors.InvalidInput as exc:
            checked.append({})
            for name, text in (exc.fields or {}).items():
                if where == "lead":
                    text = f"{text.rstrip('.')}: the lead attends, so list them among the members with their answers."
                problems[f"{where}.{name}".lstrip(".")] = text
    return checked
