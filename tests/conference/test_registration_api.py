"""The registration API: happy paths, the waiting list, duplicates, idempotency, and bad input."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import AuditEntry, IdempotencyKey, OutboxEmail, Registration
from tests.factories import BILLING, invoice_body, registration_body
from tests.support import bearer, count_rows, make_settings, organiser_token, register, staff_token


async def test_conference_counts(client: httpx.AsyncClient, tickets: dict[str, Any]) -> None:
    await register(client, tickets["delegate"])
    body = (await client.get("/api/v1/conference")).json()
    assert body["capacity"] == 5
    assert body["registered"] == 1
    assert body["remaining"] == 4
    assert body["waitlisted"] == 0
    assert body["registration_open"] is True
    assert body["timezone"] == "Europe/London"
    assert body["starts_at"].startswith("2026-12-08T09:00:00")


async def test_ticket_types_hide_private_and_show_availability(
    client: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    types = (await client.get("/api/v1/ticket-types")).json()
    names = {t["name"]: t for t in types}
    assert "Speaker" not in names
    assert names["Exhibitor"]["price_pence"] == 45000 and names["Exhibitor"]["currency"] == "GBP"
    for _ in range(2):
        await register(client, tickets["press"])
    types = (await client.get("/api/v1/ticket-types")).json()
    assert {t["name"]: t["available"] for t in types}["Press"] is False


async def test_statuses_follow_the_ticket_type_rules(
    client: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    assert (await register(client, tickets["delegate"]))["status"] == "confirmed"
    # A domain on the type's list: the place is held until the delegate confirms the address (issue 15, M2).
    assert (await register(client, tickets["public"], email="a.b@met.police.uk"))[
        "status"
    ] == "awaiting_verification"
    assert (await register(client, tickets["public"], email="a.b@gmail.com"))["status"] == "awaiting_approval"
    assert (await register(client, tickets["press"]))["status"] == "awaiting_approval"
    # A priced ticket paid by invoice: confirmed at once (the type's default), with the invoice issued.
    assert (await register(client, tickets["exhibitor"], payment_method="invoice", billing=BILLING))[
        "status"
    ] == "confirmed"


async def test_private_ticket_type_cannot_be_chosen(
    client: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    response = await client.post("/api/v1/registrations", json=registration_body(tickets["speaker"]))
    assert response.status_code == 422
    assert "ticket_type_id" in response.json()["error"]["fields"]


async def test_full_conference_waitlists_in_order_and_cancellation_promotes(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    placed = [await register(client, tickets["delegate"]) for _ in range(5)]
    waiting = [await register(client, tickets["delegate"]) for _ in range(3)]
    assert [w["status"] for w in waiting] == ["waitlisted"] * 3
    assert [w["waitlist_position"] for w in waiting] == [1, 2, 3]

    response = await client.delete(
        f"/api/v1/registrations/{placed[2]['id']}", headers=bearer(placed[2]["manage_token"])
    )
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"

    first = (
        await client.get(
            f"/api/v1/registrations/{waiting[0]['id']}", headers=bearer(waiting[0]["manage_token"])
        )
    ).json()
    assert first["status"] == "confirmed"
    second = (
        await client.get(
            f"/api/v1/registrations/{waiting[1]['id']}", headers=bearer(waiting[1]["manage_token"])
        )
    ).json()
    assert second["status"] == "waitlisted" and second["waitlist_position"] == 1
    conference = (await client.get("/api/v1/conference")).json()
    assert (conference["registered"], conference["remaining"], conference["waitlisted"]) == (5, 0, 2)
    async with database.read() as db:
        kinds = (
            (
                await db.execute(
                    sa.select(OutboxEmail.kind).where(
                        OutboxEmail.registration_id == uuid.UUID(waiting[0]["id"])
                    )
                )
            )
            .scalars()
            .all()
        )
    assert sorted(kinds) == ["promoted", "registration"]


async def test_waitlisted_delegate_cancelling_keeps_the_others_order(
    client: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    for _ in range(5):
        await register(client, tickets["delegate"])
    a, b = await register(client, tickets["delegate"]), await register(client, tickets["delegate"])
    assert (
        await client.delete(f"/api/v1/registrations/{a['id']}", headers=bearer(a["manage_token"]))
    ).status_code == 200
    body = (await client.get(f"/api/v1/registrations/{b['id']}", headers=bearer(b["manage_token"]))).json()
    assert body["status"] == "waitlisted" and body["waitlist_position"] == 1
    assert (await client.get("/api/v1/conference")).json()["registered"] == 5


async def test_cancel_twice_is_a_conflict(client: httpx.AsyncClient, tickets: dict[str, Any]) -> None:
    r = await register(client, tickets["delegate"])
    url = f"/api/v1/registrations/{r['id']}"
    assert (await client.delete(url, headers=bearer(r["manage_token"]))).status_code == 200
    again = await client.delete(url, headers=bearer(r["manage_token"]))
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_cancelled"


async def test_capacity_raise_promotes_at_once(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    for _ in range(6):
        await register(client, tickets["delegate"])
    token = await organiser_token(database)
    response = await client.patch("/api/v1/conference", json={"capacity": 6}, headers=bearer(token))
    assert response.status_code == 200
    assert (response.json()["registered"], response.json()["waitlisted"]) == (6, 0)


async def test_ticket_type_cap_is_enforced(client: httpx.AsyncClient, tickets: dict[str, Any]) -> None:
    for _ in range(3):
        await register(client, tickets["exhibitor"], payment_method="invoice", billing=BILLING)
    response = await client.post("/api/v1/registrations", json=invoice_body(tickets["exhibitor"]))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ticket_type_unavailable"


async def test_duplicate_email_is_409_case_insensitive(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    await register(client, tickets["delegate"], email="Sam.Jones@leeds.gov.uk")
    response = await client.post(
        "/api/v1/registrations", json=registration_body(tickets["delegate"], email="sam.jones@LEEDS.gov.uk")
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_registered"
    assert await count_rows(database, Registration) == 1


async def test_cancelled_delegate_may_register_again(
    client: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    r = await register(client, tickets["delegate"], email="back@leeds.gov.uk")
    await client.delete(f"/api/v1/registrations/{r['id']}", headers=bearer(r["manage_token"]))
    again = await register(client, tickets["delegate"], email="back@leeds.gov.uk")
    assert again["id"] != r["id"] and again["status"] == "confirmed"


async def test_idempotent_retry_returns_the_first_answer(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    body = registration_body(tickets["delegate"])
    headers = {"Idempotency-Key": "retry-123"}
    first = await client.post("/api/v1/registrations", json=body, headers=headers)
    second = await client.post("/api/v1/registrations", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert await count_rows(database, Registration) == 1
    # The stored answer keeps no token.
    async with database.read() as db:
        stored = (await db.execute(sa.select(IdempotencyKey))).scalar_one()
    assert "manage_token" not in stored.response
    reused = await client.post(
        "/api/v1/registrations", json={**body, "name": "Someone Else"}, headers=headers
    )
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_key_reused"


async def test_tokens_are_stored_only_as_hashes(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    r = await register(client, tickets["delegate"])
    token = await organiser_token(database)
    async with database.read() as db:
        for table in ("registration", "api_token", "outbox_email", "idempotency_key", "audit_entry"):
            rows = (await db.execute(sa.text(f"SELECT * FROM {table}"))).all()
            dump = repr(rows)
            assert r["manage_token"] not in dump, table
            assert token not in dump, table


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "Enter an email address"),
        ({"email": "x" * 250 + "@a.uk"}, "email", ""),
        ({"name": ""}, "name", "Enter the name"),
        ({"name": "   "}, "name", "Enter the name"),
        ({"name": "n" * 121}, "name", "at most 120"),
        ({"organisation": None}, "organisation", ""),
        ({"sector": "banking"}, "sector", "Choose one of"),
        ({"consent": False}, "consent", "privacy notice"),
        ({"consent": "yes please"}, "consent", ""),
        ({"ticket_type_id": "nope"}, "ticket_type_id", "ticket types"),
        ({"ticket_type_id": str(uuid.uuid4())}, "ticket_type_id", "ticket types"),
        ({"region": "Atlantis"}, "region", "region"),
        ({"dietary": "d" * 501}, "dietary", "at most 500"),
        ({"is_admin": True}, "is_admin", "not accepted"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(
    client: httpx.AsyncClient,
    tickets: dict[str, Any],
    database: Database,
    change: dict[str, Any],
    field: str,
    message: str,
) -> None:
    body = registration_body(tickets["delegate"])
    body.update(change)
    response = await client.post("/api/v1/registrations", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert message in error["fields"][field]
    assert await count_rows(database, Registration) == 0
    assert await count_rows(database, OutboxEmail) == 0


async def test_missing_fields_are_each_named(client: httpx.AsyncClient, tickets: dict[str, Any]) -> None:
    response = await client.post("/api/v1/registrations", json={})
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {
        "name",
        "email",
        "organisation",
        "sector",
        "ticket_type_id",
        "consent",
    }


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "malformed_request"),
        (b"[1, 2]", "application/json", 400, "malformed_request"),
        (b"\xff\xfe", "application/json", 400, "malformed_request"),
        (b"name=x", "application/x-www-form-urlencoded", 400, "malformed_request"),
        (b"{" + b'"a":"' + b"x" * 70_000 + b'"}', "application/json", 413, "payload_too_large"),
    ],
)
async def test_malformed_bodies(
    client: httpx.AsyncClient,
    tickets: dict[str, Any],
    database: Database,
    content: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    response = await client.post(
        "/api/v1/registrations", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert await count_rows(database, Registration) == 0


async def test_closed_registration(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    token = await organiser_token(database)
    assert (
        await client.patch("/api/v1/conference", json={"registration_open": False}, headers=bearer(token))
    ).status_code == 200
    response = await client.post("/api/v1/registrations", json=registration_body(tickets["delegate"]))
    assert response.status_code == 409 and response.json()["error"]["code"] == "registration_closed"


async def test_attendee_token_reaches_only_its_own_registration(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    a, b = await register(client, tickets["delegate"]), await register(client, tickets["delegate"])
    assert (
        await client.get(f"/api/v1/registrations/{b['id']}", headers=bearer(a["manage_token"]))
    ).status_code == 403
    assert (
        await client.delete(f"/api/v1/registrations/{b['id']}", headers=bearer(a["manage_token"]))
    ).status_code == 403
    assert (await client.get(f"/api/v1/registrations/{b['id']}")).status_code == 401
    assert (
        await client.get(f"/api/v1/registrations/{b['id']}", headers=bearer("m_forged"))
    ).status_code == 401
    staff = await staff_token(database)
    # Staff see only what check-in needs, not the delegate's contact details, dietary or access needs.
    seen = await client.get(f"/api/v1/registrations/{b['id']}", headers=bearer(staff))
    assert seen.status_code == 200 and seen.json()["reference"] == b["reference"]
    assert not {"email", "dietary", "access_needs", "job_title", "region"} & set(seen.json())
    assert (await client.delete(f"/api/v1/registrations/{b['id']}", headers=bearer(staff))).status_code == 403
    assert (await client.get("/api/v1/registrations", headers=bearer(staff))).status_code == 403
    assert (await client.get("/api/v1/registrations", headers=bearer(a["manage_token"]))).status_code == 403
    assert (
        await client.patch("/api/v1/conference", json={"capacity": 1}, headers=bearer(staff))
    ).status_code == 403
    organiser = await organiser_token(database)
    assert (
        await client.get(f"/api/v1/registrations/{b['id']}", headers=bearer(organiser))
    ).status_code == 200
    assert (
        await client.get(f"/api/v1/registrations/{uuid.uuid4()}", headers=bearer(organiser))
    ).status_code == 404
    assert (
        await client.get("/api/v1/registrations/not-a-uuid", headers=bearer(organiser))
    ).status_code == 404


async def test_organiser_lists_filters_and_exports_csv(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    await register(client, tickets["delegate"], organisation='=HYPERLINK("http://evil")', name="Evil Formula")
    await register(client, tickets["press"], name="Paula Press")
    token = await organiser_token(database)
    listing = (
        await client.get("/api/v1/registrations?status=awaiting_approval", headers=bearer(token))
    ).json()
    assert [r["name"] for r in listing["data"]] == ["Paula Press"]
    found = (await client.get("/api/v1/registrations?q=evil", headers=bearer(token))).json()
    assert found["count"] == 1
    csv_response = await client.get("/api/v1/registrations?format=csv", headers=bearer(token))
    assert csv_response.headers["content-type"].startswith("text/csv")
    assert "'=HYPERLINK" in csv_response.text
    bad = await client.get("/api/v1/registrations?status=maybe", headers=bearer(token))
    assert bad.status_code == 422 and "status" in bad.json()["error"]["fields"]
    async with database.read() as db:
        actions = (await db.execute(sa.select(AuditEntry.action))).scalars().all()
    assert "conference.registrations.exported" in actions


async def test_approval_by_organiser(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    r = await register(client, tickets["press"])
    token = await organiser_token(database)
    approved = await client.post(f"/api/v1/registrations/{r['id']}/approve", headers=bearer(token))
    assert approved.status_code == 200 and approved.json()["status"] == "confirmed"
    again = await client.post(f"/api/v1/registrations/{r['id']}/approve", headers=bearer(token))
    assert again.status_code == 409
    other = await register(client, tickets["press"])
    rejected = await client.post(f"/api/v1/registrations/{other['id']}/reject", headers=bearer(token))
    assert rejected.json()["status"] == "cancelled"
    attendee = await client.post(
        f"/api/v1/registrations/{other['id']}/approve", headers=bearer(r["manage_token"])
    )
    assert attendee.status_code == 403


async def test_unknown_route_and_method_are_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = await client.put("/api/v1/conference")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


async def test_patch_conference_validation(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    token = await organiser_token(database)
    for body, field in [
        ({"capacity": -1}, "capacity"),
        ({"capacity": None}, "capacity"),
        ({"ends_at": "2020-01-01T00:00:00+00:00"}, "ends_at"),
        ({"starts_at": "2026-12-08T09:00:00"}, "starts_at"),
        ({"colour": "red"}, "colour"),
    ]:
        response = await client.patch("/api/v1/conference", json=body, headers=bearer(token))
        assert response.status_code == 422, (body, response.text)
        assert field in response.json()["error"]["fields"]
    assert (await client.get("/api/v1/conference")).json()["capacity"] == 5


async def test_security_headers(client: httpx.AsyncClient, tickets: dict[str, Any]) -> None:
    response = await client.get("/")
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_registration_is_rate_limited_per_client(
    database_url: str, tickets: dict[str, Any], database: Database
) -> None:
    from conference.server.app import create_app

    app = create_app(make_settings(database_url, CONFERENCE_RATE_LIMIT="3/minute"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c,
    ):
        statuses = [
            (await c.post("/api/v1/registrations", json=registration_body(tickets["delegate"]))).status_code
            for _ in range(4)
        ]
        limited = await c.post("/api/v1/registrations", json=registration_body(tickets["delegate"]))
    assert statuses == [201, 201, 201, 429]
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited.headers["retry-after"] == "60"
    assert await count_rows(database, Registration) == 3
