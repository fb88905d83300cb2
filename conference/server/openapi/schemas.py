"""The JSON schemas the document reuses: small building blocks, and the answers described by hand."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from conference.core.models import Sector, Status
from conference.core.schemas import RegistrationCreated
from sessions.models import ProposalStatus

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

# Answers that are not JSON.
PDF = {"application/pdf": {"schema": {"type": "string", "contentMediaType": "application/pdf"}}}
PNG = {"image/png": {"schema": {"type": "string", "contentMediaType": "image/png"}}}
CSV = {"text/csv": {"schema": {"type": "string"}}}
