"""The JSON schemas the document reuses: small building blocks, and the answers described by hand."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from conference.core.models import Sector, Status
from conference.core.registration_window import RegistrationState
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
        },
        {
            # The event settings (issue 17): the registration window, venue details, public texts, contact.
            "registration_opens_at": nullable(WHEN),
            "registration_closes_at": nullable(WHEN),
            "registration_state": {"enum": [s.value for s in RegistrationState]},
            "refund_full_until": nullable(WHEN),
            "venue_address": TEXT,
            "travel_notes": TEXT,
            "accessibility_notes": TEXT,
            "privacy_notice": TEXT,
            "accessibility_statement": TEXT,
            "contact_email": nullable(TEXT),
        },
    ),
    "Question": obj(
        {
            "id": UUID,
            "label": TEXT,
            "kind": {
                "enum": ["text", "long_text", "number", "yes_no", "single_choice", "multiple_choice", "date"]
            },
            "required": BOOL,
            "help_text": TEXT,
            "options": {"type": "array", "items": TEXT},
            "ticket_type_ids": {"type": "array", "items": UUID},
            "position": INT,
            "on_badge": BOOL,
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
            "available_from": nullable(WHEN),
            "available_until": nullable(WHEN),
            "cap": nullable(INT),
            "approval": {"enum": ["none", "manual", "domain"]},
            "invoice_confirms": BOOL,
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
            # The place's net price after any code (pence), the code it was booked with, its group booking.
            "price_pence": INT,
            "currency": TEXT,
            "code": nullable(obj({"id": UUID, "text": TEXT, "label": TEXT})),
            "group": nullable(obj({"id": UUID, "reference": TEXT})),
            # By question id: the answer with the question as it was asked (conference/answers.py).
            "answers": {
                "type": "object",
                "additionalProperties": obj(
                    {"label": TEXT, "kind": TEXT, "version": INT, "value": {}, "text": TEXT}
                ),
            },
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
