"""Registering through the web: the form's fields in order with their labels, and the one `register` that the
JSON API and the registration form share."""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request

from conference import registration
from conference.core.audit import Actor
from conference.core.models import PaymentMethod, Status
from conference.core.schemas import RegistrationCreate
from conference.group_commit import RegistrationQueue
from conference.web.request import database, payment_gateway, settings

FIELD_ORDER = [
    "name",
    "email",
    "organisation",
    "job_title",
    "sector",
    "region",
    "ticket_type_id",
    "code",
    "payment_method",
    "billing_organisation",
    "billing_contact_name",
    "billing_email",
    "billing_address",
    "billing_purchase_order",
    "dietary",
    "access_needs",
    "consent",
]
FIELD_LABELS = {
    "name": "Full name",
    "email": "Email address",
    "organisation": "Organisation",
    "job_title": "Job title",
    "sector": "Sector",
    "region": "Region",
    "ticket_type_id": "Ticket type",
    "code": "Code",
    "payment_method": "Payment",
    "billing_organisation": "Organisation to invoice",
    "billing_contact_name": "Finance contact",
    "billing_email": "Finance contact's email",
    "billing_address": "Invoice address",
    "billing_purchase_order": "Purchase order number",
    "dietary": "Dietary requirements",
    "access_needs": "Access needs",
    "consent": "Privacy notice",
}


async def register(
    request: Request, data: RegistrationCreate, *, idempotency_key: str | None = None, body: Any = None
) -> registration.Registered:
    """Shared by the JSON API and the form: one transaction (the mail sender wakes when it commits)."""
    s = settings(request)
    actor = Actor("anonymous")
    fingerprint = registration.request_fingerprint(body) if idempotency_key else ""
    if s.test_unsafe_no_capacity_lock:
        # The race tests' negative control: the capacity lock off, each registration on its own.
        async with database(request).transaction() as db:
            result = await registration.register(
                db,
                settings=s,
                data=data,
                actor=actor,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
                database=database(request),
            )
    else:
        queue: RegistrationQueue = request.app.state.registrations
        result = await queue.register(
            registration.RegistrationRequest(data, actor, idempotency_key, fingerprint)
        )
    if result.row["status"] == Status.pending_payment and result.row["payment_method"] == PaymentMethod.card:
        checkout = await payment_gateway(request).checkout(database(request), s, result.row["id"])
        result = dataclasses.replace(result, checkout_url=checkout.url, payment_error=checkout.error)
    return result
