"""Operations of the table: codes (complimentary places, discounts, reserved blocks), for organisers."""

from __future__ import annotations

from typing import Any

from conference.codes import STATES
from conference.core.code_models import CodeBulkCreate, CodeCreate, Discount
from conference.server.openapi.operation import ORGANISER, Op, Q
from conference.server.openapi.schemas import INT, TEXT, UUID, WHEN, listing, nullable, obj

CODE: dict[str, Any] = obj(
    {
        "id": UUID,
        "text": TEXT,
        "label": TEXT,
        "discount": {"enum": [d.value for d in Discount]},
        "value": INT,
        "max_uses": INT,
        "uses": INT,
        "uses_left": INT,
        "valid_from": nullable(WHEN),
        "valid_until": nullable(WHEN),
        "ticket_type_ids": {"type": "array", "items": TEXT},
        "reserved_places": INT,
        "reserved_until": nullable(WHEN),
        "reserved_left": INT,
        "state": {"enum": list(STATES)},
        "revoked_at": nullable(WHEN),
        "created_by": TEXT,
        "created_at": WHEN,
    }
)
USE = obj(
    {
        "registration_id": UUID,
        "reference": TEXT,
        "name": TEXT,
        "email": TEXT,
        "organisation": TEXT,
        "status": TEXT,
        "price_pence": nullable(INT),
        "created_at": WHEN,
    }
)
CODE_WITH_USES = {"allOf": [CODE, obj({"used_by": {"type": "array", "items": USE}})]}

OPERATIONS: tuple[Op, ...] = (
    Op(
        "GET",
        "/codes",
        "Codes, newest first, with their uses",
        ORGANISER,
        listing(CODE),
        query=(
            Q("q", TEXT, "part of the code's text or label"),
            Q("state", {"enum": list(STATES)}),
            Q("discount", {"enum": [d.value for d in Discount]}),
            Q("ticket_type_id", UUID, "codes that apply to this ticket type"),
        ),
        tag="codes",
    ),
    Op("POST", "/codes", "Create a code", ORGANISER, CODE, status=201, body=CodeCreate, tag="codes"),
    Op(
        "POST",
        "/codes/bulk",
        "Create codes in bulk (generated texts, the same settings)",
        ORGANISER,
        listing(CODE),
        status=201,
        body=CodeBulkCreate,
        tag="codes",
    ),
    Op("GET", "/codes/{code_id}", "A code with who used it", ORGANISER, CODE_WITH_USES, tag="codes"),
    Op("POST", "/codes/{code_id}/revoke", "Revoke a code", ORGANISER, CODE, errors=(409,), tag="codes"),
)
