"""The demo event, finished: `conference demo --finished` (what `./scripts/demo` runs) moves the demo conference into
the past and plays it out, so the after-event features have something to show.

1. The whole event moves back (or forward) by one whole number of days so that it ended two days before today: every
   date and time in the demo's tables (the conference's dates and windows, the slots and sessions, the call, the
   registrations, the reviews, the emails, times inside the schedule's JSON; not the audit trail, which is
   append-only), keeping each one's wall-clock time in the conference's zone. Registration closed when the event
   started.
2. The doors and rooms are scanned as `badges/checkin.py` records scans: most confirmed delegates are admitted at the
   door on day one and come back on day two (an `already_checked_in` door scan that day); some come on one day
   only, a few not at all; most booked workshop seats are scanned at the room, and a few walk-ins without a seat
   are turned away (`not_booked`).
3. Certificates are issued in bulk (sessions/attendance/bulk.py), as the organisers' "Issue certificates" does.
4. Delegates who attended rate several sessions and the event (sessions/feedback/).
5. Speakers of a few accepted talks share slides (small real PDFs) and links in the best-practice library
   (sessions/library/); organisers approve them with each visibility, one waits for approval and one was rejected.

Everything is seeded (the same seed gives the same event) and a second run adds nothing twice: the dates move
only until the event has been played out (scanned), scans are made only for delegates and seats not scanned yet,
certificates are reissued only when their content changed, feedback is given only where a delegate has not
answered, library items are shared only once.
"""

from __future__ import annotations

import random
import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fpdf import FPDF
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from conference.core import code_models, group_models, question_models
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.formats import conference_zone, day
from conference.core.models import Checkin, Conference, Registration, Sector, Status, UTCDateTime, utcnow
from conference.core.pdf_fonts import add_body_font
from conference.core.settings import Settings
from sessions.attendance import bulk, followup
from sessions.feedback import answers as feedback_answers
from sessions.feedback import questions as feedback_questions
from sessions.feedback import window as feedback_window
from sessions.library import approval, uploads
from sessions.models import (
    AfterEventSettings,
    Certificate,
    CertificateRun,
    CertificateStatus,
    Kind,
    LibraryResource,
    ProgrammeSession,
    Proposal,
    ProposalSpeaker,
    ProposalStatus,
    ResourceStatus,
    Room,
    SeatBooking,
    SeatStatus,
    SessionTalk,
    Visibility,
)
from sessions.models.feedback import EVENT, AppliesTo, FeedbackAnswer, FeedbackQuestion, QuestionKind
from sessions.models.library import VISIBILITY_LABELS

# Modules whose tables are not imported by conference.core.models: imported here so their dates move too.
TABLE_MODULES = (code_models, group_models, question_models)
DEMO = Actor("cli", "demo")
ENDED_DAYS_AGO = 2  # the finished demo event's last day was two days before today
DOOR = "door"  # the door's list (sessions/workshops/attended.py, badges/checkin.py)
DOORS = ("Door A", "Door B", "Door C")
# Left where they are: the audit trail (append-only, in the database itself: it says when the demo was really
# loaded) and the times of the people using this installation, not of the demo story.
NOT_SHIFTED = frozenset(
    {
        "audit_entry",
        "api_token",
        "console_session",
        "user_account",
        "password_reset",
        "idempotency_key",
        "stripe_event",
    }
)
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# --- 1. the dates ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shift:
    """Move a moment by `days` whole days of the zone's calendar, keeping its wall-clock time there."""

    days: int
    zone: ZoneInfo

    def moment(self, value: datetime) -> datetime:
        local = value.astimezone(self.zone).replace(tzinfo=None) + timedelta(days=self.days)
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    def day(self, value: date) -> date:
        return value + timedelta(days=self.days)

    def text(self, value: str) -> str:
        """An ISO date or time inside JSON, moved; any other text unchanged."""
        if _ISO_DATE.match(value):
            return self.day(date.fromisoformat(value)).isoformat()
        if _ISO_TIME.match(value):
            moved = self.moment(datetime.fromisoformat(value.replace("Z", "+00:00")))
            return moved.astimezone(datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo).isoformat()
        return value

    def json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            return {self.text(k): self.json(v) for k, v in value.items()}
        return value


def days_to_finish(conference: Conference, now: datetime, *, played: bool = False) -> int:
    """How many days the event moves so its last day was ENDED_DAYS_AGO days before today: 0 once it has ended and
    been `played` (scanned: a second run leaves it where it is; a demo loaded long after December still moves)."""
    if played and conference.ends_at <= now:
        return 0
    zone = conference_zone(conference)
    last_day = now.astimezone(zone).date() - timedelta(days=ENDED_DAYS_AGO)
    return (last_day - conference.ends_at.astimezone(zone).date()).days


def _kind_of(column: sa.Column[Any]) -> str:
    if isinstance(column.type, (UTCDateTime, sa.DateTime)):
        return "moment"
    if isinstance(column.type, sa.Date):
        return "day"
    if isinstance(column.type, sa.JSON):
        return "json"
    return ""


def _tables() -> Iterator[sa.Table]:
    for name, table in sorted(SQLModel.metadata.tables.items()):
        if name not in NOT_SHIFTED:
            yield table


async def shift_table(db: AsyncSession, table: sa.Table, shift: Shift) -> int:
    """Move every date and time in `table` (and inside its JSON); returns how many rows changed."""
    columns = [c for c in table.columns if _kind_of(c) and not c.primary_key]
    keys = list(table.primary_key.columns)
    if not columns or not keys:
        return 0
    rows = (await db.execute(sa.select(*keys, *columns))).all()
    changes: list[dict[str, Any]] = []
    for row in rows:
        values: dict[str, Any] = {}
        for c in columns:
            old = row._mapping[c]
            if old is None:
                continue
            kind = _kind_of(c)
            new = (
                shift.moment(old)
                if kind == "moment"
                else shift.day(old)
                if kind == "day"
                else shift.json(old)
            )
            if new != old:
                values[f"new_{c.name}"] = new
        if values:
            changes.append({**{f"key_{k.name}": row._mapping[k] for k in keys}, **values})
    # One statement per set of changed columns (the same columns in each row of one executemany).
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for change in changes:
        by_columns[tuple(sorted(n for n in change if n.startswith("new_")))].append(change)
    for names, params in by_columns.items():
        statement = (
            sa.update(table)
            .where(*(k == sa.bindparam(f"key_{k.name}") for k in keys))
            .values({n.removeprefix("new_"): sa.bindparam(n) for n in names})
        )
        await db.execute(statement, params)
    return len(changes)


async def move_into_past(database: Database, *, now: datetime | None = None) -> int:
    """Move the demo event so it ended ENDED_DAYS_AGO days before `now`, in one transaction; returns the days
    moved (0: nothing moved, it had been played out already)."""
    now = now or utcnow()
    async with database.transaction() as db:
        conference = (
            await db.execute(sa.select(Conference).order_by(col(Conference.id)).limit(1))
        ).scalar_one()
        played = (await db.execute(sa.select(col(Checkin.id)).limit(1))).first() is not None
        days = days_to_finish(conference, now, played=played)
        if days == 0:
            return 0
        shift = Shift(days, conference_zone(conference))
        present = set(await db.run_sync(lambda sync: sa.inspect(sync.connection()).get_table_names()))
        for table in _tables():
            if table.name in present:
                await shift_table(db, table, shift)
        await db.refresh(conference)
        if (
            conference.registration_closes_at is None
            or conference.registration_closes_at > conference.starts_at
        ):
            conference.registration_closes_at = conference.starts_at
            db.add(conference)
        return days


# --- 2. the scans ---------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    rows: list[dict[str, Any]] = field(default_factory=list)
    admitted: int = 0
    both_days: int = 0
    seats: int = 0


def _at(day: date, hours: float, zone: ZoneInfo) -> datetime:
    return (datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(hours=hours)).astimezone(UTC)


def _row(
    registration_id: uuid.UUID | None,
    list_name: str,
    result: str,
    at: datetime,
    device: str,
    rng: random.Random,
) -> dict[str, Any]:
    return {
        "id": uuid.UUID(int=rng.getrandbits(128), version=4),
        "registration_id": registration_id,
        "list": list_name,
        "result": result,
        "device": device,
        "staff": f"staff:{device}",
        "scanned_at": at,
        "received_at": at + timedelta(seconds=rng.randint(1, 4)),
        "offline": False,
        "conflict": False,
        "reason": "",
        "scan_id": None,
        "scan_digest": None,
    }


async def simulate_scans(database: Database, *, seed: int = 2026) -> dict[str, int]:
    """The doors and the workshop rooms, scanned (one transaction). Delegates with a door scan already, and seats
    scanned already, are left as they are."""
    async with database.transaction() as db:
        conference = (
            await db.execute(sa.select(Conference).order_by(col(Conference.id)).limit(1))
        ).scalar_one()
        assert conference.id is not None
        zone = conference_zone(conference)
        first = conference.starts_at.astimezone(zone).date()
        last = conference.ends_at.astimezone(zone).date()
        days = [first + timedelta(days=d) for d in range((last - first).days + 1)]
        people = (
            await db.execute(
                sa.select(col(Registration.id), col(Registration.number))
                .where(
                    col(Registration.conference_id) == conference.id,
                    col(Registration.status) == Status.confirmed,
                )
                .order_by(col(Registration.number))
            )
        ).all()
        scanned = {
            (r, lst)
            for r, lst in (
                await db.execute(sa.select(col(Checkin.registration_id), col(Checkin.list)).distinct())
            ).all()
        }
        sessions = (
            (
                await db.execute(
                    sa.select(ProgrammeSession).where(
                        col(ProgrammeSession.conference_id) == conference.id,
                        col(ProgrammeSession.cancelled).is_(False),
                    )
                )
            )
            .scalars()
            .all()
        )
        rooms = {r.id: r.name for r in (await db.execute(sa.select(Room))).scalars()}
        seats: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for registration_id, session_id in (
            await db.execute(
                sa.select(col(SeatBooking.registration_id), col(SeatBooking.session_id)).where(
                    col(SeatBooking.status) == SeatStatus.booked
                )
            )
        ).all():
            seats[registration_id].append(session_id)
        by_id = {s.id: s for s in sessions}
        workshops_by_day: dict[date, list[ProgrammeSession]] = defaultdict(list)
        for s in sorted(sessions, key=lambda s: (s.starts_at, s.title)):
            if s.kind != Kind.plenary:
                workshops_by_day[s.starts_at.astimezone(zone).date()].append(s)

        plan = _Plan()
        for registration_id, number in people:
            if (registration_id, DOOR) in scanned:
                continue
            rng = random.Random(f"finished-{seed}-{number}")
            came = _days_present(rng, days)
            if not came:
                continue
            plan.admitted += 1
            plan.both_days += len(came) == len(days) and len(days) > 1
            for k, day in enumerate(came):
                arrives = _at(day, rng.triangular(7.9, 9.6, 8.7), zone)
                result = "ok" if k == 0 else "already_checked_in"
                plan.rows.append(_row(registration_id, DOOR, result, arrives, rng.choice(DOORS), rng))
            booked = [by_id[s] for s in seats.get(registration_id, []) if s in by_id]
            for session in sorted(booked, key=lambda s: (s.starts_at, s.title)):
                session_id = session.id
                if (registration_id, str(session_id)) in scanned:
                    continue
                if session.starts_at.astimezone(zone).date() not in came or rng.random() > 0.88:
                    continue  # not there that day, or slipped in without a scan
                at = session.starts_at - timedelta(minutes=rng.uniform(1, 12))
                device = f"{rooms.get(session.room_id, 'Room') if session.room_id else 'Room'} scanner"
                plan.rows.append(_row(registration_id, str(session_id), "ok", at, device, rng))
                plan.seats += 1
            # Now and then a delegate tries a workshop without a seat: the room's scanner turns them away.
            if rng.random() < 0.04:
                day = rng.choice(came)
                options = [
                    s for s in workshops_by_day.get(day, []) if s.id not in seats.get(registration_id, [])
                ]
                if options:
                    s = rng.choice(options)
                    device = f"{rooms.get(s.room_id, 'Room') if s.room_id else 'Room'} scanner"
                    at = s.starts_at - timedelta(minutes=rng.uniform(0, 5))
                    plan.rows.append(_row(registration_id, str(s.id), "not_booked", at, device, rng))
        if plan.rows:
            await db.execute(sa.insert(Checkin.metadata.tables[Checkin.__tablename__]), plan.rows)
        return {
            "admitted": plan.admitted,
            "both_days": plan.both_days,
            "seat_scans": plan.seats,
            "scans": len(plan.rows),
        }


def _days_present(rng: random.Random, days: list[date]) -> list[date]:
    """Which of the event's days a delegate came: most all of them, some one, a few none."""
    draw = rng.random()
    if draw < 0.06 or not days:
        return []
    if len(days) == 1:
        return days
    if draw < 0.10:
        return [days[-1]]  # only the last day
    if draw < 0.24:
        return [days[0]]  # only the first day
    return list(days)


# --- 3. the talks' sectors ------------------------------------------------------------------------------------

# The demo's speakers' organisations (sessions/call/demo_proposals.py), by the words in their names.
SECTOR_WORDS: tuple[tuple[str, Sector], ...] = (
    ("NHS", Sector.health),
    ("Police", Sector.police),
    ("Council", Sector.local_authority),
    ("Academy", Sector.school),
    ("School", Sector.school),
    ("University", Sector.further_higher_education),
    ("College", Sector.further_higher_education),
    ("Youth Justice", Sector.youth_offending_team),
    ("Probation", Sector.probation),
    ("HMP", Sector.prison),
    ("Fire and Rescue", Sector.fire_rescue),
    ("Home Office", Sector.central_government),
    ("Community", Sector.community_faith),
)


def sector_of(organisation: str) -> Sector | None:
    return next((sector for words, sector in SECTOR_WORDS if words in organisation), None)


async def fill_sectors(database: Database) -> int:
    """The sector of each demo talk without one, from its first speaker's organisation (the call form asks for it
    now; the demo's proposals were written before it did). Returns how many talks got one."""
    async with database.transaction() as db:
        rows = (
            await db.execute(
                sa.select(Proposal, col(ProposalSpeaker.organisation))
                .join(ProposalSpeaker, col(ProposalSpeaker.proposal_id) == Proposal.id)
                .where(col(ProposalSpeaker.position) == 0, col(Proposal.sector).is_(None))
            )
        ).all()
        filled = 0
        for proposal, organisation in rows:
            sector = sector_of(organisation)
            if sector is not None:
                proposal.sector = sector
                db.add(proposal)
                filled += 1
        return filled


# --- 4. certificates ------------------------------------------------------------------------------------------


async def issue_certificates(database: Database, settings: Settings) -> CertificateRun:
    """A bulk run, as the organisers' "Issue certificates" button starts (an unchanged certificate is kept)."""
    async with database.transaction() as db:
        conference = await _conference(db)
        assert conference.id is not None
        run = await bulk.start_run(db, conference_id=conference.id, actor=DEMO)
    return await bulk.run_issue(database, settings, run_id=run.id, actor=DEMO)


# --- 5. feedback ----------------------------------------------------------------------------------------------

FEEDBACK_QUESTIONS = (  # text, kind, applies to
    ("How useful will this be in your own work?", "rating", "sessions"),
    ("What will you do differently after this session?", "text", "sessions"),
    ("How well was the event organised?", "rating", "event"),
    ("What should we change next year?", "text", "event"),
)
PRAISE = (
    "Really practical: I have already shared the referral form with my team.",
    "Clear, honest about what did not work, and full of ideas we can borrow.",
    "The case studies made it real. More time for questions next time, please.",
    "Excellent speakers; the evaluation data was exactly what I needed for our board.",
    "Good to hear from a partner agency's side of the table.",
)
CRITICISM = (
    "Interesting, but too much of it was specific to one area to transfer easily.",
    "The room was too small and hot; hard to concentrate.",
    "Ran over time, so there was no room for questions.",
    "More about the project's history than what others could take away.",
)
DOING = (
    "Set up a joint triage meeting with our local police team.",
    "Review our information-sharing agreement against their template.",
    "Ask our schools' safeguarding leads to try the same check-in approach.",
    "Share the evaluation framework with our commissioning team.",
)
NEXT_YEAR = (
    "Longer breaks between sessions: the corridors were packed.",
    "More workshops on evaluation on a small budget.",
    "Put the slides online before the sessions.",
    "Keep the same venue: easy to reach by train.",
)


def _rating(rng: random.Random, mean: float) -> int:
    return max(1, min(5, round(rng.gauss(mean, 0.8))))


async def give_feedback(database: Database, *, seed: int = 2026, now: datetime | None = None) -> int:
    """Some delegates who came rate a few of the sessions they attended and the event, from the evening of each
    session to the day after the event (one transaction). The organisers' demo questions are added once.
    Returns how many answers were given now (a delegate's answer already given is left as it is)."""
    now = now or utcnow()
    async with database.transaction() as db:
        conference = await _conference(db)
        assert conference.id is not None
        if now >= feedback_window.closes_at(conference.ends_at):
            return 0  # feedback has closed (a demo played out long ago): nothing can be given now
        if not await feedback_questions.all_questions(db, conference.id):
            for text, kind, applies_to in FEEDBACK_QUESTIONS:
                await feedback_questions.add_question(
                    db, conference_id=conference.id, text=text, kind=kind, applies_to=applies_to, actor=DEMO
                )
        asked = [q for q in await feedback_questions.all_questions(db, conference.id) if q.active]
        admitted = (
            await db.execute(
                sa.select(col(Registration.id), col(Registration.number))
                .where(
                    col(Registration.conference_id) == conference.id,
                    sa.exists().where(
                        col(Checkin.registration_id) == Registration.id,
                        col(Checkin.list) == DOOR,
                        col(Checkin.result) == "ok",
                    ),
                )
                .order_by(col(Registration.number))
            )
        ).all()
        given = 0
        for registration_id, number in admitted:
            rng = random.Random(f"feedback-{seed}-{number}")
            if rng.random() > 0.45:
                continue  # most delegates never answer
            targets = await feedback_answers.rateable_targets(db, conference, registration_id)
            sessions = [t for t in targets if t.key != EVENT]
            chosen = rng.sample(sessions, k=min(len(sessions), rng.randint(1, 3)))
            chosen += [t for t in targets if t.key == EVENT and rng.random() < 0.8]
            done = await feedback_answers.answers_of(db, registration_id)
            for target in chosen:
                if target.key in done:
                    continue
                values = _answer(rng, target, seed, asked)
                at = min(now - timedelta(minutes=5), target.ends_at + timedelta(hours=rng.uniform(0.2, 30)))
                await feedback_answers.submit_answer(
                    db,
                    conference=conference,
                    registration_id=registration_id,
                    target=target.key,
                    values=values,
                    now=at,
                )
                given += 1
        return given


def _answer(
    rng: random.Random, target: feedback_answers.Target, seed: int, asked: list[FeedbackQuestion]
) -> dict[str, str]:
    """A delegate's form: the rating (around the session's own standard), the questions and a comment now and then."""
    mean = random.Random(f"quality-{seed}-{target.title}").uniform(3.0, 4.7)
    is_event = target.key == EVENT
    rating = _rating(rng, mean)
    values = {"rating": str(rating)}
    wanted = {AppliesTo.both, AppliesTo.event if is_event else AppliesTo.sessions}
    for q in asked:
        if q.applies_to not in wanted:
            continue
        if q.kind == QuestionKind.rating:
            values[f"{feedback_answers.QUESTION_FIELD}{q.id}"] = str(_rating(rng, mean))
        elif rng.random() < 0.3:
            values[f"{feedback_answers.QUESTION_FIELD}{q.id}"] = rng.choice(NEXT_YEAR if is_event else DOING)
    if rng.random() < 0.35:
        values["comment"] = rng.choice(PRAISE if rating >= 4 else CRITICISM)
    return values


# --- 6. the library -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One thing a speaker shares: slides (a PDF made here) or a link; approved with `visibility`, or left
    pending (approved False), or rejected with `note`."""

    title: str
    visibility: Visibility
    url: str = ""
    approved: bool = True
    note: str = ""


# What the speakers of a few of the demo's talks share, talk by talk.
SHARED: tuple[tuple[Item, ...], ...] = (
    (
        Item("Slides", Visibility.public),
        Item(
            "Evaluation report (summary)", Visibility.public, url="https://www.example.org/evaluation-summary"
        ),
    ),
    (Item("Slides", Visibility.delegates),),
    (
        Item("Slides", Visibility.public),
        Item("Information-sharing agreement (template)", Visibility.public_sector),
    ),
    (
        Item(
            "Referral pathway and contacts",
            Visibility.delegates,
            url="https://www.example.org/referral-pathway",
        ),
    ),
    (Item("Slides with the local case data", Visibility.public_sector),),
    (Item("Slides (updated after the session)", Visibility.public, approved=False),),
    (
        Item(
            "Our team's shared drive",
            Visibility.public,
            url="https://drive.example.org/our-team",
            approved=False,
            note="This link needs a sign-in, so delegates can't open it: please upload the files instead.",
        ),
    ),
)


def slides_pdf(title: str, talk: str, speakers: list[tuple[str, str]], themes: list[str]) -> bytes:
    """A small real PDF of slides: a title slide and three of content (landscape, 16:9)."""
    pdf = FPDF(orientation="landscape", unit="mm", format=(190.5, 338.7))
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=UTC))
    family, _unicode = add_body_font(pdf)
    pdf.set_auto_page_break(False)
    pdf.set_margins(24, 20, 24)
    pdf.add_page()
    pdf.set_font(family, "B", 30)
    pdf.set_y(60)
    pdf.multi_cell(0, 14, talk, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 18)
    pdf.ln(6)
    for name, organisation in speakers:
        pdf.multi_cell(0, 9, f"{name}, {organisation}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(family, "", 14)
    pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    slides = (
        (
            "The problem we faced",
            [
                "Referrals arriving by four routes",
                "No shared picture of risk",
                "Families asked the same questions again and again",
            ],
        ),
        (
            "What we changed",
            [
                "One front door for every partner",
                "A weekly joint meeting",
                f"Themes: {', '.join(themes) or 'partnership working'}",
            ],
        ),
        (
            "What others can take away",
            [
                "Start small: one shared form",
                "Agree what 'urgent' means",
                "Measure before you change anything",
            ],
        ),
    )
    for heading, points in slides:
        pdf.add_page()
        pdf.set_font(family, "B", 26)
        pdf.set_y(30)
        pdf.multi_cell(0, 12, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(8)
        pdf.set_font(family, "", 20)
        for point in points:
            pdf.multi_cell(0, 11, f"- {point}", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    return bytes(pdf.output())


def _file_name(title: str) -> str:
    words = re.sub(r"[^A-Za-z0-9 ]+", " ", title).split()
    return "-".join(w.lower() for w in words[:8]) + ".pdf"


@dataclass
class Shared:
    approved: dict[str, int] = field(default_factory=dict)  # visibility -> items
    pending: int = 0
    rejected: int = 0

    @property
    def total(self) -> int:
        return sum(self.approved.values()) + self.pending + self.rejected


async def share_resources(database: Database, settings: Settings, *, seed: int = 2026) -> Shared:
    """The speakers of a few confirmed talks in the programme share slides and links (each an upload as from their
    proposal link, then the organisers' decision); once: nothing is added when the library has items already."""
    shared = Shared()
    async with database.read() as db:
        if (await db.execute(sa.select(col(LibraryResource.id)).limit(1))).first() is not None:
            return await _library_counts(db)
        confirmed = (
            (
                await db.execute(
                    sa.select(Proposal)
                    .where(col(Proposal.status) == ProposalStatus.confirmed)
                    .order_by(col(Proposal.title))
                )
            )
            .scalars()
            .all()
        )
        in_programme = set((await db.execute(sa.select(col(SessionTalk.proposal_id)))).scalars())
    # Talks given in the programme's workshops; any confirmed talks when the programme was not published.
    talks = [t for t in confirmed if t.id in in_programme] or list(confirmed)
    rng = random.Random(f"library-{seed}")
    for talk, items in zip(rng.sample(list(talks), k=min(len(talks), len(SHARED))), SHARED, strict=False):
        speaker = Actor("speaker", str(talk.id)[:8], scope_id=talk.id)
        for item in items:
            async with database.transaction() as db:
                proposal = await db.get(Proposal, talk.id)
                assert proposal is not None
                if item.url:
                    resource = await uploads.add_link(
                        db,
                        proposal=proposal,
                        title=item.title,
                        url=item.url,
                        visibility=item.visibility,
                        actor=speaker,
                    )
                else:
                    people = (
                        await db.execute(
                            sa.select(col(ProposalSpeaker.name), col(ProposalSpeaker.organisation))
                            .where(col(ProposalSpeaker.proposal_id) == talk.id)
                            .order_by(col(ProposalSpeaker.position))
                        )
                    ).all()
                    data = slides_pdf(item.title, talk.title, [(n, o) for n, o in people], list(talk.themes))
                    resource = await uploads.add_file(
                        db,
                        settings,
                        proposal=proposal,
                        title=item.title,
                        file_name=_file_name(talk.title),
                        data=data,
                        visibility=item.visibility,
                        actor=speaker,
                    )
                if item.note:
                    await approval.reject_resource(db, resource_id=resource.id, note=item.note, actor=DEMO)
                    shared.rejected += 1
                elif item.approved:
                    await approval.approve_resource(
                        db, resource_id=resource.id, visibility=item.visibility, actor=DEMO
                    )
                    shared.approved[item.visibility.value] = shared.approved.get(item.visibility.value, 0) + 1
                else:
                    shared.pending += 1
    return shared


async def _library_counts(db: AsyncSession) -> Shared:
    shared = Shared()
    rows = await db.execute(
        sa.select(col(LibraryResource.status), col(LibraryResource.visibility), sa.func.count()).group_by(
            col(LibraryResource.status), col(LibraryResource.visibility)
        )
    )
    for status, visibility, count in rows.all():
        if status == ResourceStatus.approved:
            shared.approved[Visibility(visibility).value] = int(count)
        elif status == ResourceStatus.pending:
            shared.pending += int(count)
        else:
            shared.rejected += int(count)
    return shared


# --- all of it ------------------------------------------------------------------------------------------------


async def _conference(db: AsyncSession) -> Conference:
    return (await db.execute(sa.select(Conference).order_by(col(Conference.id)).limit(1))).scalar_one()


async def schedule_emails(database: Database, settings: Settings) -> int:
    """The organisers sent "tell us how it went" and "your certificate" the morning after the event (without a
    mail server they are kept for the console's outbox); a second run leaves the times as they are."""
    async with database.transaction() as db:
        conference = await _conference(db)
        assert conference.id is not None
        existing = await db.get(AfterEventSettings, conference.id)
        if existing is not None and existing.certificate_email_at is not None:
            return 0
        zone = conference_zone(conference)
        morning = datetime.combine(
            conference.ends_at.astimezone(zone).date() + timedelta(days=1), time(9), zone
        )
        done = await followup.schedule_followups(
            db,
            settings,
            conference_id=conference.id,
            certificate_at=morning,
            feedback_at=morning,
            actor=Actor("cli", "demo"),
        )
        return sum(d.queued for d in done.values())


async def finish_demo(database: Database, settings: Settings, *, seed: int = 2026) -> str:
    """The demo event, moved into the past and played out; a summary for the command line."""
    moved = await move_into_past(database)
    await fill_sectors(database)
    scans = await simulate_scans(database, seed=seed)
    run = await issue_certificates(database, settings)
    answers = await give_feedback(database, seed=seed)
    shared = await share_resources(database, settings, seed=seed)
    emails = await schedule_emails(database, settings)
    async with database.read() as db:
        conference = await _conference(db)
        certificates = int(
            (
                await db.execute(
                    sa.select(sa.func.count())
                    .select_from(Certificate)
                    .where(col(Certificate.status) == CertificateStatus.issued)
                )
            ).scalar_one()
        )
        feedback = int(
            (await db.execute(sa.select(sa.func.count()).select_from(FeedbackAnswer))).scalar_one()
        )
    ended = day(conference.ends_at, conference_zone(conference))
    approved = ", ".join(
        f"{n} {VISIBILITY_LABELS[Visibility(v)].lower()}" for v, n in sorted(shared.approved.items())
    )
    return "\n".join(
        [
            f"demo: the event ended on {ended}"
            + (f" (moved {abs(moved)} days {'back' if moved < 0 else 'on'})" if moved else ""),
            f"demo: {scans['admitted']} delegates admitted at the door now ({scans['both_days']} on both days), "
            f"{scans['seat_scans']} workshop seats scanned",
            f"demo: {certificates} certificates of attendance ({run.issued} issued by this run)",
            f"demo: {feedback} feedback answers ({answers} given now)",
            f"demo: {emails} after-event emails written (your certificate, tell us how it went)",
            f"demo: the library has {shared.total} items shared by speakers: approved for {approved or 'nobody'}; "
            f"{shared.pending} waiting for approval, {shared.rejected} rejected",
        ]
    )
