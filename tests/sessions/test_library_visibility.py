"""Who may see which library item (sessions/library/visibility.py), and the files each viewer can download, with
safe headers: public items to anyone at /library/files, delegates-only items to delegates holding a place, and
public-sector items only to public-sector delegates holding a place, from their manage link."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from conference.core.db import Database
from conference.core.models import Registration, Sector, Status
from conference.core.settings import Settings
from sessions.library.visibility import ANONYMOUS, can_see, delegate, visible_to
from sessions.models import Visibility
from tests.sessions.library_world import Library
from tests.support import pdf_text


def _registration(sector: Sector, status: Status = Status.confirmed, erased: bool = False) -> Registration:
    return Registration(
        conference_id=1,
        ticket_type_id=uuid.uuid4(),
        number=1,
        reference="ABC123",
        status=status,
        name="A Delegate",
        email="a@example.org",
        email_key="a@example.org",
        organisation="Somewhere",
        sector=sector,
        manage_token_hash="x" * 64,
        consent_at=datetime(2026, 11, 1, tzinfo=UTC),
        erased_at=datetime(2027, 1, 1, tzinfo=UTC) if erased else None,
    )


@pytest.mark.parametrize(
    ("sector", "status", "erased", "seen"),
    [
        (Sector.police, Status.confirmed, False, {"public", "delegates", "public_sector"}),
        (Sector.local_authority, Status.confirmed, False, {"public", "delegates", "public_sector"}),
        (Sector.health, Status.confirmed, False, {"public", "delegates", "public_sector"}),
        (Sector.community_faith, Status.confirmed, False, {"public", "delegates"}),
        (Sector.other, Status.confirmed, False, {"public", "delegates"}),
        (Sector.police, Status.cancelled, False, {"public"}),
        (Sector.police, Status.waitlisted, False, {"public"}),
        (Sector.police, Status.pending_payment, False, {"public"}),
        (Sector.police, Status.awaiting_approval, False, {"public"}),
        (Sector.police, Status.confirmed, True, {"public"}),
    ],
)
def test_the_public_sector_rule(sector: Sector, status: Status, erased: bool, seen: set[str]) -> None:
    viewer = delegate(_registration(sector, status, erased))
    assert {v.value for v in Visibility if can_see(viewer, v)} == seen
    assert {v.value for v in visible_to(viewer)} == seen


def test_an_anonymous_visitor_sees_public_items_only() -> None:
    assert visible_to(ANONYMOUS) == (Visibility.public,)
    assert ANONYMOUS.anonymous


def _file_url(lib: Library, who: str | None, item: str) -> str:
    base = f"/manage/{lib.people[who]['manage_token']}/library" if who else "/library"
    return f"{base}/files/{lib.resources[item]}"


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        (None, {"public"}),
        ("faith", {"public", "delegates"}),
        ("other", {"public", "delegates"}),
        ("police", {"public", "delegates", "public_sector"}),
        ("cancelled", {"public"}),
    ],
)
async def test_each_viewer_downloads_exactly_the_files_they_may_see(
    client: httpx.AsyncClient, library: Library, who: str | None, allowed: set[str]
) -> None:
    for item in (
        "public",
        "delegates",
        "public_sector",
        "confirmed",
        "pending",
        "rejected",
        "link",
        "declined",
    ):
        response = await client.get(_file_url(library, who, item))
        expected = item in allowed or item == "confirmed"
        assert (response.status_code == 200) == expected, (who, item, response.status_code)
        if not expected:
            assert response.status_code == 404
            assert b"%PDF" not in response.content


async def test_files_are_served_with_safe_headers(client: httpx.AsyncClient, library: Library) -> None:
    public = await client.get(_file_url(library, None, "public"))
    assert public.status_code == 200
    assert public.content.startswith(b"%PDF")
    text, pages = pdf_text(public.content)
    assert "Slides for public" in text and pages == 2
    headers = public.headers
    assert headers["content-type"] == "application/pdf"
    assert headers["content-disposition"].startswith('attachment; filename="slides.pdf"')
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert headers["cache-control"] == "public, max-age=60"

    restricted = await client.get(_file_url(library, "police", "public_sector"))
    assert restricted.status_code == 200
    assert restricted.headers["cache-control"] == "private, no-store"
    assert restricted.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert restricted.headers["content-disposition"].startswith("attachment;")


async def test_bad_and_unknown_file_addresses_are_404(client: httpx.AsyncClient, library: Library) -> None:
    token = library.people["police"]["manage_token"]
    for url in (
        "/library/files/not-a-uuid",
        f"/library/files/{uuid.uuid4()}",
        f"/manage/{token}/library/files/{uuid.uuid4()}",
        f"/manage/{token}/library/files/..%2F..%2Fetc%2Fpasswd",
        f"/manage/m_nobody/library/files/{library.resources['public']}",
    ):
        response = await client.get(url)
        assert response.status_code == 404, url


async def test_a_file_missing_from_the_directory_is_404_not_500(
    client: httpx.AsyncClient, library: Library, settings: Settings, database: Database
) -> None:
    from sessions.models import LibraryResource

    async with database.read() as db:
        row = await db.get(LibraryResource, library.resources["public"])
    assert row is not None
    (Path(settings.library_dir) / row.stored_name).unlink()
    response = await client.get(_file_url(library, None, "public"))
    assert response.status_code == 404
