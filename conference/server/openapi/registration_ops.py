"""Operations of the table: the conference, registrations, payments and invoices."""

from __future__ import annotations

from conference.api.invoices import CreditRequest, MarkPaidRequest
from conference.core.models import Status
from conference.core.schemas import ConferenceUpdate, RegistrationCreate, ResendLink
from conference.server.openapi.operation import ATTENDEE, ORGANISER, PUBLIC, Op, Q
from conference.server.openapi.schemas import CSV, OBJECT, PDF, TEXT, WHEN, listing, nullable, obj, ref

TICKET_TYPES = {"type": "array", "items": "TicketType"}

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
        "GET",
        "/questions",
        "The registration questions (answered in `answers`, by id)",
        PUBLIC,
        {"type": "array", "items": "Question"},
        tag="registration",
    ),
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
        body=MarkPaidRequest,
        body_required=False,
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
)
