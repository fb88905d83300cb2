"""Building and publishing the workshop programme (sessions/schedule/build.py): the versions and the talks each
published workshop session is made of."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from conference.core.models import utcnow
from sessions.models.common import enum_type, when


class ScheduleState(str, enum.Enum):
    building = "building"  # a build is solving now: a second build waits for it (409)
    draft = "draft"
    published = "published"
    superseded = "superseded"  # was published; a later version replaced it
    discarded = "discarded"  # a draft nobody published, or a build that never finished


class ScheduleVersion(SQLModel, table=True):
    """One build of the workshop programme: a draft with its figures, then (once published) a numbered version."""

    __tablename__ = "schedule_version"
    __table_args__ = (sa.Index("ix_schedule_version_conference_state", "conference_id", "state"),)
    id: int | None = Field(default=None, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id")
    number: int | None = None  # 1, 2, ... once published
    state: ScheduleState = Field(sa_type=enum_type(ScheduleState, 16))
    # The published version this draft was built on (None: none was published); publishing needs it current.
    base_version_id: int | None = None
    created_at: datetime = when(default_factory=utcnow)
    created_by: str = Field(default="", max_length=120)
    published_at: datetime | None = when(nullable=True, default=None)
    published_by: str = Field(default="", max_length=120)
    time_limit: float = 30.0
    figures: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    # The grouped sessions: [{key, title, talk_ids, themes, kind, slot_count, audience, stars, speakers}]
    workshops: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    # Workshop key → {"room_id", "slot_id"} (the start slot); empty when the build found no schedule.
    placement: dict[str, dict[str, str]] = Field(default_factory=dict, sa_type=sa.JSON)
    # What publishing changed (or, for a draft, nothing until then): [{kind, key, title, from, to}]
    changes: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)


class SessionTalk(SQLModel, table=True):
    """The accepted talks a published workshop session is made of, in running order."""

    __tablename__ = "session_talk"
    programme_session_id: uuid.UUID = Field(foreign_key="programme_session.id", primary_key=True)
    proposal_id: uuid.UUID = Field(foreign_key="proposal.id", primary_key=True, index=True)
    position: int = Field(default=0, ge=0)
