"""Errors a client can cause, each with a machine code and a sentence a person can act on.

    DomainError (409 unless stated)
    ├── NotFound (404)
    ├── Unauthorised (401)
    ├── Forbidden (403)
    ├── InvalidInput (422, with per-field messages)
    │   └── MalformedRequest (400)
    ├── AlreadyRegistered
    ├── RegistrationClosed
    ├── TicketTypeUnavailable
    ├── AlreadyCancelled
    ├── EventOver
    ├── IdempotencyKeyReused (422)
    ├── IdempotencyKeySuperseded
    ├── PayloadTooLarge (413)
    ├── RateLimited (429)
    ├── InvalidSignature (400, a Stripe webhook)
    └── ServiceUnavailable (503)

Handlers in `conference/server/app.py` map them once: JSON `{"error": {"code", "message", "fields"?}}` (API.md).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse


class DomainError(Exception):
    status_code = 409
    code = "conflict"
    message = "This conflicts with the current state."

    def __init__(self, message: str | None = None, *, fields: dict[str, str] | None = None) -> None:
        self.message = message or type(self).message
        self.fields = fields
        super().__init__(self.message)

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return {"error": body}

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(self.payload(), status_code=self.status_code, headers=headers)


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    message = "Nothing exists at this address."


class Unauthorised(DomainError):
    status_code = 401
    code = "unauthorised"
    message = "Send a valid token as 'Authorization: Bearer <token>'."


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"
    message = "Your role does not allow this."


class InvalidInput(DomainError):
    status_code = 422
    code = "validation_error"
    message = "Some fields need correcting."


class MalformedRequest(InvalidInput):
    status_code = 400
    code = "malformed_request"
    message = "The request body could not be read."


class AlreadyRegistered(DomainError):
    code = "already_registered"
    message = "This email address is already registered. We can send the link to manage the booking again."


class RegistrationClosed(DomainError):
    code = "registration_closed"
    message = "Registration is closed."


class TicketTypeUnavailable(DomainError):
    code = "ticket_type_unavailable"
    message = "This ticket type is sold out; choose another."


class AlreadyCancelled(DomainError):
    code = "already_cancelled"
    message = "This registration is already cancelled."


class EventOver(DomainError):
    code = "event_over"
    message = (
        "The event is over, so this place can no longer be cancelled. For a question about a payment, contact "
        "the organisers."
    )


class IdempotencyKeyReused(DomainError):
    status_code = 422
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was used with a different request; use a new key for a new request."


class IdempotencyKeySuperseded(DomainError):
    code = "idempotency_key_superseded"
    message = (
        "The booking this Idempotency-Key made has changed hands or had its manage link reissued since, so a retry "
        "no longer gives its link; the delegate can ask for it again (resend-link)."
    )


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"
    message = "The request body is too large."


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"
    message = "Too many requests from your address; wait a minute and try again."


class InvalidSignature(DomainError):
    status_code = 400
    code = "invalid_signature"
    message = "The Stripe-Signature header does not match this body, or it is too old."


class ServiceUnavailable(DomainError):
    status_code = 503
    code = "service_unavailable"
    message = "The service is briefly unavailable; please try again in a moment."


_PYDANTIC_MESSAGES = {
    "bool_type": "Give true or false.",
    "bool_parsing": "Give true or false.",
    "uuid_parsing": "Give the id of one of the ticket types listed at /api/v1/ticket-types.",
    "uuid_type": "Give the id of one of the ticket types listed at /api/v1/ticket-types.",
    "extra_forbidden": "This field is not accepted; remove it.",
    "string_type": "Give text here.",
    "int_type": "Give a whole number, for example 45.",
    "int_parsing": "Give a whole number, for example 45.",
}
# How a field is named in a sentence ("Enter your job title"), where its API name does not read as words.
_FIELD_WORDS = {
    "duration_minutes": "length",
    "audience_level": "audience",
    "ticket_type_id": "ticket type",
    "email": "email address",
    "payment_method": "way of paying",
    "abstract": "summary of the talk",
}
# Why a required field is needed, said to the person filling it in (fields named alike in every form only).
_WHY_NEEDED = {
    "name": "it is shown on badges, in lists and in the programme",
    "email": "we send the confirmation and any news there",
    "organisation": "it is shown with the name, on badges and in the programme",
    "title": "it is how the programme lists it",
    "abstract": "reviewers read it to choose the programme",
    "format": "each format has its own lengths and rooms",
    "duration_minutes": "the programme needs to know how long a slot to give it",
}
_EMPTY_CHOICE_KINDS = {"enum", "int_type", "int_parsing", "uuid_type", "uuid_parsing", "literal_error"}


def _field(loc: tuple[int | str, ...]) -> str:
    """The field's own name: the last part of its location that is not a list index."""
    return next((str(p) for p in reversed(loc) if not isinstance(p, int)), "")


def _required(name: str, *, choice: bool) -> str:
    """Which field is missing and why it is asked for ("Enter the organisation: it is shown with the name, ...")."""
    words = _FIELD_WORDS.get(name, name.replace("_", " ")) or "value"
    why = _WHY_NEEDED.get(name, "this form cannot be sent without it")
    return f"{'Choose' if choice else 'Enter'} the {words}: {why}."


def from_validation_error(exc: ValidationError) -> InvalidInput:
    fields: dict[str, str] = {}
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]) or "body"
        kind = err["type"]
        given = err.get("input")
        field = _field(tuple(err["loc"]))
        # A text with a validator of its own (core/text.py) and a limit reports `too_long`, as a list would.
        if kind == "string_too_long" or (kind == "too_long" and isinstance(given, str)):
            text = f"Use at most {err['ctx']['max_length']} characters."
        elif kind == "missing" or (kind == "string_too_short" and not str(given or "").strip()):
            text = _required(field, choice=field.endswith("_id") or field in ("format", "duration_minutes"))
        elif kind == "string_too_short":
            text = f"Use at least {err['ctx']['min_length']} characters."
        elif kind in _EMPTY_CHOICE_KINDS and given in (None, ""):
            # Nothing chosen from a list (a form's drop-down left at "Choose ..."): which one, not its values.
            text = _required(field, choice=True)
        elif kind == "enum":
            text = f"Choose one of: {err['ctx']['expected']}."
        elif kind == "value_error":
            text = str(err["msg"]).removeprefix("Value error, ")
            if name.endswith("email"):
                text = "Enter an email address like name@council.gov.uk."
        elif kind in ("greater_than_equal", "less_than_equal"):
            text = str(err["msg"]).capitalize() + "."
        else:
            text = _PYDANTIC_MESSAGES.get(kind, str(err["msg"]))
        fields.setdefault(name, text)
    return InvalidInput(fields=fields)
