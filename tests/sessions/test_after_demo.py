"""The finished demo (sessions/after_demo.py, `conference demo --finished`, what ./scripts/demo runs): the event
moved into the past as a whole, scans as the doors and rooms record them, certificates for the delegates admitted
and nobody else, feedback from those who came, and a library with an item of each visibility (files on disk)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.models import Checkin, Conference, Registration, Status, utcnow
from conference.core.settings import Settings
from conference.server.demo import load_demo
from sessions.after_demo import Shift, days_to_finish, finish_demo, slides_pdf
from sessions.demo import book_demo_seats, load_demo_programme
from sessions.models import (
    CallForTalks,
    Certificate,
    CertificateStatus,
    Kind,
    LibraryResource,
    ProgrammeSession,
    ResourceKind,
    ResourceStatus,
    SeatBooking,
    SeatStatus,
    TimeSlot,
    Visibility,
)
from sessions.models.feedback import EVENT, FeedbackAnswer
from tests.support import SECRET_KEY, make_settings, pdf_text

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def library_settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, CONFERENCE_LIBRARY_DIR=str(tmp_path / "library"))


async def _counts(database: Database) -> dict[str, int]:
    async with database.read() as db:

        async def count(table: type, *where: sa.ColumnElement[bool]) -> int:
            return int(
                (await db.execute(sa.select(sa.func.count()).select_from(table).where(*where))).scalar_one()
            )

        return {
            "checkins": await count(Checkin),
            "certificates": await count(Certificate),
            "feedback": await count(FeedbackAnswer),
            "library": await count(LibraryResource),
        }


async def test_the_finished_demo_is_a_whole_event_in_the_past(library_settings: Settings) -> None:
    settings = library_settings
    await load_demo(settings, attendees=40, seed=11)
    database = Database.from_settings(settings)
    try:
        await load_demo_programme(database)
        assert await book_demo_seats(database, settings, seed=11) > 0
        summary = await finish_demo(database, settings, seed=11)
        assert "the event ended on" in summary and "certificates of attendance" in summary
        now = utcnow()
        async with database.read() as db:
            conference = (await db.execute(sa.select(Conference))).scalar_one()
            sessions = list((await db.execute(sa.select(ProgrammeSession))).scalars())
            slots = list((await db.execute(sa.select(TimeSlot))).scalars())
            call = (await db.execute(sa.select(CallForTalks))).scalar_one()
            registrations = list((await db.execute(sa.select(Registration))).scalars())
            checkins = list((await db.execute(sa.select(Checkin))).scalars())
            seats = {
                (s.registration_id, str(s.session_id))
                for s in (
                    await db.execute(
                        sa.select(SeatBooking).where(col(SeatBooking.status) == SeatStatus.booked)
                    )
                ).scalars()
            }
            certificates = list((await db.execute(sa.select(Certificate))).scalars())
            answers = list((await db.execute(sa.select(FeedbackAnswer))).scalars())
            resources = list((await db.execute(sa.select(LibraryResource))).scalars())

        # The whole event moved: it ended two days before today, at the same wall-clock times as before.
        assert conference.ends_at < now
        assert conference.ends_at.astimezone(LONDON).date() == now.astimezone(LONDON).date() - timedelta(
            days=2
        )
        assert conference.starts_at.astimezone(LONDON).strftime("%H:%M") == "09:00"
        assert conference.ends_at.astimezone(LONDON).strftime("%H:%M") == "17:00"
        assert conference.registration_closes_at == conference.starts_at
        first_day = conference.starts_at.astimezone(LONDON).date()
        assert all(s.ends_at <= conference.ends_at and s.starts_at >= conference.starts_at for s in sessions)
        assert {s.starts_at.astimezone(LONDON).date() for s in slots} == {
            first_day,
            first_day + timedelta(days=1),
        }
        assert min(s.starts_at.astimezone(LONDON).strftime("%H:%M") for s in slots) == "09:30"
        assert call.opens_at is not None and call.closes_at is not None
        assert call.opens_at < call.closes_at < conference.starts_at
        # The 40 registered before the event (the hand-made bookings are made when the demo loads).
        assert sum(r.created_at < conference.starts_at for r in registrations) >= 40

        # The doors: admissions on day one (or day two for some), the returning delegates seen again on day two.
        confirmed = {r.id for r in registrations if r.status == Status.confirmed}
        door_ok = {c.registration_id for c in checkins if c.list == "door" and c.result == "ok"}
        again = [c for c in checkins if c.list == "door" and c.result == "already_checked_in"]
        assert door_ok and door_ok <= confirmed and again
        assert all(c.registration_id in door_ok for c in again)
        assert all(
            conference.starts_at - timedelta(hours=2) < c.scanned_at < conference.ends_at for c in checkins
        )
        no_shows = confirmed - door_ok
        assert no_shows, "some confirmed delegates never came (seed 11)"
        # The rooms: admitted only with a booked seat; anyone else turned away as not booked.
        room_ok = [c for c in checkins if c.list != "door" and c.result == "ok"]
        assert room_ok and all((c.registration_id, c.list) in seats for c in room_ok)
        assert all(c.registration_id in door_ok for c in room_ok)
        assert all((c.registration_id, c.list) not in seats for c in checkins if c.result == "not_booked")

        # Certificates: for delegates admitted at the door, and nobody else.
        current = [c for c in certificates if c.status == CertificateStatus.issued]
        certified = {c.registration_id for c in current}
        assert certified and certified <= door_ok and not certified & no_shows
        assert all(c.cpd_minutes > 0 and c.sessions for c in current)

        # Feedback: from delegates admitted at the door, on sessions they were at and on the event.
        assert answers and {a.registration_id for a in answers} <= door_ok
        assert any(a.target == EVENT for a in answers) and any(a.target != EVENT for a in answers)
        scanned = {(c.registration_id, c.list) for c in room_ok}
        plenaries = {str(s.id) for s in sessions if s.kind == Kind.plenary}
        for a in answers:
            if a.target != EVENT:
                assert (a.registration_id, a.target) in scanned or a.target in plenaries
            assert 1 <= a.rating <= 5 and a.created_at <= now
        assert len({a.target for a in answers if a.target != EVENT}) >= 3

        # The library: approved items of each visibility, one waiting for approval; the files really on disk.
        approved = {r.visibility for r in resources if r.status == ResourceStatus.approved}
        assert approved == set(Visibility)
        assert [r.status for r in resources].count(ResourceStatus.pending) == 1
        files = [r for r in resources if r.kind == ResourceKind.file]
        assert files and any(r.kind == ResourceKind.link for r in resources)
        root = Path(settings.library_dir)
        for r in files:
            data = (root / r.stored_name).read_bytes()
            assert data.startswith(b"%PDF") and hashlib.sha256(data).hexdigest() == r.sha256
            assert r.format == "pdf" and r.file_name.endswith(".pdf")

        # Run again: nothing moves again and nothing is added twice.
        before = await _counts(database)
        again_summary = await finish_demo(database, settings, seed=11)
        assert "moved" not in again_summary
        assert await _counts(database) == before
        async with database.read() as db:
            assert (await db.execute(sa.select(Conference))).scalar_one().ends_at == conference.ends_at
        assert len(list(root.iterdir())) == len(files)
    finally:
        await database.dispose()


def test_a_shift_keeps_the_wall_clock_across_a_change_of_summer_time() -> None:
    shift = Shift(-8, LONDON)
    # 9:00 on 27 October (GMT) is 9:00 on 19 October (BST): an hour earlier in UTC.
    assert shift.moment(datetime(2026, 10, 27, 9, 0, tzinfo=UTC)) == datetime(2026, 10, 19, 8, 0, tzinfo=UTC)
    assert shift.json(
        {"2026-12-08": 90, "to": {"starts_at": "2026-12-08T12:15:00+00:00", "room": "Room 1"}}
    ) == {
        "2026-11-30": 90,
        "to": {"starts_at": "2026-11-30T12:15:00+00:00", "room": "Room 1"},
    }
    assert shift.json(["2026-12-08", "not a date", 3, None]) == ["2026-11-30", "not a date", 3, None]


def test_the_event_moves_to_end_two_days_before_today_and_not_once_played_out() -> None:
    conference = Conference(
        name="x",
        timezone="Europe/London",
        starts_at=datetime(2026, 12, 8, 9, 0, tzinfo=UTC),
        ends_at=datetime(2026, 12, 9, 17, 0, tzinfo=UTC),
    )
    assert days_to_finish(conference, datetime(2026, 12, 3, 19, 0, tzinfo=UTC)) == -8
    # Loaded long after December, the demo still ends two days before today; once played out it stays put.
    assert days_to_finish(conference, datetime(2027, 3, 1, 12, 0, tzinfo=UTC)) == 80
    assert days_to_finish(conference, datetime(2027, 3, 1, 12, 0, tzinfo=UTC), played=True) == 0
    assert days_to_finish(conference, datetime(2026, 12, 3, 19, 0, tzinfo=UTC), played=True) == -8


def test_the_demo_slides_are_a_real_pdf() -> None:
    data = slides_pdf("Slides", "One front door", [("Priya Shah", "Leeds City Council")], ["education"])
    text, pages = pdf_text(data)
    assert pages == 4
    assert data.startswith(b"%PDF") and "One front door" in text and "Priya Shah, Leeds City Council" in text
    assert "What others can take away" in text


def test_the_command_line_loads_the_finished_demo(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CONFERENCE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "CONFERENCE_SECRET_KEY": SECRET_KEY,
        "CONFERENCE_LIBRARY_DIR": str(tmp_path / "library"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "conference.server.cli", "demo", "--attendees", "12", "--finished"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert any(line.startswith("demo: the event ended on") and "moved" in line for line in lines)
    assert any("certificates of attendance" in line for line in lines)
    assert any(line.startswith("demo: the library has 9 items") for line in lines)
    assert len([p for p in (tmp_path / "library").iterdir() if p.suffix == ".pdf"]) >= 5
    assert "@" not in result.stderr  # no delegate's email in the output
