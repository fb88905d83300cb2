from __future__ import annotations

import httpx

from tests.factories import registration_body


async def test_register_and_read_back(client: httpx.AsyncClient, tickets: dict[str, object]) -> None:
    response = await client.post("/api/v1/registrations", json=registration_body(tickets["delegate"]))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "confirmed"
    again = await client.get(f"/api/v1/registrations/{body['id']}",
                             headers={"authorization": f"Bearer {body['manage_token']}"})
    assert again.status_code == 200
    assert again.json()["reference"] == body["reference"]
