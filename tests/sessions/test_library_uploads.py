"""Speakers share slides, documents and links from their proposal link (sessions/library/uploads.py, pages.py):
real files of each kind stored under the configured directory and read back identical; each bad upload refused
naming the field, with no row and no file left; only accepted or confirmed talks share; links are http(s) only;
the speaker's own download carries the safe headers; an upload too large for the body limit gets a 413 page that
says how large a file may be."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference.core import errors
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import AuditEntry
from conference.core.settings import Settings
from sessions.call import proposals
from sessions.library import storage, uploads
from sessions.models import Proposal
from sessions.models.library import LibraryResource, ResourceKind, ResourceStatus, Visibility
from tests.factories import make_conference, set_call
from tests.sessions import library_files as make
from tests.support import bearer, count_rows, csrf, make_settings, organiser_token, submit

HTML = {"accept": "text/html"}
SPEAKER = Actor("speaker", "tests")
SMALL_LIMIT = 20 * 1024  # bytes: room for the real PDF and ODP, not the DOCX or PPTX
FORM_LIMIT = 100 * 1024  # over the default body limit (64 KiB), so the upload path must take more


@pytest.fixture
def library_dir(tmp_path: Path) -> Path:
    return tmp_path / "library"


@pytest.fixture
def settings(database_url: str, library_dir: Path) -> Settings:
    return make_settings(database_url, CONFERENCE_LIBRARY_DIR=str(library_dir))


@pytest.fixture
async def world(database: Database, client: httpx.AsyncClient) -> dict[str, Any]:
    await make_conference(database, capacity=50)
    await set_call(database, open_=True)
    return {"organiser": bearer(await organiser_token(database))}


async def _proposal(
    client: httpx.AsyncClient,
    world: dict[str, Any],
    *,
    decision: str | None = "accept",
    confirm: bool = False,
) -> tuple[str, str]:
    """A proposal (accepted unless told otherwise): its id and private token."""
    made = await submit(client)
    if decision:
        decided = await client.post(
            "/api/v1/proposals/decisions",
            headers=world["organiser"],
            json={"decision": decision, "proposal_ids": [made["id"]]},
        )
        assert decided.status_code == 200, decided.text
    if confirm:
        confirmed = await client.post(
            f"/api/v1/proposals/{made['id']}/confirm", headers=bearer(made["edit_token"])
        )
        assert confirmed.status_code == 200, confirmed.text
    return made["id"], made["edit_token"]


async def _load(database: Database, token: str) -> Proposal:
    async with database.read() as db:
        p = await proposals.find_by_token(db, token)
    assert p is not None
    return p


def _stored(library_dir: Path) -> list[str]:
    return sorted(p.name for p in library_dir.iterdir()) if library_dir.exists() else []


async def _rows(database: Database) -> list[LibraryResource]:
    async with database.read() as db:
        return list((await db.execute(sa.select(LibraryResource))).scalars())


# --- the service ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("maker", "name", "format_"),
    [
        (make.make_pdf, "Slides.pdf", "pdf"),
        (make.make_docx, "Referral checklist.docx", "docx"),
        (make.make_pptx, "Front door – slides.pptx", "pptx"),
        (make.make_odp, "slides.odp", "odp"),
    ],
)
async def test_each_real_kind_is_stored_pending_and_reads_back_identical(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    world: dict[str, Any],
    library_dir: Path,
    maker: Callable[[], bytes],
    name: str,
    format_: str,
) -> None:
    _pid, token = await _proposal(client, world, confirm=format_ == "pptx")
    p = await _load(database, token)
    data = maker()
    async with database.transaction() as db:
        r = await uploads.add_file(
            db,
            settings,
            proposal=p,
            title="",
            file_name=name,
            data=data,
            visibility="delegates",
            actor=SPEAKER,
        )
    [row] = await _rows(database)
    assert (row.id, row.kind, row.format, row.status, row.visibility) == (
        r.id,
        ResourceKind.file,
        format_,
        ResourceStatus.pending,
        Visibility.delegates,
    )
    assert (row.file_name, row.title, row.size_bytes) == (name, name.rsplit(".", 1)[0], len(data))
    assert row.stored_name != name and _stored(library_dir) == [row.stored_name]
    assert storage.open_resource(settings, row.stored_name).read_bytes() == data
    async with database.read() as db:
        audit = (
            await db.execute(sa.select(AuditEntry).where(col(AuditEntry.subject) == str(r.id)))
        ).scalar_one()
    assert audit.action == "sessions.library.uploaded" and audit.data["format"] == format_


BAD = [
    # (maker, name, the words the refusal must hold)
    (make.make_docx, "slides.pdf", "This is a Word document, but its name ends .pdf"),
    (make.make_pdf, "slides.pptx", "This is a PDF, but its name ends .pptx"),
    (make.make_html, "slides.pdf", "web page"),
    (make.make_pdf, "../../slides.pdf", "folder"),
    (make.make_pdf, "C:\\talks\\slides.pdf", "folder"),
    (make.make_pdf, "slides\x00.pdf", "control character"),
    (make.make_zip_bomb_docx, "handout.docx", "zip bomb"),
    (make.make_traversal_docx, "handout.docx", "path outside itself"),
    (make.make_plain_zip, "handout.docx", "zip archive"),
    (make.make_macro_pptx, "slides.pptx", "macro"),
    (make.make_macro_pptx, "slides.pptm", "macro"),
    (lambda: b"", "slides.pdf", "empty"),
]


@pytest.mark.parametrize(("maker", "name", "words"), BAD)
async def test_each_bad_upload_is_refused_naming_the_file_with_nothing_stored(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    world: dict[str, Any],
    library_dir: Path,
    maker: Callable[[], bytes],
    name: str,
    words: str,
) -> None:
    _pid, token = await _proposal(client, world)
    p = await _load(database, token)
    with pytest.raises(errors.InvalidInput) as refused:
        async with database.transaction() as db:
            await uploads.add_file(
                db,
                settings,
                proposal=p,
                title="Slides",
                file_name=name,
                data=maker(),
                visibility="public",
                actor=SPEAKER,
            )
    assert words in (refused.value.fields or {}).get("file", ""), refused.value.fields
    assert await count_rows(database, LibraryResource) == 0 and _stored(library_dir) == []


async def test_a_file_over_the_limit_is_refused_saying_the_limit(
    database_url: str, database: Database, client: httpx.AsyncClient, world: dict[str, Any], library_dir: Path
) -> None:
    small = make_settings(
        database_url, CONFERENCE_LIBRARY_DIR=str(library_dir), CONFERENCE_LIBRARY_MAX_BYTES=str(SMALL_LIMIT)
    )
    _pid, token = await _proposal(client, world)
    p = await _load(database, token)
    with pytest.raises(errors.InvalidInput) as refused:
        async with database.transaction() as db:
            await uploads.add_file(
                db,
                small,
                proposal=p,
                title="",
                file_name="handout.docx",
                data=make.make_docx(),
                visibility="public",
                actor=SPEAKER,
            )
    assert "the most you can upload is 20 KB" in (refused.value.fields or {})["file"]
    assert await count_rows(database, LibraryResource) == 0 and _stored(library_dir) == []


async def test_nothing_is_left_when_the_transaction_fails_after_the_file_was_written(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    world: dict[str, Any],
    library_dir: Path,
) -> None:
    _pid, token = await _proposal(client, world)
    p = await _load(database, token)
    with pytest.raises(RuntimeError, match="after the upload"):
        async with database.transaction() as db:
            await uploads.add_file(
                db,
                settings,
                proposal=p,
                title="",
                file_name="slides.pdf",
                data=make.make_pdf(),
                visibility="public",
                actor=SPEAKER,
            )
            assert len(_stored(library_dir)) == 1  # written, not yet committed
            raise RuntimeError("something else in the use-case failed after the upload")
    assert await count_rows(database, LibraryResource) == 0 and _stored(library_dir) == []


@pytest.mark.parametrize("decision", ["reject", None, "withdraw", "decline"])
async def test_only_an_accepted_or_confirmed_talk_shares(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    world: dict[str, Any],
    library_dir: Path,
    decision: str | None,
) -> None:
    pid, token = await _proposal(
        client,
        world,
        decision="accept" if decision == "decline" else decision if decision == "reject" else None,
    )
    if decision == "withdraw":
        withdrawn = await client.post(f"/api/v1/proposals/{pid}/withdraw", headers=bearer(token))
        assert withdrawn.status_code == 200, withdrawn.text
    if decision == "decline":
        declined = await client.post(f"/api/v1/proposals/{pid}/decline", headers=bearer(token))
        assert declined.status_code == 200, declined.text
    p = await _load(database, token)
    with pytest.raises(uploads.ResourcesClosed, match="only an accepted or confirmed talk"):
        async with database.transaction() as db:
            await uploads.add_file(
                db,
                settings,
                proposal=p,
                title="",
                file_name="slides.pdf",
                data=make.make_pdf(),
                visibility="public",
                actor=SPEAKER,
            )
    with pytest.raises(uploads.ResourcesClosed):
        async with database.transaction() as db:
            await uploads.add_link(
                db, proposal=p, title="Report", url="https://example.org/", visibility="public", actor=SPEAKER
            )
    assert await count_rows(database, LibraryResource) == 0 and _stored(library_dir) == []
    # Through the link: the page says so and has no forms; a post is refused with the page again (409).
    page = await client.get(f"/proposal/{token}/resources", headers=HTML)
    assert page.status_code == 200 and 'id="resources-closed"' in page.text
    assert 'id="resource-upload"' not in page.text and 'id="resource-link"' not in page.text
    posted = await client.post(
        f"/proposal/{token}/resources",
        headers=HTML,
        data={"csrf_token": csrf((await client.get("/call", headers=HTML)).text), "title": "Slides"},
        files={"file": ("slides.pdf", make.make_pdf(), "application/pdf")},
    )
    assert posted.status_code == 409 and "only an accepted or confirmed talk" in posted.text
    assert await count_rows(database, LibraryResource) == 0 and _stored(library_dir) == []


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("javascript:alert(document.cookie)", "Only web addresses starting https://"),
        ("JavaScript:alert(1)", "Only web addresses starting https://"),
        ("data:text/html,<script>alert(1)</script>", "Only web addresses starting https://"),
        ("data:text/html;base64,PHNjcmlwdD4=", "Only web addresses starting https://"),
        ("ftp://example.org/report.pdf", "Only web addresses starting https://"),
        ("https://", "no site name"),
        ("//example.org/x", "Only web addresses starting https://"),
        ("https://user:secret@example.org/", "user name or password"),
        ("", "Enter the address"),
    ],
)
def test_links_are_http_or_https_only(url: str, words: str) -> None:
    with pytest.raises(errors.InvalidInput) as refused:
        uploads.check_url(url)
    assert words in (refused.value.fields or {})["url"]


async def test_a_link_is_shared_pending_and_removed_with_its_file_only_after_commit(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    world: dict[str, Any],
    library_dir: Path,
) -> None:
    _pid, token = await _proposal(client, world, confirm=True)
    p = await _load(database, token)
    async with database.transaction() as db:
        link = await uploads.add_link(
            db,
            proposal=p,
            title="  The full  evaluation report ",
            url="https://www.gov.uk/government/publications/front-door",
            visibility=Visibility.public_sector,
            actor=SPEAKER,
        )
        file = await uploads.add_file(
            db,
            settings,
            proposal=p,
            title="Slides",
            file_name="slides.pdf",
            data=make.make_pdf(),
            visibility="public",
            actor=SPEAKER,
        )
    assert (link.kind, link.title, link.format, link.status, link.visibility) == (
        ResourceKind.link,
        "The full evaluation report",
        "link",
        ResourceStatus.pending,
        Visibility.public_sector,
    )
    # A removal that rolls back keeps the row and its file.
    with pytest.raises(RuntimeError):
        async with database.transaction() as db:
            await uploads.remove_resource(db, settings, proposal=p, resource_id=file.id, actor=SPEAKER)
            raise RuntimeError("rolled back")
    assert _stored(library_dir) == [file.stored_name] and await count_rows(database, LibraryResource) == 2
    async with database.transaction() as db:
        await uploads.remove_resource(db, settings, proposal=p, resource_id=file.id, actor=SPEAKER)
        await uploads.remove_resource(db, settings, proposal=p, resource_id=link.id, actor=SPEAKER)
    assert _stored(library_dir) == [] and await count_rows(database, LibraryResource) == 0
    # Another proposal's item, or one already gone, is not found.
    with pytest.raises(errors.NotFound):
        async with database.transaction() as db:
            await uploads.remove_resource(db, settings, proposal=p, resource_id=link.id, actor=SPEAKER)


# --- through the proposal link -------------------------------------------------------------------------------


async def test_a_speaker_uploads_slides_through_the_form_and_downloads_them_back(
    client: httpx.AsyncClient, database: Database, world: dict[str, Any], library_dir: Path
) -> None:
    _pid, token = await _proposal(client, world)
    proposal_page = await client.get(f"/proposal/{token}", headers=HTML)
    assert f'href="http://testserver/proposal/{token}/resources"' in proposal_page.text
    assert "Share your slides and resources" in proposal_page.text
    page = await client.get(f"/proposal/{token}/resources", headers=HTML)
    assert page.status_code == 200
    for form in ('id="resource-upload"', 'id="resource-link"', 'name="file" type="file"', "Nothing yet."):
        assert form in page.text
    data = make.make_pdf()
    posted = await client.post(
        f"/proposal/{token}/resources",
        headers=HTML,
        data={"csrf_token": csrf(page.text), "title": "Our slides", "visibility": "delegates"},
        files={"file": ("Front door.pdf", data, "application/octet-stream")},
    )
    assert posted.status_code == 303, posted.text
    assert posted.headers["location"].endswith(f"/proposal/{token}/resources?done=uploaded")
    listed = await client.get(posted.headers["location"], headers=HTML)
    assert "your file is uploaded" in listed.text and "Our slides" in listed.text
    assert "Waiting for the organisers" in listed.text and "Delegates only" in listed.text
    [row] = await _rows(database)
    assert (row.title, row.file_name, row.content_type) == ("Our slides", "Front door.pdf", "application/pdf")
    download = await client.get(f"/proposal/{token}/resources/{row.id}/file")
    assert download.status_code == 200 and download.content == data
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"Front door.pdf\"; filename*=UTF-8''Front%20door.pdf"
    )
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert download.headers["cache-control"] == "private, no-store"
    # Another proposal's link cannot fetch or remove it.
    _other_id, other = await _proposal(client, world)
    assert (await client.get(f"/proposal/{other}/resources/{row.id}/file")).status_code == 404
    assert (await client.get(f"/proposal/{other}/resources/{row.id}/remove", headers=HTML)).status_code == 404
    # Remove asks first, saying what goes; nothing is removed by looking.
    assert f'/proposal/{token}/resources/{row.id}/remove" id="remove-{row.id}"' in listed.text
    asked = await client.get(f"/proposal/{token}/resources/{row.id}/remove", headers=HTML)
    assert asked.status_code == 200 and "Remove “Our slides”?" in asked.text
    assert "The file Front door.pdf is deleted." in asked.text
    assert await count_rows(database, LibraryResource) == 1
    removed = await client.post(
        f"/proposal/{token}/resources/{row.id}/remove", headers=HTML, data={"csrf_token": csrf(asked.text)}
    )
    assert removed.status_code == 303 and removed.headers["location"].endswith("?done=removed")
    assert await count_rows(database, LibraryResource) == 0 and _stored(library_dir) == []


# Through HTTP, less two names: a NUL cannot be sent in a multipart header, and python-multipart itself cuts a
# Windows path down to its last part (for old browsers that sent one); the service refuses both (above).
@pytest.mark.parametrize(
    ("maker", "name", "words"), [b for b in BAD if b[1] not in ("slides\x00.pdf", "C:\\talks\\slides.pdf")]
)
async def test_a_refused_upload_shows_the_form_again_naming_the_file_and_keeping_the_title(
    client: httpx.AsyncClient,
    database: Database,
    world: dict[str, Any],
    library_dir: Path,
    maker: Callable[[], bytes],
    name: str,
    words: str,
) -> None:
    _pid, token = await _proposal(client, world)
    page = await client.get(f"/proposal/{token}/resources", headers=HTML)
    posted = await client.post(
        f"/proposal/{token}/resources",
        headers=HTML,
        data={"csrf_token": csrf(page.text), "title": "Our slides", "visibility": "public_sector"},
        files={"file": (name, maker(), "application/pdf")},
    )
    assert posted.status_code == 422, posted.text
    assert "There is a problem" in posted.text and 'href="#file"' in posted.text
    assert re.search(
        r'id="file-error">.*' + re.escape(words.replace('"', "&#34;")), posted.text.replace("\n", " ")
    )
    assert "Choose the file again" in posted.text
    assert 'value="Our slides"' in posted.text and 'value="public_sector" selected' in posted.text
    assert await count_rows(database, LibraryResource) == 0 and _stored(library_dir) == []


async def test_no_file_chosen_is_refused_naming_the_field(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    _pid, token = await _proposal(client, world)
    page = await client.get(f"/proposal/{token}/resources", headers=HTML)
    posted = await client.post(
        f"/proposal/{token}/resources",
        headers=HTML,
        data={"csrf_token": csrf(page.text), "title": "", "visibility": "public"},
        files={"file": ("", b"", "application/octet-stream")},
    )
    assert posted.status_code == 422 and "Choose a file to upload" in posted.text


async def test_a_link_through_the_form_and_javascript_refused(
    client: httpx.AsyncClient, database: Database, world: dict[str, Any]
) -> None:
    _pid, token = await _proposal(client, world)
    page = await client.get(f"/proposal/{token}/resources", headers=HTML)
    refused = await client.post(
        f"/proposal/{token}/resources/links",
        headers=HTML,
        data={
            "csrf_token": csrf(page.text),
            "title": "Report",
            "url": "javascript:alert(1)",
            "visibility": "public",
        },
    )
    assert refused.status_code == 422 and 'href="#url"' in refused.text
    assert "Only web addresses starting https://" in refused.text and 'value="Report"' in refused.text
    assert await count_rows(database, LibraryResource) == 0
    added = await client.post(
        f"/proposal/{token}/resources/links",
        headers=HTML,
        data={
            "csrf_token": csrf(page.text),
            "title": "Report",
            "url": "https://example.org/report",
            "visibility": "public",
        },
    )
    assert added.status_code == 303 and added.headers["location"].endswith("?done=linked")
    listed = await client.get(added.headers["location"], headers=HTML)
    assert "Link: https://example.org/report" in listed.text and "your link is added" in listed.text
    [row] = await _rows(database)
    # A link has no file to download.
    assert (await client.get(f"/proposal/{token}/resources/{row.id}/file")).status_code == 404


async def test_a_form_without_its_csrf_token_is_refused(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    _pid, token = await _proposal(client, world)
    posted = await client.post(
        f"/proposal/{token}/resources",
        headers=HTML,
        data={"title": "Slides", "visibility": "public"},
        files={"file": ("slides.pdf", make.make_pdf(), "application/pdf")},
    )
    assert posted.status_code == 403


@pytest.fixture
async def small_client(database_url: str, library_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    from tests.support import running_app

    async with running_app(
        database_url, CONFERENCE_LIBRARY_DIR=str(library_dir), CONFERENCE_LIBRARY_MAX_BYTES=str(FORM_LIMIT)
    ) as c:
        yield c


async def test_the_body_limit_takes_the_largest_file_and_says_the_limit_when_over(
    small_client: httpx.AsyncClient, database: Database, library_dir: Path
) -> None:
    client = small_client
    await make_conference(database, capacity=50)
    await set_call(database, open_=True)
    _pid, token = await _proposal(client, {"organiser": bearer(await organiser_token(database))})
    page = await client.get(f"/proposal/{token}/resources", headers=HTML)
    form = {"csrf_token": csrf(page.text), "title": "", "visibility": "public"}
    # Over the default 64 KiB body limit, under the library's limit plus the form: taken.
    big_pdf = make.make_pdf(pages=1)
    big_pdf = big_pdf.replace(b"%%EOF", b"%" + b"x" * 80_000 + b"\n%%EOF")  # a comment pads it
    ok = await client.post(
        f"/proposal/{token}/resources",
        headers=HTML,
        data=form,
        files={"file": ("a.pdf", big_pdf, "application/pdf")},
    )
    assert ok.status_code == 303, ok.text
    # Over the library's limit but inside its form allowance: refused by the upload check, naming the field.
    over = make.make_pdf(pages=1).replace(b"%%EOF", b"%" + b"x" * (FORM_LIMIT + 1000) + b"\n%%EOF")
    refused = await client.post(
        f"/proposal/{token}/resources",
        headers=HTML,
        data=form,
        files={"file": ("b.pdf", over, "application/pdf")},
    )
    assert refused.status_code == 422 and "the most you can upload is 100 KB" in refused.text
    # Far over: refused by the body limit before the app reads it, as a page that says the limit.
    huge = b"%PDF-1.4\n" + b"x" * (FORM_LIMIT + 200 * 1024) + b"\n%%EOF"
    too_big = await client.post(
        f"/proposal/{token}/resources",
        headers=HTML,
        data=form,
        files={"file": ("c.pdf", huge, "application/pdf")},
    )
    assert too_big.status_code == 413
    assert "text/html" in too_big.headers["content-type"]
    assert "The file is too large: the most you can upload is 100 KB" in too_big.text
    api = await client.post(
        f"/proposal/{token}/resources", data=form, files={"file": ("c.pdf", huge, "application/pdf")}
    )
    assert api.status_code == 413 and api.json()["error"]["code"] == "payload_too_large"
    # Other pages keep the default limit.
    other = await client.post(
        "/call", headers=HTML, data={"csrf_token": form["csrf_token"], "x": "y" * 70_000}
    )
    assert other.status_code == 413 and "over 65536 bytes" in other.text
    assert len(_stored(library_dir)) == 1
    assert uuid.UUID(str((await _rows(database))[0].id))
