"""Operations of the table: group bookings (a lead books several colleagues; conference/api/groups.py)."""

from __future__ import annotations

from typing import Any

from conference.groups import GroupCreate, MemberCreate
from conference.server.openapi.operation import ORGANISER, PUBLIC, Op, Q
from conference.server.openapi.schemas import (
    BOOL,
    CSV,
    INT,
    OBJECT,
    PDF,
    TEXT,
    UUID,
    WHEN,
    listing,
    nullable,
    obj,
    ref,
)

LEAD = ("the group's lead (the private link in the path)",)

MEMBER_BOOKED: dict[str, Any] = obj(
    {"id": UUID, "reference": TEXT, "email": TEXT, "status": TEXT, "manage_token": TEXT}
)
GROUP_BOOKED: dict[str, Any] = obj(
    {
        "id": UUID,
        "reference": TEXT,
        "manage_token": TEXT,
        "status": TEXT,
        "members": {"type": "array", "items": MEMBER_BOOKED},
        "invoice_number": nullable(TEXT),
        "checkout_url": nullable(TEXT),
    },
    {"payment_error": TEXT},
)
GROUP: dict[str, Any] = obj(
    {
        "id": UUID,
        "reference": TEXT,
        "lead": obj({"name": TEXT, "email": TEXT, "attends": BOOL}),
        "organisation": TEXT,
        "sector": TEXT,
        "ticket_type": obj({"id": UUID, "name": TEXT}),
        "payment_method": TEXT,
        "billing": nullable(OBJECT),
        "created_at": WHEN,
        "cancelled_at": nullable(WHEN),
        "places_held": INT,
        "members": {
            "type": "array",
            "items": obj(
                {
                    "id": UUID,
                    "reference": TEXT,
                    "name": TEXT,
                    "email": TEXT,
                    "status": TEXT,
                    "job_title": TEXT,
                }
            ),
        },
        "invoices": {"type": "array", "items": ref("Invoice")},
    }
)

OPERATIONS: tuple[Op, ...] = (
    Op(
        "POST",
        "/groups",
        "Book a group: every member gets a place, or nothing is booked",
        PUBLIC,
        GROUP_BOOKED,
        status=201,
        body=GroupCreate,
        errors=(409, 429),
        tag="groups",
        extra={
            "description": "409 `not_enough_places` (with `remaining`) when the group does not fit and `if_full` "
            "is `refuse`; 409 `already_registered` naming each `members[i].email`; 422 names each member's "
            "field as `members[i].field`.",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                }
            ],
        },
    ),
    Op(
        "GET",
        "/groups",
        "Group bookings, newest first",
        ORGANISER,
        listing(GROUP),
        query=(
            Q("q", TEXT, "part of the reference, the organisation or the lead's email"),
            Q("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
            Q("offset", {"type": "integer", "minimum": 0}),
        ),
        tag="groups",
    ),
    Op("GET", "/groups/{group_id}", "One group booking", ORGANISER, GROUP, tag="groups"),
    Op("GET", "/groups/manage/{token}", "The lead's view of the group", LEAD, GROUP, tag="groups"),
    Op(
        "POST",
        "/groups/manage/{token}/members",
        "Add a member while places remain",
        LEAD,
        {"allOf": [GROUP, obj({"added": MEMBER_BOOKED})]},
        status=201,
        body=MemberCreate,
        errors=(409,),
        tag="groups",
    ),
    Op(
        "DELETE",
        "/groups/manage/{token}/members/{registration_id}",
        "Cancel one member (credit note for their line, or a partial card refund)",
        LEAD,
        GROUP,
        errors=(409,),
        tag="groups",
    ),
    Op(
        "POST",
        "/groups/manage/{token}/members/{registration_id}/substitute",
        "Give a member's place to a colleague",
        LEAD,
        {"allOf": [GROUP, obj({"substituted": MEMBER_BOOKED})]},
        body=MemberCreate,
        errors=(409,),
        tag="groups",
    ),
    Op(
        "POST",
        "/groups/manage/{token}/checkout",
        "Open (or reuse) the group's card payment page",
        LEAD,
        obj({"checkout_url": TEXT}),
        errors=(409,),
        tag="groups",
        extra={
            "description": "409 when nothing is waiting to be paid by card; 503 when the page cannot be opened."
        },
    ),
    Op(
        "GET",
        "/groups/manage/{token}/members.csv",
        "The group's members as CSV",
        LEAD,
        content=CSV,
        tag="groups",
    ),
    Op(
        "GET",
        "/groups/manage/{token}/invoices/{invoice_id}.pdf",
        "The group's invoice (or a credit note) as a PDF",
        LEAD,
        content=PDF,
        tag="groups",
    ),
)
