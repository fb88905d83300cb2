"""The site a browser test drives: a fresh conference seeded in the test's database (with an organiser who signs in
with a password, or an organiser's API token), then `conference serve` on it in its own process
(support.live_server); and the console's sign-in with that token."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from conference.console import dashboard as console_dashboard
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.settings import Settings
from conference.web.auth import create_api_token
from sessions.models import RoomCreate, SessionCreate, TimeSlotCreate
from sessions.workshops import capacity, programme
from tests import support
from tests.factories import make_conference, make_console_user
from tests.support import make_settings

if TYPE_CHECKING:  # playwright is imported lazily, so that a missing install skips instead of erroring
    from playwright.sync_api import Page

ORGANISER = "organiser@example.org"  # the console user of `served(password=...)`
SEEDER = Actor("organiser", "seed")

Seeding = Callable[[Database, Settings], Awaitable[None]]


async def seed(
    url: str, *, capacity: int = 50, password: str | None = None, then: Seeding | None = None
) -> dict[str, uuid.UUID]:
    """A conference (tests.factories.make_conference), with the console user ORGANISER when `password` is given,
    then whatever `then` adds; returns the ticket types' ids."""
    settings = make_settings(url)
    database = Database.from_settings(settings)
    try:
        tickets = await make_conference(database, capacity=capacity)
        if password is not None:
            await make_console_user(database, settings, email=ORGANISER, password=password)
        if then is not None:
            await then(database, settings)
        return tickets
    finally:
        await database.dispose()  # before the server starts: no connection of ours outlives the seeding


@contextmanager
def served(
    database_url: str,
    tmp_path: Path,
    *,
    capacity: int = 50,
    password: str | None = None,
    then: Seeding | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[str, dict[str, uuid.UUID]]]:
    """The seeded conference served (see `seed`), its log in tmp_path; yields its base URL and ticket types."""
    support.require_chromium()
    tickets = asyncio.run(seed(database_url, capacity=capacity, password=password, then=then))
    with support.live_server(database_url, env=env, log_path=tmp_path / "server.log") as base:
        yield base, tickets


async def seed_with_token(url: str, *, capacity: int) -> tuple[dict[str, uuid.UUID], str]:
    """A conference and an organiser's API token (to sign in with `sign_in_with_token`)."""
    token = ""

    async def make_token(database: Database, _settings: Settings) -> None:
        nonlocal token
        async with database.transaction() as db:
            token = await create_api_token(db, role="organiser", name="Organiser")

    tickets = await seed(url, capacity=capacity, then=make_token)
    return tickets, token


def require_chart_js() -> None:
    relative, _ = console_dashboard.VENDOR["chart.umd.js"]
    if not (console_dashboard.NODE_MODULES / relative).is_file():
        pytest.fail(
            f"{relative} is missing from node_modules: run `npm ci` (./scripts/test does)", pytrace=False
        )


@contextmanager
def dashboard_site(
    database_url: str, tmp_path: Path, *, capacity: int
) -> Iterator[tuple[str, dict[str, uuid.UUID], str]]:
    """The console's charts need Chart.js from node_modules; the conference seeded with an organiser's API token and
    served; yields its base URL, ticket types and the token."""
    support.require_chromium()
    require_chart_js()
    tickets, token = asyncio.run(seed_with_token(database_url, capacity=capacity))
    with support.live_server(database_url, log_path=tmp_path / "server.log") as base:
        yield base, tickets, token


def sign_in_with_token(page: Page, base: str, token: str) -> None:
    """Through the login form with an organiser's API token, onto the dashboard."""
    page.goto(base + "/login?with=token&next=/console/dashboard")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/console/dashboard")


async def workshops(db: AsyncSession, rooms: Sequence[tuple[str, int, str]]) -> list[Any]:
    """For each (room name, seats, title) a room and a workshop in it, all in one hour from 11:00 on 8 December."""
    made = [
        await programme.create_room(db, data=RoomCreate(name=name, capacity=seats), actor=SEEDER)
        for name, seats, _title in rooms
    ]
    start = datetime(2026, 12, 8, 11, tzinfo=UTC)
    slot = await programme.create_slot(
        db, data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)), actor=SEEDER
    )
    return [
        await programme.create_session(
            db,
            data=SessionCreate(title=title, kind="workshop", room_id=room.id, start_slot_id=slot.id),
            actor=SEEDER,
        )
        for room, (_name, _seats, title) in zip(made, rooms, strict=True)
    ]


async def book_seats(db: AsyncSession, settings: Settings, seats: Sequence[tuple[uuid.UUID, Any]]) -> None:
    """Book each (registration id, session) pair, as an organiser would."""
    for registration_id, session in seats:
        await capacity.book_seat(
            db,
            settings=settings,
            registration_id=registration_id,
            session_id=session.id,
            actor=SEEDER,
            source="organiser",
        )
