"""An answer to a registration question flagged "show on the badge" (a table number) is printed on the badge, in
both layouts, with the QR still readable; answers to other questions are not."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from badges.codes import BadgeSigner
from badges.render import BadgeData, render_badges
from conference.core.db import Database
from tests.factories import make_question, registration_body
from tests.support import bearer, decode, flat, organiser_token, pdf_text, raster

SIGNER = BadgeSigner.from_seed(bytes(range(32)))


@pytest.mark.parametrize("layout", ["a4-8", "a6-4"])
def test_printed_answers_are_drawn_and_the_qr_still_reads(layout: str) -> None:
    badge = BadgeData(
        reference="NC-ADA001",
        name="Ada Lovelace",
        organisation="Analytical Engine Society of Greater London",
        ticket_type="Delegate",
        code=SIGNER.code_for("NC-ADA001", 1),
        details=["Table number: 12", "Dietary choice: Halal"],
    )
    pdf = render_badges([badge], layout=layout)
    text = flat(pdf_text(pdf)[0])
    assert "Table number: 12" in text and "Dietary choice: Halal" in text
    assert "Ada Lovelace" in text
    [found] = decode(raster(pdf, dpi=150)[0])
    assert found.text == badge.code


async def test_a_flagged_answer_is_on_the_badge_and_others_are_not(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    table = await make_question(database, "Table number", "number", on_badge=True)
    diet = await make_question(database, "Dietary choice", "text")
    made = await client.post(
        "/api/v1/registrations",
        json=registration_body(
            tickets["delegate"], name="Ada Lovelace", answers={str(table): 12, str(diet): "Halal, no nuts"}
        ),
    )
    assert made.status_code == 201, made.text
    ada = made.json()
    assert ada["status"] == "confirmed"
    plain = await client.post(
        "/api/v1/registrations", json=registration_body(tickets["delegate"], name="Bo Diddley")
    )
    assert plain.status_code == 201

    own = await client.get(
        f"/api/v1/registrations/{ada['id']}/badge.pdf", headers=bearer(ada["manage_token"])
    )
    assert own.status_code == 200
    text = flat(pdf_text(own.content)[0])
    assert "Table number: 12" in text
    assert "Halal" not in text  # not flagged for the badge

    sheet = await client.get("/api/v1/badges.pdf", headers=bearer(await organiser_token(database)))
    assert sheet.status_code == 200
    text = flat(pdf_text(sheet.content)[0])
    assert text.count("Table number:") == 1 and "Table number: 12" in text and "Bo Diddley" in text
