"""Organisers approve what speakers share (sessions/library/approval.py and /console/library): approve with the
visibility chosen, reject with a note, change the visibility later; each audited; organisers only; the pending
count; each file downloadable to check, with safe headers."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference.console.audit_labels import LABELS
from conference.core import errors
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import AuditEntry
from conference.core.settings import Settings
from sessions.library import approval
from sessions.models import LibraryResource, ResourceStatus, Visibility
from tests.sessions.library_world import Library, add_resource
from tests.support import csrf, organiser_token, sign_in, staff_token

HTML = {"accept": "text/html"}
ORGANISER = Actor("organiser", "Test organiser")


async def _row(database: Database, resource_id: uuid.UUID) -> LibraryResource:
    async with database.read() as db:
        row = await db.get(LibraryResource, resource_id)
    assert row is not None
    return row


async def _audit(database: Database, action: str) -> list[AuditEntry]:
    async with database.read() as db:
        stmt = sa.select(AuditEntry).where(col(AuditEntry.action) == action)
        return list((await db.execute(stmt)).scalars())


async def test_approve_reject_and_change_visibility_are_audited(database: Database, library: Library) -> None:
    pending = library.resources["pending"]
    async with database.transaction() as db:
        await approval.approve_resource(
            db, resource_id=pending, visibility=Visibility.delegates, actor=ORGANISER, note="Thanks!"
        )
    row = await _row(database, pending)
    assert (row.status, row.visibility, row.review_note) == (
        ResourceStatus.approved,
        Visibility.delegates,
        "Thanks!",
    )
    assert row.reviewed_by == "organiser:Test organiser" and row.reviewed_at is not None
    [approved] = await _audit(database, "sessions.library.approved")
    assert approved.subject == str(pending)
    assert approved.data == {"previous": "pending", "visibility": "delegates"}
    assert "Thanks" not in str(approved.data)  # notes are free text: kept on the row, not in the log

    async with database.transaction() as db:  # the same approval again changes nothing and logs nothing
        await approval.approve_resource(
            db, resource_id=pending, visibility=Visibility.delegates, actor=ORGANISER
        )
    assert len(await _audit(database, "sessions.library.approved")) == 1

    async with database.transaction() as db:
        await approval.set_visibility(
            db, resource_id=pending, visibility=Visibility.public_sector, actor=ORGANISER
        )
    [changed] = await _audit(database, "sessions.library.visibility_changed")
    assert changed.data == {"previous": "delegates", "visibility": "public_sector"}
    assert (await _row(database, pending)).visibility == Visibility.public_sector

    async with database.transaction() as db:
        await approval.reject_resource(
            db, resource_id=pending, note="Please remove the delegates' names from slide 4.", actor=ORGANISER
        )
    row = await _row(database, pending)
    assert row.status == ResourceStatus.rejected
    assert row.review_note == "Please remove the delegates' names from slide 4."
    [rejected] = await _audit(database, "sessions.library.rejected")
    assert rejected.data == {"previous": "approved"}
    for code in (
        "sessions.library.approved",
        "sessions.library.rejected",
        "sessions.library.visibility_changed",
    ):
        assert code in LABELS


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("", "Say why, in a note the speaker will read."),
        ("   ", "Say why, in a note the speaker will read."),
        ("x" * 501, "Keep the note to 500 characters; it has 501."),
    ],
)
async def test_a_rejection_needs_a_short_note_and_nothing_changes_without_one(
    database: Database, library: Library, note: str, message: str
) -> None:
    with pytest.raises(errors.InvalidInput) as refused:
        async with database.transaction() as db:
            await approval.reject_resource(
                db, resource_id=library.resources["pending"], note=note, actor=ORGANISER
            )
    assert refused.value.fields == {"note": message}
    assert (await _row(database, library.resources["pending"])).status == ResourceStatus.pending
    assert await _audit(database, "sessions.library.rejected") == []


async def test_an_unknown_item_is_not_found(database: Database, library: Library) -> None:
    with pytest.raises(errors.NotFound):
        async with database.transaction() as db:
            await approval.approve_resource(
                db, resource_id=uuid.uuid4(), visibility=Visibility.public, actor=ORGANISER
            )


async def test_only_organisers_reach_the_console_queue(
    client: httpx.AsyncClient, database: Database, library: Library
) -> None:
    anonymous = await client.get("/console/library", headers=HTML)
    assert anonymous.status_code == 303 and "/login?next=" in anonymous.headers["location"]
    await sign_in(client, await staff_token(database))
    assert (await client.get("/console/library", headers=HTML)).status_code == 403
    file_url = f"/console/library/{library.resources['pending']}/file"
    assert (await client.get(file_url)).status_code == 403
    token = csrf((await client.get("/login", headers=HTML)).text)
    post = await client.post(
        f"/console/library/{library.resources['pending']}/approve",
        headers=HTML,
        data={"csrf_token": token, "visibility": "public"},
    )
    assert post.status_code == 403
    assert (await _row(database, library.resources["pending"])).status == ResourceStatus.pending


async def test_the_console_queue_approves_rejects_and_changes_visibility(
    client: httpx.AsyncClient, database: Database, settings: Settings, library: Library
) -> None:
    second = await add_resource(
        database,
        settings,
        proposal_id=library.talks["Confirmed"]["id"],
        title="Volunteer handbook",
        status=ResourceStatus.pending,
    )
    await sign_in(client, await organiser_token(database))
    page = await client.get("/console/library", headers=HTML)
    assert page.status_code == 200 and "<script" not in page.text
    assert "2 items are waiting for approval." in page.text
    assert '<a href="/console/library">Library</a>' in page.text  # the console's nav
    ids = re.findall(r'<li class="prog-entry lib-item" id="item-([0-9a-f-]+)" data-status="(\w+)"', page.text)
    assert [s for _i, s in ids][:2] == ["pending", "pending"]  # waiting first, oldest first
    assert ids[0][0] == str(library.resources["pending"]) and ids[1][0] == str(second)
    assert "Please" not in page.text
    token = csrf(page.text)

    # Download to check, with the same safe headers as the library.
    check = await client.get(f"/console/library/{library.resources['pending']}/file")
    assert check.status_code == 200 and check.content.startswith(b"%PDF")
    assert check.headers["content-disposition"].startswith("attachment;")
    assert check.headers["x-content-type-options"] == "nosniff"
    assert check.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert check.headers["cache-control"] == "private, no-store"
    assert (await client.get(f"/console/library/{library.resources['link']}/file")).status_code == 404
    assert (await client.get(f"/console/library/{uuid.uuid4()}/file")).status_code == 404

    # A rejection without a note is refused beside that item's form, keeping the visibility chosen.
    url = f"/console/library/{second}"
    refused = await client.post(
        url + "/reject", headers=HTML, data={"csrf_token": token, "visibility": "delegates", "note": ""}
    )
    assert refused.status_code == 422
    assert f'href="#note-{second}"' in refused.text and f'id="note-{second}-error"' in refused.text
    form = refused.text[refused.text.index(f'id="review-{second}"') :]
    assert '<option value="delegates" selected>' in form[: form.index("</form>")]
    assert (await _row(database, second)).status == ResourceStatus.pending

    bad = await client.post(url + "/approve", headers=HTML, data={"csrf_token": token, "visibility": "world"})
    assert bad.status_code == 422 and f'id="visibility-{second}-error"' in bad.text

    approved = await client.post(
        f"/console/library/{library.resources['pending']}/approve",
        headers=HTML,
        data={"csrf_token": token, "visibility": "public_sector", "note": ""},
    )
    assert approved.status_code == 303 and approved.headers["location"].endswith(
        "/console/library?done=approved"
    )
    row = await _row(database, library.resources["pending"])
    assert (row.status, row.visibility) == (ResourceStatus.approved, Visibility.public_sector)

    rejected = await client.post(
        url + "/reject", headers=HTML, data={"csrf_token": token, "note": "Please add a title slide."}
    )
    assert rejected.status_code == 303
    assert (await _row(database, second)).review_note == "Please add a title slide."

    changed = await client.post(
        f"/console/library/{library.resources['pending']}/visibility",
        headers=HTML,
        data={"csrf_token": token, "visibility": "public"},
    )
    assert changed.status_code == 303
    assert (await _row(database, library.resources["pending"])).visibility == Visibility.public
    after = await client.get(changed.headers["location"], headers=HTML)
    assert "Visibility changed." in after.text and "Nothing is waiting for approval." in after.text
    waiting = await client.get("/console/library?status=pending", headers=HTML)
    assert 'id="library-empty"' in waiting.text
    rejected_list = await client.get("/console/library?status=rejected", headers=HTML)
    assert "Please add a title slide." in rejected_list.text

    # The approved item is now in the public library, the rejected one is not.
    public = await client.get("/library", headers=HTML)
    assert "Pending handout" in public.text and "Volunteer handbook" not in public.text
    codes = [e.action for e in await _audit(database, "sessions.library.approved")]
    codes += [e.action for e in await _audit(database, "sessions.library.rejected")]
    codes += [e.action for e in await _audit(database, "sessions.library.visibility_changed")]
    assert sorted(codes) == [
        "sessions.library.approved",
        "sessions.library.rejected",
        "sessions.library.visibility_changed",
    ]
