"""Codes through the JSON API (conference/codes.py, api/codes.py): organisers create one or a bulk, list and
filter them, see who used one, revoke it; delegates type one into `code` on a registration and get a
complimentary place, a discount, or a place in a reserved block, or a clear message on the field and no place."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference import places
from conference.core import errors, registration_window
from conference.core.audit import Actor
from conference.core.code_models import Code
from conference.core.db import Database
from conference.core.models import AuditEntry, Invoice, Registration, utcnow
from conference.core.schemas import RegistrationCreate
from conference.core.settings import Settings
from conference.registration import RegistrationRequest, register_many
from tests.factories import invoice_body, registration_body
from tests.support import bearer, organiser_token


@pytest.fixture
async def org(database: Database) -> dict[str, str]:
    return bearer(await organiser_token(database))


async def _code(client: httpx.AsyncClient, org: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/codes", headers=org, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def _register(client: httpx.AsyncClient, ticket: Any, **overrides: Any) -> httpx.Response:
    return await client.post("/api/v1/registrations", json=registration_body(ticket, **overrides))


async def _registration(database: Database, reference: str) -> Registration:
    async with database.read() as db:
        found = (
            await db.execute(sa.select(Registration).where(col(Registration.reference) == reference))
        ).scalar_one()
    return found


async def test_a_complimentary_code_gives_a_priced_place_with_nothing_to_pay(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any], org: dict[str, str]
) -> None:
    code = await _code(client, org, label="Speakers", discount="complimentary", max_uses=3)
    assert code["state"] == "active" and code["uses_left"] == 3
    assert all(c in "ABCDEFGHJKMNPQRSTUVWXYZ23456789" for c in code["text"])
    # Typed in lower case, with stray spaces: the same code.
    response = await _register(client, tickets["exhibitor"], code=f"  {code['text'].lower()} ")
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "confirmed"
    registration = await _registration(database, response.json()["reference"])
    assert registration.code_id is not None and str(registration.code_id) == code["id"]
    assert registration.price_pence == 0 and registration.payment_method.value == "none"
    detail = (await client.get(f"/api/v1/codes/{code['id']}", headers=org)).json()
    assert detail["uses"] == 1 and detail["uses_left"] == 2
    assert [u["reference"] for u in detail["used_by"]] == [registration.reference]
    assert detail["used_by"][0]["organisation"] == registration.organisation


async def test_a_percentage_code_is_invoiced_at_the_discounted_price(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any], org: dict[str, str]
) -> None:
    code = await _code(client, org, discount="percent", value=25, max_uses=5)
    response = await client.post(
        "/api/v1/registrations", json=invoice_body(tickets["exhibitor"], code=code["text"])
    )
    assert response.status_code == 201, response.text
    registration = await _registration(database, response.json()["reference"])
    assert registration.price_pence == 33750  # £450 less 25%
    async with database.read() as db:
        invoice = (
            await db.execute(sa.select(Invoice).where(col(Invoice.registration_id) == registration.id))
        ).scalar_one()
    assert invoice.net_pence == 33750 and invoice.gross_pence == 40500


async def test_a_fixed_discount_never_goes_below_nothing(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any], org: dict[str, str]
) -> None:
    code = await _code(client, org, discount="fixed", value=50000, max_uses=1)
    response = await _register(client, tickets["exhibitor"], code=code["text"])
    assert response.status_code == 201, response.text
    registration = await _registration(database, response.json()["reference"])
    assert registration.price_pence == 0 and registration.status.value == "confirmed"


@pytest.mark.parametrize(
    ("settings_", "ticket", "message"),
    [
        ({"max_uses": 1}, "delegate", "used as many times as it allows"),
        ({"valid_until_minutes": -5}, "delegate", "This code expired on"),
        ({"valid_from_minutes": 60}, "delegate", "This code can be used from"),
        ({"for": "exhibitor"}, "delegate", "not for this ticket type; it is for: Exhibitor"),
        ({"revoke": True}, "delegate", "This code has been withdrawn"),
    ],
)
async def test_a_code_that_cannot_be_used_is_refused_on_the_field_and_holds_no_place(
    client: httpx.AsyncClient,
    database: Database,
    tickets: dict[str, Any],
    org: dict[str, str],
    settings_: dict[str, Any],
    ticket: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body: dict[str, Any] = {"max_uses": settings_.get("max_uses", 5)}
    now = utcnow()
    if "valid_until_minutes" in settings_:
        body["valid_from"] = (now - timedelta(days=1)).isoformat()
        body["valid_until"] = (now + timedelta(minutes=1)).isoformat()
    if "valid_from_minutes" in settings_:
        body["valid_from"] = (now + timedelta(minutes=settings_["valid_from_minutes"])).isoformat()
    if "for" in settings_:
        body["ticket_type_ids"] = [str(tickets[settings_["for"]])]
    code = await _code(client, org, **body)
    if settings_.get("max_uses") == 1:
        assert (await _register(client, tickets[ticket], code=code["text"])).status_code == 201
    if settings_.get("revoke"):
        assert (await client.post(f"/api/v1/codes/{code['id']}/revoke", headers=org)).status_code == 200
    if "valid_until_minutes" in settings_:
        # The clock moves past the end of the window.
        later = now + timedelta(minutes=10)
        monkeypatch.setattr(registration_window, "clock", lambda: later)
    async with database.read() as db:
        before = int((await db.execute(sa.select(sa.func.count()).select_from(Registration))).scalar_one())
    response = await _register(client, tickets[ticket], code=code["text"])
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]["fields"]["code"]
    async with database.read() as db:
        after = int((await db.execute(sa.select(sa.func.count()).select_from(Registration))).scalar_one())
    assert after == before


async def test_an_unknown_code_is_refused_on_the_field(
    client: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    response = await _register(client, tickets["delegate"], code="NOPE-2345")
    assert response.status_code == 422
    assert "We don't recognise this code" in response.json()["error"]["fields"]["code"]


async def test_a_reserved_block_is_kept_from_the_public_and_returns_to_sale_when_it_lapses(
    client: httpx.AsyncClient,
    database: Database,
    tickets: dict[str, Any],
    org: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Capacity 5 (the fixture): 3 places reserved for the Metropolitan Police until tomorrow.
    until = utcnow() + timedelta(days=1)
    code = await _code(
        client,
        org,
        label="Metropolitan Police",
        max_uses=3,
        reserved_places=3,
        reserved_until=until.isoformat(),
    )
    conference = (await client.get("/api/v1/conference")).json()
    assert conference["remaining"] == 2
    answers = [(await _register(client, tickets["delegate"])).json() for _ in range(3)]
    assert [a["status"] for a in answers] == ["confirmed", "confirmed", "waitlisted"]
    statuses_refs = [a["reference"] for a in answers]
    # The code's holders still get the block's places, though the public sees none left.
    held = await _register(client, tickets["delegate"], code=code["text"])
    assert held.json()["status"] == "confirmed"
    assert (await client.get(f"/api/v1/codes/{code['id']}", headers=org)).json()["reserved_left"] == 2
    # The block lapses: its two untaken places return to general sale, the waiting list first.
    later = until + timedelta(minutes=1)
    monkeypatch.setattr(registration_window, "clock", lambda: later)
    assert (await client.get("/api/v1/conference")).json()["remaining"] == 2
    assert (await _register(client, tickets["delegate"])).json()["status"] == "confirmed"
    waited = await _registration(database, statuses_refs[2])
    assert waited.status.value == "confirmed"
    assert (await client.get("/api/v1/conference")).json()["remaining"] == 0


async def test_a_block_cannot_reserve_more_places_than_are_free(
    client: httpx.AsyncClient, tickets: dict[str, Any], org: dict[str, str]
) -> None:
    response = await client.post("/api/v1/codes", headers=org, json={"max_uses": 10, "reserved_places": 6})
    assert response.status_code == 422
    assert response.json()["error"]["fields"]["reserved_places"].startswith("Only 5 places are free")


async def test_revoking_a_block_returns_its_places_and_promotes_the_waiting_list(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any], org: dict[str, str]
) -> None:
    code = await _code(client, org, max_uses=5, reserved_places=5)
    waiting = await _register(client, tickets["delegate"])
    assert waiting.json()["status"] == "waitlisted"
    revoked = await client.post(f"/api/v1/codes/{code['id']}/revoke", headers=org)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert (await _registration(database, waiting.json()["reference"])).status.value == "confirmed"
    again = await client.post(f"/api/v1/codes/{code['id']}/revoke", headers=org)
    assert again.status_code == 409


async def test_bulk_codes_are_unique_and_share_their_settings(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any], org: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/codes/bulk",
        headers=org,
        json={"count": 40, "prefix": "police", "label": "Police forces", "discount": "percent", "value": 10},
    )
    assert response.status_code == 201, response.text
    made = response.json()["data"]
    texts = {c["text"] for c in made}
    assert len(texts) == 40 and all(t.startswith("POLICE-") for t in texts)
    assert {(c["discount"], c["value"], c["label"]) for c in made} == {("percent", 10, "Police forces")}
    async with database.read() as db:
        actions = list((await db.execute(sa.select(col(AuditEntry.action)))).scalars())
    assert actions.count("conference.code.bulk_created") == 1


async def test_the_list_filters_by_state_discount_ticket_type_and_text(
    client: httpx.AsyncClient, tickets: dict[str, Any], org: dict[str, str]
) -> None:
    comp = await _code(
        client, org, text="speakers-2026", label="Speakers", discount="complimentary", max_uses=1
    )
    assert comp["text"] == "SPEAKERS-2026"
    other = await _code(client, org, label="Press", ticket_type_ids=[str(tickets["press"])])
    await _register(client, tickets["delegate"], code="Speakers-2026")

    async def texts(**query: str) -> list[str]:
        response = await client.get("/api/v1/codes", headers=org, params=query)
        assert response.status_code == 200, response.text
        return [c["text"] for c in response.json()["data"]]

    assert await texts(state="used_up") == ["SPEAKERS-2026"]
    assert await texts(state="active") == [other["text"]]
    assert await texts(discount="complimentary") == ["SPEAKERS-2026"]
    assert await texts(ticket_type_id=str(tickets["delegate"])) == ["SPEAKERS-2026"]
    assert await texts(q="press") == [other["text"]]
    bad = await client.get("/api/v1/codes", headers=org, params={"state": "nonsense"})
    assert bad.status_code == 422 and "state" in bad.json()["error"]["fields"]
    taken = await client.post("/api/v1/codes", headers=org, json={"text": "SPEAKERS-2026"})
    assert taken.status_code == 422 and "exists already" in taken.json()["error"]["fields"]["text"]


async def test_codes_are_for_organisers_only(client: httpx.AsyncClient, tickets: dict[str, Any]) -> None:
    assert (await client.get("/api/v1/codes")).status_code == 401
    assert (await client.post("/api/v1/codes", json={})).status_code == 401


async def test_a_place_freed_in_a_block_goes_to_the_codes_holder_on_the_waiting_list_not_the_public(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any], org: dict[str, str]
) -> None:
    # Capacity 5: a block of 2 (use limit 3), and 3 general places taken by the public.
    code = await _code(client, org, max_uses=3, reserved_places=2)
    for _ in range(3):
        assert (await _register(client, tickets["delegate"])).json()["status"] == "confirmed"
    holders = [(await _register(client, tickets["delegate"], code=code["text"])).json() for _ in range(2)]
    assert [h["status"] for h in holders] == ["confirmed", "confirmed"]
    public = (await _register(client, tickets["delegate"])).json()
    late_holder = (await _register(client, tickets["delegate"], code=code["text"])).json()
    assert public["status"] == late_holder["status"] == "waitlisted"
    # A holder cancels: the block's place goes to the holder waiting, though the public registered first.
    cancelled = await client.delete(
        f"/api/v1/registrations/{holders[0]['id']}", headers=bearer(holders[0]["manage_token"])
    )
    assert cancelled.status_code == 200, cancelled.text
    assert (await _registration(database, late_holder["reference"])).status.value == "confirmed"
    assert (await _registration(database, public["reference"])).status.value == "waitlisted"
    # The cancelled place gave its use back: two live uses of three.
    assert (await client.get(f"/api/v1/codes/{code['id']}", headers=org)).json()["uses_left"] == 1


async def test_code_settings_refuse_control_characters_and_bad_windows(
    client: httpx.AsyncClient, tickets: dict[str, Any], org: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/codes",
        headers=org,
        json={
            "label": "Police\x00",
            "discount": "percent",
            "value": 0,
            "valid_from": "2026-12-01T09:00:00+00:00",
            "valid_until": "2026-11-01T09:00:00+00:00",
            "ticket_type_ids": ["00000000-0000-0000-0000-000000000000"],
        },
    )
    assert response.status_code == 422
    assert "control character" in response.json()["error"]["fields"]["label"]
    response = await client.post(
        "/api/v1/codes",
        headers=org,
        json={
            "discount": "percent",
            "value": 0,
            "valid_from": "2026-12-01T09:00:00+00:00",
            "valid_until": "2026-11-01T09:00:00+00:00",
            "ticket_type_ids": ["00000000-0000-0000-0000-000000000000"],
            "reserved_places": 2,
            "max_uses": 1,
        },
    )
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"value", "valid_until", "ticket_type_ids", "reserved_places"}


async def test_in_one_batch_a_code_is_counted_as_each_registration_takes_it(
    database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    # The group commit writes registrations that arrive together in one transaction: the third of three with a
    # code of two uses is refused on its field, the others (and a registration without the code) go on.
    async with database.transaction() as db:
        conference = await places.get_conference(db)
        assert conference.id is not None
        db.add(Code(conference_id=conference.id, text="TWO-USES", max_uses=2, reserved_places=2))
    requests = [
        RegistrationRequest(
            RegistrationCreate(**registration_body(tickets["delegate"], **code)), Actor("anonymous")
        )
        for code in ({"code": "two-uses"}, {}, {"code": "TWO-USES"}, {"code": "Two-Uses"})
    ]
    async with database.transaction() as db:
        outcomes = await register_many(db, settings=settings, requests=requests)
    assert [type(o).__name__ for o in outcomes] == ["Registered", "Registered", "Registered", "InvalidInput"]
    refused = outcomes[3]
    assert isinstance(refused, errors.InvalidInput) and "used as many times" in (refused.fields or {})["code"]
    async with database.read() as db:
        seen = await places.availability(db, await places.get_conference(db))
    # Capacity 5: three places held, the block's two taken by its holders, so two are left for the public.
    assert (seen.registered, seen.reserved, seen.remaining) == (3, 0, 2)
