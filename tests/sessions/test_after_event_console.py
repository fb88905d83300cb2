"""The organisers' "After the event" console: the CPD rules form (each bad value named, nothing saved), issuing
every certificate from the console (a background run whose JSON progress reaches its total), the run page, and
withdrawing a certificate (a confirmation page and a reason). Organisers only: staff are refused."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.models import AuditEntry
from conference.core.settings import Settings
from sessions.attendance.certificates import verify
from sessions.models.attendance import AfterEventSettings, CertificateRun, CertificateStatus
from tests.sessions.after_event_world import attend, certificates, current, finished_event, issue_all
from tests.support import HTML, csrf, eventually, organiser_token, sign_in, staff_token

PAGE = "/console/after-event"
GOOD = {
    "rate_plenary": "0.5",
    "rate_workshop": "1",
    "rate_talk": "0",
    "plenaries_on_door_scan": "on",
    "daily_cap_hours": "6",
    "rounding_minutes": "30",
}


async def _signed_in(client: httpx.AsyncClient, database: Database) -> str:
    await sign_in(client, await organiser_token(database))
    page = await client.get(PAGE, headers=HTML)
    assert page.status_code == 200, page.text
    return csrf(page.text)


async def _settings(database: Database) -> AfterEventSettings | None:
    async with database.read() as db:
        return (await db.execute(sa.select(AfterEventSettings))).scalar_one_or_none()


async def test_staff_are_refused_and_organisers_see_the_page(
    client: httpx.AsyncClient, database: Database
) -> None:
    event = await finished_event(database, client, delegates=2)
    await attend(database, event, 0, "A")
    await sign_in(client, await staff_token(database))
    refused = await client.get(PAGE, headers=HTML)
    assert refused.status_code == 403
    client.cookies.clear()  # a new browser: the organiser signs in
    await _signed_in(client, database)
    page = await client.get(PAGE, headers=HTML)
    assert "CPD rules" in page.text and "Issue certificates" in page.text
    assert "1 delegate admitted at the door" in page.text
    assert event.people[0]["reference"] in page.text and event.people[1]["reference"] not in page.text
    assert 'href="/console/after-event"' in page.text  # the console's nav links it


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rate_workshop", "lots", "Give a number from 0 to 2"),
        ("rate_plenary", "-1", "Give a number from 0 to 2"),
        ("rate_talk", "2.5", "Give a number from 0 to 2"),
        ("rate_talk", "nan", "Give a number from 0 to 2"),
        ("daily_cap_hours", "0", "Give a number of hours from 0.5 to 24"),
        ("daily_cap_hours", "six", "Give a number of hours from 0.5 to 24"),
        ("rounding_minutes", "7", "Choose how to round the total"),
    ],
)
async def test_the_rules_form_names_each_bad_value_and_saves_nothing(
    client: httpx.AsyncClient, database: Database, field: str, value: str, message: str
) -> None:
    await finished_event(database, client, delegates=1)
    token = await _signed_in(client, database)
    assert await _settings(database) is None  # the page shows the defaults; nothing is kept until saved
    kept = await client.post(PAGE + "/settings", data={**GOOD, "csrf_token": token})
    assert kept.status_code == 303
    before = await _settings(database)
    assert before is not None
    response = await client.post(
        PAGE + "/settings", data={**GOOD, field: value, "csrf_token": token}, headers=HTML
    )
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text
    assert message in response.text
    if field != "rounding_minutes":  # a choice the list does not have is not shown as chosen
        assert f'value="{value}"' in response.text
    other = "daily_cap_hours" if field != "daily_cap_hours" else "rate_plenary"
    assert f'value="{GOOD[other]}"' in response.text  # the rest of what was typed is kept
    after = await _settings(database)
    assert after is not None
    assert (after.kind_rates, after.daily_cap_hours, after.rounding_minutes) == (
        before.kind_rates,
        before.daily_cap_hours,
        before.rounding_minutes,
    )


async def test_the_rules_are_saved_and_audited(client: httpx.AsyncClient, database: Database) -> None:
    await finished_event(database, client, delegates=1)
    token = await _signed_in(client, database)
    saved = await client.post(
        PAGE + "/settings", data={**GOOD, "plenaries_on_door_scan": "", "csrf_token": token}
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=settings_saved")
    s = await _settings(database)
    assert s is not None
    assert s.kind_rates == {"plenary": 0.5, "workshop": 1.0, "talk": 0.0}
    assert (s.plenaries_on_door_scan, s.daily_cap_hours, s.rounding_minutes) == (False, 6.0, 30)
    page = await client.get(saved.headers["location"], headers=HTML)
    assert "The CPD rules are saved" in page.text
    assert re.search(r'id="plenaries_on_door_scan"[^>]*value="on"(?! checked)', page.text)
    async with database.read() as db:
        actions = list((await db.execute(sa.select(col(AuditEntry.action)))).scalars())
    assert "sessions.after_event.settings_changed" in actions


async def test_issuing_from_the_console_runs_in_the_background_to_the_end(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    event = await finished_event(database, client, delegates=4)
    for n in range(3):
        await attend(database, event, n, "A", "C")
    token = await _signed_in(client, database)
    started = await client.post(PAGE + "/issue", data={"csrf_token": token})
    assert started.status_code == 303, started.text
    run_page = started.headers["location"]
    match = re.fullmatch(r"http://testserver/console/after-event/runs/([0-9a-f-]{36})", run_page)
    assert match, run_page
    progress: dict[str, object] = {}

    async def finished() -> bool:
        answer = await client.get(f"/console/after-event/runs/{match.group(1)}.json")
        assert answer.status_code == 200, answer.text
        progress.update(answer.json())
        return bool(progress["finished"])

    await eventually(finished, what="the certificate run to finish")
    assert progress["total"] == 3 and progress["done"] == 3 and progress["issued"] == 3
    assert progress["percent"] == 100 and progress["error"] == ""
    for n in range(3):
        certificate = await current(database, event.id(n))
        assert certificate is not None and certificate.cpd_minutes == 120
    assert await current(database, event.id(3)) is None  # never admitted at the door
    page = await client.get(run_page, headers=HTML)
    assert '<progress id="run-progress" max="3" value="3"' in page.text
    assert "after_event.js" in page.text and "<script>" not in page.text  # the script is a file (CSP)
    assert "Finished" in page.text
    console = await client.get(PAGE, headers=HTML)
    assert "3 issued or reissued for 3 delegates" in console.text


async def test_a_second_run_is_refused_while_one_is_under_way(
    client: httpx.AsyncClient, database: Database
) -> None:
    await finished_event(database, client, delegates=1)
    token = await _signed_in(client, database)
    async with database.transaction() as db:
        conference_id = (await db.execute(sa.text("SELECT id FROM conference"))).scalar_one()
        db.add(
            CertificateRun(conference_id=conference_id, started_by="organiser:Someone else", total=10, done=4)
        )
    refused = await client.post(PAGE + "/issue", data={"csrf_token": token}, headers=HTML)
    assert refused.status_code == 409
    assert 'id="issue-error"' in refused.text and "being issued already" in refused.text
    async with database.read() as db:
        assert (await db.execute(sa.select(sa.func.count()).select_from(CertificateRun))).scalar_one() == 1
    unknown = await client.get(f"/console/after-event/runs/{uuid.uuid4()}.json")
    assert unknown.status_code == 404


async def test_withdrawing_a_certificate_asks_first_and_needs_a_reason(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    event = await finished_event(database, client, delegates=1)
    await attend(database, event, 0, "A")
    await issue_all(database, settings)
    certificate = await current(database, event.id(0))
    assert certificate is not None
    await _signed_in(client, database)
    delegate = f"{PAGE}/delegates/{event.id(0)}"
    page = await client.get(delegate, headers=HTML)
    assert certificate.code in page.text and "Withdraw this certificate" in page.text
    confirm = await client.get(delegate + "/withdraw", headers=HTML)
    assert confirm.status_code == 200 and "Withdraw the certificate" in confirm.text
    token = csrf(confirm.text)
    blank = await client.post(
        delegate + "/withdraw", data={"csrf_token": token, "reason": "  "}, headers=HTML
    )
    assert blank.status_code == 422 and 'id="reason-error"' in blank.text
    assert (await current(database, event.id(0))) is not None
    done = await client.post(
        delegate + "/withdraw", data={"csrf_token": token, "reason": "Issued by mistake: left at 09:30."}
    )
    assert done.status_code == 303 and done.headers["location"].endswith(f"{delegate}?done=withdrawn")
    assert await current(database, event.id(0)) is None
    async with database.read() as db:
        checked = await verify(db, settings, certificate.code)
    assert checked.state == "withdrawn"
    page = await client.get(done.headers["location"], headers=HTML)
    assert "The certificate is withdrawn" in page.text and "Issued by mistake: left at 09:30." in page.text
    again = await client.post(
        delegate + "/withdraw", data={"csrf_token": token, "reason": "Twice"}, headers=HTML
    )
    assert again.status_code == 409 and "has no certificate to withdraw" in again.text
    assert [c.status for c in await certificates(database, event.id(0))] == [CertificateStatus.withdrawn]
