"""The OpenAPI 3.1 document of the JSON API (every route under /api/v1), served at GET /api/v1/openapi.json.

The document is built from the table OPERATIONS below: one row per (method, path) with who may call it, the query
parameters the handler reads, the pydantic model it validates the body with, its success answers and the errors
it can give. Request bodies come from the models themselves (`model_json_schema`), so a changed field changes the
document; answers without a model are described by hand in RESPONSES, loosely (objects may carry more fields),
so that what is written is true. tests/conference/test_openapi.py fails when a route of the app has no row here
(or a row has no route), when the document is not valid OpenAPI 3.1, or when a real answer does not match it; the
fuzz test (tests/fuzz/) runs every operation against a live server with schemathesis.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from badges.checkin_api import ScanIn, SyncIn
from conference.api.invoices import CreditRequest
from conference.core.models import (
    MAX_INT,
    ConferenceUpdate,
    RegistrationCreate,
    RegistrationCreated,
    ResendLink,
    Sector,
    Status,
)
from sessions.models import (
    BookingPhaseUpdate,
    CallUpdate,
    ChoiceRanking,
    DecisionBulk,
    ProposalCreate,
    ProposalStatus,
    ProposalUpdate,
    ReviewerInvite,
    ReviewIn,
    RoomCreate,
    RoomUpdate,
    SeatRequest,
    SessionCreate,
    SessionUpdate,
    StarsIn,
    TimeSlotCreate,
)
from sessions.schedule.api import ScheduleBuild, SchedulePublish, WorkshopMove
from sessions.schedule.pages import cached

PREFIX = "/api/v1"

# --- who may call -----------------------------------------------------------------------------------------------

PUBLIC: tuple[str, ...] = ()
ORGANISER = ("organiser",)
STAFF = ("staff", "organiser")
ATTENDEE = ("attendee (own registration)", "organiser")
SPEAKER = ("speaker (the proposal's own token)",)
REVIEWER = ("reviewer",)

# --- reusable schemas --------------------------------------------------------------------------------------------

OBJECT: dict[str, Any] = {"type": "object"}
UUID = {"type": "string", "format": "uuid"}
WHEN = {"type": "string", "format": "date-time"}
TEXT = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object with these fields (more may come: documented answers grow, they don't shrink)."""
    return {"type": "object", "required": list(required), "properties": {**required, **(optional or {})}}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def listing(item: dict[str, Any]) -> dict[str, Any]:
    return obj({"data": {"type": "array", "items": item}, "count": INT})


# Answers described by hand: the fields the docs promise; `obj` leaves room for more.
RESPONSES: dict[str, dict[str, Any]] = {
    "Error": obj(
        {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {
                    "code": TEXT,
                    "message": TEXT,
                    "fields": {"type": "object", "additionalProperties": TEXT},
                },
            }
        }
    ),
    "Conference": obj(
        {
            "name": TEXT,
            "venue": TEXT,
            "starts_at": WHEN,
            "ends_at": WHEN,
            "timezone": TEXT,
            "capacity": INT,
            "registered": INT,
            "remaining": INT,
            "waitlisted": INT,
            "registration_open": BOOL,
            "retention_days": nullable(INT),
        }
    ),
    "TicketType": obj(
        {
            "id": UUID,
            "name": TEXT,
            "description": TEXT,
            "price_pence": INT,
            "vat_rate_percent": {"type": "number"},
            "total_pence": INT,
            "currency": TEXT,
            "available": BOOL,
            "requires_approval": BOOL,
            "payment_methods": {"type": "array", "items": {"enum": ["card", "invoice"]}},
        }
    ),
    "Registration": obj(
        {
            "id": UUID,
            "reference": TEXT,
            "status": {"enum": [s.value for s in Status]},
            "name": TEXT,
            "organisation": TEXT,
            "ticket_type": obj({"id": UUID, "name": TEXT}),
            "waitlist_position": nullable(INT),
            "sessions": {"type": "array"},
        },
        {
            # Staff get only the fields above (what check-in needs); organisers and the attendee get these too.
            "email": TEXT,
            "sector": {"enum": [s.value for s in Sector]},
            "job_title": TEXT,
            "region": TEXT,
            "dietary": TEXT,
            "access_needs": TEXT,
            "created_at": WHEN,
            "cancelled_at": nullable(WHEN),
        },
    ),
    "Room": obj({"id": UUID, "name": TEXT, "capacity": INT, "accessibility": TEXT, "position": INT}),
    "Slot": obj({"id": UUID, "starts_at": WHEN, "ends_at": WHEN, "label": TEXT}),
    "Session": obj(
        {
            "id": UUID,
            "title": TEXT,
            "description": TEXT,
            "kind": {"enum": ["plenary", "workshop", "talk"]},
            "theme": TEXT,
            "speakers": TEXT,
            "starts_at": WHEN,
            "ends_at": WHEN,
            "slot_count": INT,
            "room": nullable(TEXT),
            "room_id": nullable(UUID),
            "room_accessibility": TEXT,
            "capacity": nullable(INT),
            "bookable": BOOL,
            "booked": INT,
            "remaining": nullable(INT),
            "waitlisted": INT,
            "cancelled": BOOL,
        }
    ),
    "Seat": obj(
        {"status": {"enum": ["booked", "waitlisted", "cancelled"]}, "session_id": UUID},
        {"waitlist_position": nullable(INT)},
    ),
    "Choices": obj({"choices": {"type": "array", "items": obj({"session_id": UUID, "rank": INT})}}),
    "BookingPhase": obj({"choices_open": BOOL, "booking_open": BOOL}),
    "Call": obj(
        {
            "open": BOOL,
            "opens_at": nullable(WHEN),
            "closes_at": nullable(WHEN),
            "themes": {"type": "array", "items": TEXT},
            "formats": {
                "type": "array",
                "items": obj({"format": TEXT, "label": TEXT, "durations": {"type": "array", "items": INT}}),
            },
            "audience_levels": {"type": "array", "items": TEXT},
            "anonymous_review": BOOL,
            "days": {"type": "array", "items": TEXT},
            "time_slots": {"type": "array", "items": OBJECT},
        }
    ),
    "ProposalCreated": obj(
        {"id": UUID, "status": {"enum": [s.value for s in ProposalStatus]}, "edit_token": TEXT}
    ),
    "Proposal": obj({"id": UUID, "status": {"enum": [s.value for s in ProposalStatus]}, "title": TEXT}),
    "Decided": obj({"id": UUID, "status": {"enum": [s.value for s in ProposalStatus]}}),
    "Reviewer": obj(
        {"id": UUID, "name": TEXT, "email": TEXT, "reviews": INT, "invited_at": WHEN, "revoked": BOOL}
    ),
    "Review": obj({"relevance": INT, "impact": INT, "transferability": INT}),
    "Stars": obj(
        {"stars": {"type": "array", "items": obj({"proposal_id": UUID, "title": TEXT, "status": TEXT})}}
    ),
    "Programme": obj(
        {
            "version": {"type": ["integer", "string"]},
            "conference": obj(
                {
                    "name": TEXT,
                    "venue": TEXT,
                    "timezone": TEXT,
                    "starts_at": WHEN,
                    "ends_at": WHEN,
                    "days": {"type": "array", "items": {"type": "string", "format": "date"}},
                }
            ),
            "themes": {"type": "array", "items": TEXT},
            "rooms": {"type": "array", "items": obj({"id": UUID, "name": TEXT, "capacity": INT})},
            "days": {
                "type": "array",
                "items": obj(
                    {
                        "date": {"type": "string", "format": "date"},
                        "slots": {
                            "type": "array",
                            "items": obj(
                                {
                                    "id": UUID,
                                    "starts_at": WHEN,
                                    "ends_at": WHEN,
                                    "sessions": {
                                        "type": "array",
                                        "items": obj(
                                            {
                                                "id": UUID,
                                                "title": TEXT,
                                                "kind": TEXT,
                                                "starts_at": WHEN,
                                                "ends_at": WHEN,
                                                "bookable": BOOL,
                                                "remaining": nullable(INT),
                                            }
                                        ),
                                    },
                                }
                            ),
                        },
                    }
                ),
            },
            "count": INT,
        }
    ),
    "Scan": obj(
        {
            "result": {
                "enum": [
                    "ok",
                    "already_checked_in",
                    "invalid",
                    "cancelled",
                    "unpaid",
                    "not_booked",
                    "no_place",
                ]
            },
            "attendee": nullable(OBJECT),
            "checked_in_at": nullable(WHEN),
        },
        {"message": TEXT, "first_checkin": OBJECT, "conflict": BOOL},
    ),
    "Invoice": obj({"id": UUID}),
    "Erasure": obj(
        {
            "id": UUID,
            "reference": TEXT,
            "status": {"enum": [s.value for s in Status]},
            "erased_at": WHEN,
            "already_erased": BOOL,
            "cancelled": BOOL,
            "refund_pence": INT,
            "credit_notes": INT,
            "message": TEXT,
        }
    ),
}

# Pydantic models the API answers with (besides the hand-written shapes above).
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (RegistrationCreated,)

# --- the table -------------------------------------------------------------------------------------------------

PDF = {"application/pdf": {"schema": {"type": "string", "contentMediaType": "application/pdf"}}}
PNG = {"image/png": {"schema": {"type": "string", "contentMediaType": "image/png"}}}
CSV = {"text/csv": {"schema": {"type": "string"}}}


@dataclass(frozen=True)
class Q:
    """A query parameter the handler reads."""

    name: str
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Op:
    method: str
    path: str  # under /api/v1, in OpenAPI's {name} form
    summary: str
    roles: tuple[str, ...]  # () = anyone
    ok: dict[str, Any] | str | None = None  # a schema, a RESPONSES/model name, or None for an empty answer
    status: int = 200
    body: type[BaseModel] | dict[str, Any] | None = None
    body_required: bool = True
    query: tuple[Q, ...] = ()
    content: dict[str, Any] | None = None  # a non-JSON answer: {media type: {schema}}
    errors: tuple[int, ...] = ()  # besides those every operation of its kind can give (see `_errors`)
    cached: bool = False  # ETag and If-None-Match: 304
    tag: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


TICKET_TYPES = {"type": "array", "items": "TicketType"}
LIST_ALLOCATION = obj({"seed": INT, "applied": BOOL, "status": TEXT})
ALLOCATION_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "seed": {"type": "integer", "minimum": 0, "maximum": MAX_INT, "default": 1},
        "apply": {"type": "boolean", "default": False},
        "time_limit_seconds": {"type": "number", "minimum": 1, "maximum": 120, "default": 20},
    },
}
FILTER_THEME = Q("theme", {"type": "array", "items": TEXT}, "a theme (repeatable); an unknown one is 400")
FILTER_DAY = Q(
    "day",
    {"type": "array", "items": {"type": "string", "format": "date"}},
    "a conference day YYYY-MM-DD (repeatable); another is 400",
)
LAYOUT = Q("layout", {"enum": ["a6-4", "a4-8"]}, "the badge sheet layout")

OPERATIONS: tuple[Op, ...] = (
    # --- the conference and registrations ----------------------------------------------------------------------
    Op("GET", "/openapi.json", "This document", PUBLIC, OBJECT, cached=True, tag="meta"),
    Op("GET", "/conference", "The conference with its places", PUBLIC, "Conference", tag="registration"),
    Op(
        "PATCH",
        "/conference",
        "Change the conference",
        ORGANISER,
        "Conference",
        body=ConferenceUpdate,
        errors=(409,),
        tag="registration",
    ),
    Op("GET", "/ticket-types", "Ticket types delegates may choose", PUBLIC, TICKET_TYPES, tag="registration"),
    Op(
        "POST",
        "/registrations",
        "Register",
        PUBLIC,
        "RegistrationCreated",
        status=201,
        body=RegistrationCreate,
        errors=(409, 429),
        tag="registration",
        extra={
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                }
            ]
        },
    ),
    Op(
        "GET",
        "/registrations",
        "Every registration (or a CSV)",
        ORGANISER,
        listing(ref("Registration")),
        query=(
            Q("status", {"enum": [s.value for s in Status]}),
            Q("q", TEXT, "name, email, organisation, reference"),
            Q("format", {"enum": ["json", "csv"]}),
        ),
        content=CSV,
        tag="registration",
    ),
    Op(
        "POST",
        "/registrations/resend-link",
        "Email the manage link again",
        PUBLIC,
        obj({"message": TEXT}),
        status=202,
        body=ResendLink,
        errors=(429,),
        tag="registration",
    ),
    Op(
        "GET",
        "/registrations/{registration_id}",
        "One registration",
        ("attendee (own)", "staff", "organiser"),
        "Registration",
        tag="registration",
    ),
    Op(
        "DELETE",
        "/registrations/{registration_id}",
        "Cancel a registration",
        ATTENDEE,
        "Registration",
        errors=(409,),
        tag="registration",
    ),
    Op(
        "POST",
        "/registrations/{registration_id}/approve",
        "Approve",
        ORGANISER,
        "Registration",
        errors=(409,),
        tag="registration",
    ),
    Op(
        "POST",
        "/registrations/{registration_id}/reject",
        "Reject",
        ORGANISER,
        "Registration",
        errors=(409,),
        tag="registration",
    ),
    Op("GET", "/outbox", "The mail queue", ORGANISER, listing(OBJECT), tag="registration"),
    Op(
        "GET",
        "/registrations/{registration_id}/personal-data",
        "Everything held about a delegate",
        ATTENDEE,
        OBJECT,
        errors=(429,),
        tag="personal data",
    ),
    Op(
        "POST",
        "/registrations/{registration_id}/erasure",
        "Erase a delegate's personal data",
        ATTENDEE,
        "Erasure",
        errors=(409,),
        tag="personal data",
    ),
    Op(
        "GET",
        "/dashboard",
        "The organisers' dashboard figures",
        ORGANISER,
        obj({"generated_at": WHEN, "conference": OBJECT, "registrations": OBJECT, "places": OBJECT}),
        tag="registration",
    ),
    # --- payments and invoices -------------------------------------------------------------------------------
    Op(
        "POST",
        "/registrations/{registration_id}/checkout",
        "Open (or reuse) the card payment page",
        ATTENDEE,
        obj({"checkout_url": TEXT}),
        errors=(409,),
        tag="payments",
        extra={"description": "503 when the card gateway cannot open a page (or is not set up)."},
    ),
    Op(
        "GET",
        "/registrations/{registration_id}/payments",
        "What a registration has paid",
        ATTENDEE,
        obj(
            {
                "status": TEXT,
                "payment_method": TEXT,
                "hold_expires_at": nullable(WHEN),
                "invoices": {"type": "array"},
            }
        ),
        tag="payments",
    ),
    Op(
        "GET",
        "/registrations/{registration_id}/invoices",
        "A registration's invoices",
        ATTENDEE,
        listing(ref("Invoice")),
        tag="payments",
    ),
    Op("GET", "/invoices/{invoice_id}.pdf", "An invoice as a PDF", ATTENDEE, content=PDF, tag="payments"),
    Op(
        "POST",
        "/invoices/{invoice_id}/paid",
        "Mark an invoice paid",
        ORGANISER,
        "Invoice",
        errors=(409,),
        tag="payments",
    ),
    Op(
        "POST",
        "/invoices/{invoice_id}/credit",
        "Credit an invoice (and cancel)",
        ORGANISER,
        obj({"credit_note": ref("Invoice"), "invoice": ref("Invoice"), "registration": OBJECT}),
        status=201,
        body=CreditRequest,
        body_required=False,
        errors=(409,),
        tag="payments",
    ),
    # --- rooms, slots, sessions, seats -------------------------------------------------------------------------
    Op("GET", "/rooms", "Rooms", PUBLIC, {"type": "array", "items": "Room"}, tag="programme"),
    Op(
        "POST",
        "/rooms",
        "Add a room",
        ORGANISER,
        "Room",
        status=201,
        body=RoomCreate,
        errors=(409,),
        tag="programme",
    ),
    Op(
        "PATCH",
        "/rooms/{room_id}",
        "Change a room",
        ORGANISER,
        "Room",
        body=RoomUpdate,
        errors=(409,),
        tag="programme",
    ),
    Op(
        "DELETE",
        "/rooms/{room_id}",
        "Remove a room",
        ORGANISER,
        None,
        status=204,
        errors=(409,),
        tag="programme",
    ),
    Op("GET", "/slots", "Time slots", PUBLIC, {"type": "array", "items": "Slot"}, tag="programme"),
    Op(
        "POST",
        "/slots",
        "Add a time slot",
        ORGANISER,
        "Slot",
        status=201,
        body=TimeSlotCreate,
        errors=(409,),
        tag="programme",
    ),
    Op(
        "DELETE",
        "/slots/{slot_id}",
        "Remove a time slot",
        ORGANISER,
        None,
        status=204,
        errors=(409,),
        tag="programme",
    ),
    Op(
        "GET",
        "/sessions",
        "Sessions not cancelled",
        PUBLIC,
        {"type": "array", "items": "Session"},
        tag="programme",
    ),
    Op(
        "POST",
        "/sessions",
        "Add a session",
        ORGANISER,
        "Session",
        status=201,
        body=SessionCreate,
        errors=(409,),
        tag="programme",
    ),
    Op("GET", "/sessions/{session_id}", "One session", PUBLIC, "Session", tag="programme"),
    Op(
        "PATCH",
        "/sessions/{session_id}",
        "Change, move or cancel a session",
        ORGANISER,
        "Session",
        body=SessionUpdate,
        errors=(409,),
        tag="programme",
    ),
    Op(
        "DELETE",
        "/sessions/{session_id}",
        "Remove a session without bookings",
        ORGANISER,
        None,
        status=204,
        errors=(409,),
        tag="programme",
    ),
    Op(
        "GET",
        "/sessions/{session_id}/delegates.{fmt}",
        "The room sheet",
        ORGANISER,
        content={**CSV, **PDF},
        tag="programme",
    ),
    Op(
        "POST",
        "/registrations/{registration_id}/sessions",
        "Book a seat",
        ATTENDEE,
        "Seat",
        status=201,
        body=SeatRequest,
        errors=(409,),
        tag="programme",
    ),
    Op(
        "DELETE",
        "/registrations/{registration_id}/sessions/{session_id}",
        "Give a seat up",
        ATTENDEE,
        "Seat",
        errors=(409,),
        tag="programme",
    ),
    Op(
        "GET",
        "/registrations/{registration_id}/choices",
        "Ranked choices",
        ATTENDEE,
        "Choices",
        tag="programme",
    ),
    Op(
        "PUT",
        "/registrations/{registration_id}/choices",
        "Replace the ranked choices",
        ATTENDEE,
        "Choices",
        body=ChoiceRanking,
        errors=(409,),
        tag="programme",
    ),
    Op("GET", "/seat-booking", "When delegates may rank and book", PUBLIC, "BookingPhase", tag="programme"),
    Op(
        "PATCH",
        "/seat-booking",
        "Open or close ranking and booking",
        ORGANISER,
        "BookingPhase",
        body=BookingPhaseUpdate,
        tag="programme",
    ),
    Op(
        "POST",
        "/allocation",
        "Run the fair allocation of ranked choices",
        ORGANISER,
        LIST_ALLOCATION,
        body=ALLOCATION_BODY,
        body_required=False,
        errors=(409,),
        tag="programme",
    ),
    # --- the call for talks, review, stars ---------------------------------------------------------------------
    Op("GET", "/call", "The call for talks", PUBLIC, "Call", tag="talks"),
    Op("PATCH", "/call", "Change the call", ORGANISER, "Call", body=CallUpdate, tag="talks"),
    Op("GET", "/talks", "Talks delegates may star", PUBLIC, listing(OBJECT), tag="talks"),
    Op(
        "POST",
        "/proposals",
        "Submit a talk",
        PUBLIC,
        "ProposalCreated",
        status=201,
        body=ProposalCreate,
        errors=(409, 429),
        tag="talks",
    ),
    Op(
        "GET",
        "/proposals",
        "Every proposal with its scores",
        ORGANISER,
        listing(ref("Proposal")),
        query=(
            Q("status", {"enum": [s.value for s in ProposalStatus]}),
            Q("sort", {"enum": ["mean", "reviews", "disagreement", "range", "stars", "submitted", "title"]}),
            Q("order", {"enum": ["desc", "asc"]}),
        ),
        tag="talks",
    ),
    Op(
        "GET",
        "/proposals/stars",
        "Demand for each talk",
        ORGANISER,
        obj({"registered": INT, "starring_delegates": INT, "count": INT, "data": {"type": "array"}}),
        tag="talks",
    ),
    Op(
        "POST",
        "/proposals/decisions",
        "Accept or reject many",
        ORGANISER,
        listing(ref("Decided")),
        body=DecisionBulk,
        errors=(409,),
        tag="talks",
    ),
    Op(
        "GET",
        "/proposals/{proposal_id}",
        "One proposal",
        SPEAKER + REVIEWER + ORGANISER,
        "Proposal",
        tag="talks",
    ),
    Op(
        "PATCH",
        "/proposals/{proposal_id}",
        "Edit a submitted proposal",
        SPEAKER,
        "Proposal",
        body=ProposalUpdate,
        errors=(409,),
        tag="talks",
    ),
    Op(
        "POST",
        "/proposals/{proposal_id}/withdraw",
        "Withdraw",
        SPEAKER,
        "Proposal",
        errors=(409,),
        tag="talks",
    ),
    Op(
        "POST",
        "/proposals/{proposal_id}/confirm",
        "Confirm an accepted talk",
        SPEAKER,
        "Proposal",
        errors=(409,),
        tag="talks",
    ),
    Op(
        "POST", "/proposals/{proposal_id}/decline", "Decline", SPEAKER, "Proposal", errors=(409,), tag="talks"
    ),
    Op("POST", "/proposals/{proposal_id}/accept", "Accept", ORGANISER, "Decided", errors=(409,), tag="talks"),
    Op("POST", "/proposals/{proposal_id}/reject", "Reject", ORGANISER, "Decided", errors=(409,), tag="talks"),
    Op("GET", "/proposals/{proposal_id}/review", "My review", REVIEWER, "Review", tag="talks"),
    Op(
        "PUT",
        "/proposals/{proposal_id}/review",
        "Write my review",
        REVIEWER,
        "Review",
        body=ReviewIn,
        errors=(409,),
        tag="talks",
    ),
    Op("GET", "/reviewers", "Reviewers", ORGANISER, listing(ref("Reviewer")), tag="talks"),
    Op(
        "POST",
        "/reviewers",
        "Invite a reviewer",
        ORGANISER,
        "Reviewer",
        status=201,
        body=ReviewerInvite,
        errors=(409,),
        tag="talks",
    ),
    Op(
        "DELETE",
        "/reviewers/{reviewer_id}",
        "Withdraw a reviewer's link",
        ORGANISER,
        None,
        status=204,
        errors=(409,),
        tag="talks",
    ),
    Op(
        "GET",
        "/review/proposals",
        "The reviewer's queue",
        REVIEWER,
        obj({"anonymous_review": BOOL, "count": INT, "reviewed": INT, "data": {"type": "array"}}),
        tag="talks",
    ),
    Op("GET", "/registrations/{registration_id}/stars", "A delegate's stars", ATTENDEE, "Stars", tag="talks"),
    Op(
        "PUT",
        "/registrations/{registration_id}/stars",
        "Replace a delegate's stars",
        ATTENDEE,
        "Stars",
        body=StarsIn,
        errors=(409,),
        tag="talks",
    ),
    # --- building and publishing the programme -----------------------------------------------------------------
    Op(
        "POST",
        "/schedule/build",
        "Build a draft programme",
        ORGANISER,
        OBJECT,
        status=201,
        body=ScheduleBuild,
        errors=(409,),
        tag="schedule",
    ),
    Op(
        "POST",
        "/schedule/publish",
        "Publish a draft",
        ORGANISER,
        OBJECT,
        body=SchedulePublish,
        errors=(404, 409),
        tag="schedule",
    ),
    Op("GET", "/schedule/versions", "Drafts and versions", ORGANISER, listing(OBJECT), tag="schedule"),
    Op("GET", "/schedule/drafts/{version_id}", "A draft or version", ORGANISER, OBJECT, tag="schedule"),
    Op(
        "PATCH",
        "/schedule/drafts/{version_id}/workshops/{key}",
        "Move a workshop by hand",
        ORGANISER,
        obj({"workshop": OBJECT, "warnings": {"type": "array"}, "figures": OBJECT, "draft": OBJECT}),
        body=WorkshopMove,
        errors=(409,),
        tag="schedule",
    ),
    Op(
        "GET",
        "/programme",
        "The published programme",
        PUBLIC,
        "Programme",
        query=(FILTER_THEME, FILTER_DAY),
        cached=True,
        tag="schedule",
    ),
    Op(
        "GET",
        "/programme.ics",
        "The programme as iCalendar",
        PUBLIC,
        query=(FILTER_THEME, FILTER_DAY),
        content={"text/calendar": {"schema": TEXT}},
        cached=True,
        tag="schedule",
    ),
    Op(
        "GET",
        "/programme.xml",
        "The programme as frab schedule XML",
        PUBLIC,
        content={"application/xml": {"schema": TEXT}},
        cached=True,
        tag="schedule",
    ),
    # --- check-in and badges -------------------------------------------------------------------------------------
    Op(
        "POST",
        "/checkins",
        "Check a delegate in",
        STAFF,
        "Scan",
        body=ScanIn,
        tag="check-in",
        extra={"parameters": [{"name": "X-Device-Id", "in": "header", "required": False, "schema": TEXT}]},
    ),
    Op(
        "POST",
        "/checkins/sync",
        "An offline scanner's queue",
        STAFF,
        obj({"results": {"type": "array", "items": ref("Scan")}, "conflicts": INT}),
        body=SyncIn,
        tag="check-in",
    ),
    Op(
        "GET",
        "/checkins/door-list",
        "What a scanner keeps to work offline",
        STAFF,
        obj(
            {
                "list": TEXT,
                "generated_at": WHEN,
                "algorithm": {"const": "Ed25519"},
                "public_key": TEXT,
                "entries": {"type": "array"},
            }
        ),
        query=(Q("list", TEXT, '"door" or a session id'),),
        tag="check-in",
    ),
    Op(
        "GET",
        "/checkins/search",
        "Find a delegate without a badge",
        STAFF,
        obj({"data": {"type": "array"}}),
        query=(Q("q", TEXT, "name, reference or organisation (2 characters or more)"),),
        tag="check-in",
    ),
    Op(
        "POST",
        "/registrations/{registration_id}/badge/reissue",
        "Reissue a badge",
        ORGANISER,
        obj({"badge_version": INT}),
        tag="check-in",
    ),
    Op(
        "GET",
        "/registrations/{registration_id}/badge.pdf",
        "A delegate's badge",
        ("attendee (own)", *STAFF),
        query=(LAYOUT,),
        content=PDF,
        errors=(409,),
        tag="check-in",
    ),
    Op(
        "GET",
        "/registrations/{registration_id}/badge.png",
        "A badge's QR code",
        ("attendee (own)", *STAFF),
        content=PNG,
        errors=(409,),
        tag="check-in",
    ),
    Op(
        "GET",
        "/badges.pdf",
        "The organisers' print run",
        ORGANISER,
        query=(
            LAYOUT,
            Q("ticket_type", TEXT),
            Q("organisation", TEXT),
            Q("not_printed", {"enum": ["1", "0", "true", "false", "yes", "no", "on", "off", ""]}),
        ),
        content=PDF,
        errors=(404,),
        tag="check-in",
    ),  # 404 no_badges: nothing matches the filters
    Op(
        "GET",
        "/badges/public-key",
        "The key badge codes are signed with",
        STAFF,
        obj({"algorithm": {"const": "Ed25519"}, "public_key": TEXT}),
        tag="check-in",
    ),
)

# Path parameters: what each one is.
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "registration_id": UUID,
    "invoice_id": UUID,
    "room_id": UUID,
    "slot_id": UUID,
    "session_id": UUID,
    "proposal_id": UUID,
    "reviewer_id": UUID,
    "version_id": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
    "key": {"type": "string", "minLength": 1},
    "fmt": {"enum": ["csv", "pdf"]},
}

ERROR_TEXT = {
    400: "Malformed request (not JSON, not an object, wrong content type, an unknown filter)",
    401: "No valid credentials",
    403: "This role may not do this",
    404: "Nothing with this id",
    409: "Conflicts with the current state",
    413: "The body is too large",
    422: "Validation error: `fields` names each wrong field",
    429: "Rate limited (Retry-After)",
    503: "Briefly unavailable (the database, or a payment gateway): retry",
}


def _errors(op: Op) -> list[int]:
    codes = {503, *op.errors}
    if op.roles:
        codes |= {401, 403}
    if "{" in op.path:
        codes.add(404)
    if op.body is not None:
        codes |= {400, 413, 422}
    if op.query:
        codes |= {400, 422}
    return sorted(codes)


def _schema(value: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(value, str):
        return ref(value)
    if value.get("type") == "array" and isinstance(value.get("items"), str):
        return {**value, "items": ref(value["items"])}
    return value


def _operation(op: Op, components: dict[str, Any]) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS[name]}
        for name in re.findall(r"\{(\w+)\}", op.path)
    ]
    parameters += [
        {
            "name": q.name,
            "in": "query",
            "required": False,
            "schema": q.schema,
            **({"description": q.description} if q.description else {}),
            **({"style": "form", "explode": True} if q.schema.get("type") == "array" else {}),
        }
        for q in op.query
    ]
    if op.cached:
        parameters.append({"name": "If-None-Match", "in": "header", "required": False, "schema": TEXT})
    parameters += op.extra.get("parameters", [])
    success: dict[str, Any] = {"description": op.summary}
    content: dict[str, Any] = {}
    if op.ok is not None:
        content["application/json"] = {"schema": _schema(op.ok)}
    content.update(op.content or {})
    if content:
        success["content"] = content
    if op.cached:
        success["headers"] = {"ETag": {"schema": TEXT}, "Cache-Control": {"schema": TEXT}}
    responses: dict[str, Any] = {str(op.status): success}
    if op.cached:
        responses["304"] = {"description": "Not modified: If-None-Match holds this ETag"}
    for code in _errors(op):
        responses[str(code)] = {"$ref": f"#/components/responses/E{code}"}
    out: dict[str, Any] = {
        "operationId": f"{op.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', op.path.lower()).strip('_')}",
        "summary": op.summary,
        "tags": [op.tag] if op.tag else [],
        "security": [{"bearer": []}] if op.roles else [],
        "responses": responses,
    }
    if op.roles:
        out["description"] = "Who: " + ", ".join(op.roles) + "."
    if "description" in op.extra:
        out["description"] = (out.get("description", "") + " " + op.extra["description"]).strip()
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        schema = op.body if isinstance(op.body, dict) else _model_schema(op.body, components)
        out["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": schema}},
        }
    return out


def _model_schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components.setdefault(model.__name__, schema)
    return ref(model.__name__)


@cache
def document() -> dict[str, Any]:
    schemas: dict[str, Any] = dict(copy.deepcopy(RESPONSES))
    for model in RESPONSE_MODELS:
        _model_schema(model, schemas)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(PREFIX + op.path, {})[op.method.lower()] = _operation(op, schemas)
    error = {"application/json": {"schema": ref("Error")}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Conference registration and programme API",
            "version": "1",
            "description": "JSON everywhere; times ISO 8601 with offset; money in integer pence. "
            'Errors are `{"error": {"code", "message", "fields"?}}`. See docs/api.md.',
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                f"E{code}": {"description": text, "content": error} for code, text in ERROR_TEXT.items()
            },
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token (staff, organiser), a delegate's manage token, a proposal's edit token "
                    "or a reviewer's link token.",
                }
            },
        },
    }


@cache
def _body() -> bytes:
    return json.dumps(document(), separators=(",", ":"), sort_keys=True).encode()


async def openapi_json(request: Request) -> Response:
    return cached(request, _body(), "application/json")  # public, max-age=60, a strong ETag; 304 on a match


routes = [
    Route("/openapi.json", openapi_json, methods=["GET"], name="api-openapi")
]  # inside the /api/v1 Mount
