"""The whole chain a door sees: a badge from the API, read back by an independent decoder (zxing-cpp, which
the project does not use to encode), and the decoded text scanned at the door."""

from __future__ import annotations

import io
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image

from badges.codes import BadgeSigner
from badges.render import qr_png
from conference.core.db import Database
from conference.core.models import Registration, Status
from conference.core.settings import Settings
from conference.web.auth import create_api_token
from tests.factories import make_conference, registration_body
from tests.support import decode, raster


@pytest.fixture
async def tokens(database: Database) -> dict[str, dict[str, str]]:
    async with database.transaction() as db:
        return {
            role: {"authorization": f"Bearer {await create_api_token(db, role=role, name=role.title())}"}
            for role in ("staff", "organiser")
        }


async def register(client: httpx.AsyncClient, ticket: Any, name: str) -> dict[str, Any]:
    answer = await client.post("/api/v1/registrations", json=registration_body(ticket, name=name))
    assert answer.status_code == 201
    return dict(answer.json())


def one_code(image: Image.Image) -> str:
    found = decode(image)
    assert len(found) == 1
    return str(found[0].text)


async def door(client: httpx.AsyncClient, staff: dict[str, str], code: str) -> dict[str, Any]:
    answer = await client.post("/api/v1/checkins", json={"code": code, "list": "door"}, headers=staff)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_badge_png_and_pdf_decode_and_scan(
    client: httpx.AsyncClient, database: Database, settings: Settings, tokens: dict[str, dict[str, str]]
) -> None:
    tickets = await make_conference(database, capacity=10)
    ada = await register(client, tickets["delegate"], "Ada Lovelace")
    grace = await register(client, tickets["delegate"], "Grace Hopper")
    staff, organiser = tokens["staff"], tokens["organiser"]

    png = await client.get(
        f"/api/v1/registrations/{ada['id']}/badge.png",
        headers={"authorization": f"Bearer {ada['manage_token']}"},
    )
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    from_png = one_code(Image.open(io.BytesIO(png.content)))
    pdf = await client.get(f"/api/v1/registrations/{ada['id']}/badge.pdf", headers=organiser)
    assert pdf.status_code == 200
    from_pdf = one_code(raster(pdf.content)[0])
    assert from_png == from_pdf

    first = await door(client, staff, from_pdf)
    assert first["result"] == "ok" and first["attendee"]["name"] == "Ada Lovelace"
    again = await door(client, staff, from_png)
    assert again["result"] == "already_checked_in" and again["checked_in_at"] == first["checked_in_at"]
    for i in (0, len(from_png) // 2, len(from_png) - 1):  # one character changed anywhere
        swapped = "Z" if from_png[i] != "Z" else "Y"
        assert (await door(client, staff, from_png[:i] + swapped + from_png[i + 1 :]))["result"] == "invalid"

    # Grace's badge is printed, then reissued (lost): the decoded old badge stops working, the new one works.
    old = one_code(
        Image.open(
            io.BytesIO(
                (
                    await client.get(f"/api/v1/registrations/{grace['id']}/badge.png", headers=organiser)
                ).content
            )
        )
    )
    assert (
        await client.post(f"/api/v1/registrations/{grace['id']}/badge/reissue", headers=organiser)
    ).status_code == 200
    new = one_code(
        Image.open(
            io.BytesIO(
                (
                    await client.get(f"/api/v1/registrations/{grace['id']}/badge.png", headers=organiser)
                ).content
            )
        )
    )
    assert new != old
    assert (await door(client, staff, old))["result"] == "invalid"
    assert (await door(client, staff, new))["result"] == "ok"


async def test_cancelled_and_unpaid_badges_decode_and_are_refused(
    client: httpx.AsyncClient, database: Database, settings: Settings, tokens: dict[str, dict[str, str]]
) -> None:
    tickets = await make_conference(database, capacity=10)
    leaving = await register(client, tickets["delegate"], "Ida Leaving")
    owing = await register(client, tickets["delegate"], "Owen Owing")
    printed = {}
    for person in (leaving, owing):
        png = await client.get(f"/api/v1/registrations/{person['id']}/badge.png", headers=tokens["organiser"])
        printed[person["id"]] = one_code(Image.open(io.BytesIO(png.content)))

    await client.delete(
        f"/api/v1/registrations/{leaving['id']}",
        headers={"authorization": f"Bearer {leaving['manage_token']}"},
    )
    async with database.transaction() as db:  # say an organiser moved the place back to awaiting payment
        await db.execute(
            sa.update(Registration)
            .where(Registration.id == uuid.UUID(owing["id"]))
            .values(status=Status.pending_payment)
        )
    cancelled = await door(client, tokens["staff"], printed[leaving["id"]])
    assert cancelled["result"] == "cancelled" and cancelled["attendee"]["name"] == "Ida Leaving"
    assert (await door(client, tokens["staff"], printed[owing["id"]]))["result"] == "unpaid"

    # And a badge signed by somebody else's key, printed as a real QR, is invalid.
    forged = BadgeSigner.from_seed(b"\x01" * 32).code_for(owing["reference"], 1)
    assert (await door(client, tokens["staff"], one_code(Image.open(io.BytesIO(qr_png(forged))))))[
        "result"
    ] == "invalid"
