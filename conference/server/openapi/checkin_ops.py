"""Operations of the table: check-in and badges."""

from __future__ import annotations

from badges.api import PrintRunIn
from badges.checkin_api import ScanIn, SyncIn
from conference.server.openapi.operation import ORGANISER, STAFF, Op, Q
from conference.server.openapi.schemas import INT, PDF, PNG, TEXT, WHEN, obj, ref

LAYOUT = Q("layout", {"enum": ["a6-4", "a4-8"]}, "the badge sheet layout")

OPERATIONS: tuple[Op, ...] = (
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
        query=(
            Q("q", TEXT, "name, reference or organisation (2 characters or more)"),
            Q("list", TEXT, '"door" (the default) or a session id: where each delegate stands on it'),
        ),
        tag="check-in",
    ),
    Op(
        "POST",
        "/checkins/{checkin_id}/undo",
        "Undo a mistaken admission",
        STAFF,
        obj(
            {
                "checkin_id": TEXT,
                "result": {"const": "undone"},
                "reference": {"type": ["string", "null"]},
                "undone_at": WHEN,
            }
        ),
        errors=(404, 409),
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
        "A print run to look at or reprint (marks nothing)",
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
        "POST",
        "/badges/print",
        "The organisers' print run: the PDF, and its badges marked printed",
        ORGANISER,
        body=PrintRunIn,
        body_required=False,
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
