"""The published library: every accepted or confirmed talk with its abstract, speakers and their organisations,
sector and themes, where and when it is in the published programme, and the approved resources this viewer may
see (with a count of those kept for other viewers). Searchable (`q` over title, abstract, speakers and
organisations) and filterable by theme and sector.

Speakers are named only once they confirmed the talk, as on the published programme and GET /api/v1/talks; the
search never matches a name it does not show.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core.models import SECTOR_LABELS, Conference, Sector
from sessions.call import proposals as proposal_store
from sessions.call.call import get_call
from sessions.library.visibility import Viewer, can_see
from sessions.models import (
    FORMAT_LABELS,
    STARRABLE,
    LibraryResource,
    ProgrammeSession,
    Proposal,
    ProposalStatus,
    ResourceStatus,
    Room,
    SessionTalk,
    Visibility,
)

Q_MAX = 100  # characters of a search: more is cut, not refused


@dataclass(frozen=True)
class Speaker:
    name: str
    organisation: str


@dataclass(frozen=True)
class Slot:
    """The published session a talk is part of."""

    session_id: uuid.UUID
    title: str
    starts_at: datetime
    ends_at: datetime
    room: str


@dataclass(frozen=True)
class Entry:
    proposal_id: uuid.UUID
    title: str
    abstract: str
    format_label: str
    themes: list[str]
    sector: Sector | None
    speakers: list[Speaker]  # empty until the speakers confirm
    confirmed: bool
    slot: Slot | None
    resources: list[LibraryResource]  # approved, visible to this viewer, oldest first
    hidden: dict[Visibility, int] = field(default_factory=dict)  # approved, kept for other viewers

    @property
    def sector_label(self) -> str:
        return SECTOR_LABELS[self.sector] if self.sector else ""

    @property
    def organisations(self) -> list[str]:
        return list(dict.fromkeys(s.organisation for s in self.speakers if s.organisation))


@dataclass(frozen=True)
class Options:
    """What the filters offer: the call's themes and those the talks carry; the sectors talks come from."""

    themes: list[str]
    sectors: list[tuple[str, str]]  # (value, label), in the registration form's order


def clean_query(q: str) -> str:
    return " ".join(q.split())[:Q_MAX]


def _matches(entry: Entry, words: Sequence[str]) -> bool:
    haystack = " ".join(
        [
            entry.title,
            entry.abstract,
            *(s.name for s in entry.speakers),
            *(s.organisation for s in entry.speakers),
        ]
    ).casefold()
    return all(w in haystack for w in words)


async def _slots(db: AsyncSession, proposal_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Slot]:
    """Each talk's earliest live (not cancelled) session in the programme."""
    if not proposal_ids:
        return {}
    rows = (
        await db.execute(
            sa.select(col(SessionTalk.proposal_id), ProgrammeSession, col(Room.name))
            .join(ProgrammeSession, col(ProgrammeSession.id) == SessionTalk.programme_session_id)
            .outerjoin(Room, col(Room.id) == ProgrammeSession.room_id)
            .where(
                col(SessionTalk.proposal_id).in_(proposal_ids),
                col(ProgrammeSession.cancelled).is_(False),
            )
            .order_by(col(ProgrammeSession.starts_at))
        )
    ).all()
    out: dict[uuid.UUID, Slot] = {}
    for proposal_id, s, room in rows:
        out.setdefault(
            proposal_id, Slot(s.id, s.title, s.starts_at, s.ends_at, room or "Room to be confirmed")
        )
    return out


async def _resources(
    db: AsyncSession, proposal_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[LibraryResource]]:
    out: dict[uuid.UUID, list[LibraryResource]] = {}
    if not proposal_ids:
        return out
    stmt = (
        sa.select(LibraryResource)
        .where(
            col(LibraryResource.proposal_id).in_(proposal_ids),
            col(LibraryResource.status) == ResourceStatus.approved,
        )
        .order_by(col(LibraryResource.uploaded_at), col(LibraryResource.title))
    )
    for r in (await db.execute(stmt)).scalars():
        out.setdefault(r.proposal_id, []).append(r)
    return out


async def library_entries(
    db: AsyncSession,
    conference: Conference,
    *,
    viewer: Viewer,
    q: str = "",
    theme: str = "",
    sector: str = "",
    shared_only: bool = False,
) -> list[Entry]:
    """The talks that match, by title; `theme` and `sector` compare whole values (a theme case-blind);
    `shared_only` keeps the talks with at least one item this viewer can open."""
    talks = list(
        (
            await db.execute(
                sa.select(Proposal)
                .where(
                    col(Proposal.conference_id) == conference.id,
                    col(Proposal.status).in_(STARRABLE),
                )
                .order_by(col(Proposal.title), col(Proposal.id))
            )
        ).scalars()
    )
    ids = [p.id for p in talks]
    speakers = await proposal_store.speakers_of(db, ids)
    slots = await _slots(db, ids)
    resources = await _resources(db, ids)
    words = clean_query(q).casefold().split()
    wanted_theme = theme.strip().casefold()
    out: list[Entry] = []
    for p in talks:
        if wanted_theme and wanted_theme not in {t.casefold() for t in p.themes}:
            continue
        if sector and (p.sector is None or p.sector.value != sector):
            continue
        confirmed = p.status == ProposalStatus.confirmed
        shown: list[LibraryResource] = []
        hidden: dict[Visibility, int] = {}
        for r in resources.get(p.id, []):
            if can_see(viewer, r.visibility):
                shown.append(r)
            else:
                hidden[r.visibility] = hidden.get(r.visibility, 0) + 1
        entry = Entry(
            proposal_id=p.id,
            title=p.title,
            abstract=p.abstract,
            format_label=FORMAT_LABELS[p.format],
            themes=list(p.themes),
            sector=p.sector,
            speakers=[Speaker(s.name, s.organisation) for s in speakers[p.id]] if confirmed else [],
            confirmed=confirmed,
            slot=slots.get(p.id),
            resources=shown,
            hidden=hidden,
        )
        if words and not _matches(entry, words):
            continue
        if shared_only and not shown:
            continue
        out.append(entry)
    return out


async def filter_options(db: AsyncSession, conference: Conference) -> Options:
    _conf, call = await get_call(db)
    themes: dict[str, str] = {}
    rows = (
        await db.execute(
            sa.select(col(Proposal.themes), col(Proposal.sector)).where(
                col(Proposal.conference_id) == conference.id, col(Proposal.status).in_(STARRABLE)
            )
        )
    ).all()
    for theme in [*call.themes, *(t for talk_themes, _s in rows for t in talk_themes)]:
        themes.setdefault(theme.strip().casefold(), theme.strip())
    used = {s for _t, s in rows if s is not None}
    return Options(
        themes=sorted(themes.values(), key=str.casefold),
        sectors=[(s.value, label) for s, label in SECTOR_LABELS.items() if s in used],
    )


async def visible_resource(
    db: AsyncSession, conference: Conference, *, resource_id: uuid.UUID, viewer: Viewer
) -> LibraryResource | None:
    """An approved resource of a talk in the library, if this viewer may see it; None otherwise (the caller
    answers 404 either way: a restricted item's existence is not told to those who may not see it)."""
    resource = await db.get(LibraryResource, resource_id)
    if (
        resource is None
        or resource.conference_id != conference.id
        or resource.status != ResourceStatus.approved
        or not can_see(viewer, resource.visibility)
    ):
        return None
    proposal = await db.get(Proposal, resource.proposal_id)
    if proposal is None or proposal.status not in STARRABLE:
        return None
    return resource
