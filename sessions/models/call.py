"""The call for talks, review and delegates' stars: the tables and the API shapes."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel, EmailStr, field_validator
from pydantic import Field as PField
from sqlmodel import Field, SQLModel

from conference.core.models import Sector, utcnow
from conference.core.text import Line, Text
from sessions.models.common import STRICT, aware, enum_type, when


class ProposalFormat(str, enum.Enum):
    talk = "talk"
    panel = "panel"
    workshop = "workshop"  # a hands-on workshop


FORMAT_LABELS: dict[ProposalFormat, str] = {
    ProposalFormat.talk: "Talk",
    ProposalFormat.panel: "Panel",
    ProposalFormat.workshop: "Hands-on workshop",
}


class AudienceLevel(str, enum.Enum):
    introductory = "introductory"
    intermediate = "intermediate"
    advanced = "advanced"


class ProposalStatus(str, enum.Enum):
    submitted = "submitted"
    accepted = "accepted"  # waiting for the speakers to confirm
    confirmed = "confirmed"
    declined = "declined"  # accepted, but the speakers said no
    rejected = "rejected"
    withdrawn = "withdrawn"


# Talks delegates may star, and the scheduler places (a declined or withdrawn talk drops out).
STARRABLE = (ProposalStatus.accepted, ProposalStatus.confirmed)

CRITERIA = ("relevance", "impact", "transferability")
CRITERIA_LABELS = {
    "relevance": "Relevance to the themes",
    "impact": "Evidence of impact",
    "transferability": "Transferability to other areas",
}


class CallForTalks(SQLModel, table=True):
    """The organisers' settings for the call: when it is open, the themes and the formats on offer."""

    __tablename__ = "call_for_talks"
    conference_id: int = Field(foreign_key="conference.id", primary_key=True)
    opens_at: datetime | None = when(nullable=True, default=None)
    closes_at: datetime | None = when(nullable=True, default=None)
    themes: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # Format value → the durations (minutes) the event offers for it; a format left out is not on offer.
    formats: dict[str, list[int]] = Field(default_factory=dict, sa_type=sa.JSON)
    # Reviewers see neither the speakers' names nor their organisations.
    anonymous_review: bool = True
    updated_at: datetime = when(default_factory=utcnow)


class Proposal(SQLModel, table=True):
    __table_args__ = (sa.Index("ix_proposal_conference_status", "conference_id", "status"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id")
    title: str = Field(max_length=200)
    abstract: str = Field(max_length=3000)
    format: ProposalFormat = Field(sa_type=enum_type(ProposalFormat, 16))
    duration_minutes: int = Field(ge=1)
    themes: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    audience_level: AudienceLevel = Field(sa_type=enum_type(AudienceLevel, 16))
    access_needs: str = Field(default="", max_length=1000)
    # The sector of the speakers' organisation (optional; the library's filter).
    sector: Sector | None = Field(default=None, sa_type=enum_type(Sector, 40), nullable=True)
    status: ProposalStatus = Field(default=ProposalStatus.submitted, sa_type=enum_type(ProposalStatus, 16))
    # The submitter's private link (view, edit, withdraw; confirm once accepted), derived like a manage token.
    edit_token_hash: str = Field(max_length=64, unique=True)
    token_version: int = 1
    created_at: datetime = when(default_factory=utcnow)
    updated_at: datetime = when(default_factory=utcnow)
    decided_at: datetime | None = when(nullable=True, default=None)
    answered_at: datetime | None = when(nullable=True, default=None)  # confirmed or declined by the speakers


class ProposalSpeaker(SQLModel, table=True):
    """One of a proposal's one to three speakers (position 0 is the contact), with the times they can't do."""

    __tablename__ = "proposal_speaker"
    __table_args__ = (sa.UniqueConstraint("proposal_id", "position"),)
    id: int | None = Field(default=None, primary_key=True)
    proposal_id: uuid.UUID = Field(foreign_key="proposal.id")  # indexed by the unique constraint
    position: int = Field(ge=0)
    name: str = Field(max_length=120)
    email: str = Field(max_length=254)
    # Lower-cased: the scheduler's identity for "the same speaker in two talks".
    email_key: str = Field(max_length=254, index=True)
    organisation: str = Field(max_length=200)
    # Time slot ids (strings) the speaker cannot do, and whole conference days (ISO dates) they cannot do.
    unavailable_slots: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    unavailable_days: list[str] = Field(default_factory=list, sa_type=sa.JSON)


class Reviewer(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("conference_id", "email_key"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id")
    name: str = Field(max_length=120)
    email: str = Field(max_length=254)
    email_key: str = Field(max_length=254)
    token_hash: str = Field(max_length=64, unique=True)
    token_version: int = 1
    created_at: datetime = when(default_factory=utcnow)
    revoked_at: datetime | None = when(nullable=True, default=None)


class Review(SQLModel, table=True):
    """One reviewer's scores (1-5 on each criterion) and comment on one proposal; edited in place."""

    __table_args__ = (sa.UniqueConstraint("proposal_id", "reviewer_id"),)
    id: int | None = Field(default=None, primary_key=True)
    proposal_id: uuid.UUID = Field(foreign_key="proposal.id")  # indexed by the unique constraint
    reviewer_id: uuid.UUID = Field(foreign_key="reviewer.id", index=True)
    relevance: int = Field(ge=1, le=5)
    impact: int = Field(ge=1, le=5)
    transferability: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)
    created_at: datetime = when(default_factory=utcnow)
    updated_at: datetime = when(default_factory=utcnow)


class Star(SQLModel, table=True):
    """A delegate would like to attend this accepted talk: the scheduler's expected audience."""

    __table_args__ = (sa.UniqueConstraint("registration_id", "proposal_id"),)
    id: int | None = Field(default=None, primary_key=True)
    registration_id: uuid.UUID = Field(foreign_key="registration.id")  # indexed by the unique constraint
    proposal_id: uuid.UUID = Field(foreign_key="proposal.id", index=True)
    created_at: datetime = when(default_factory=utcnow)


# Properties to receive on a change of the call (organisers)
class CallUpdate(BaseModel):
    model_config = STRICT
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    themes: list[Line] | None = PField(default=None, min_length=1, max_length=30)
    formats: dict[ProposalFormat, list[int]] | None = None
    anonymous_review: bool | None = None

    _check_aware = field_validator("opens_at", "closes_at")(aware)

    @field_validator("themes")
    @classmethod
    def _themes(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [t.strip() for t in value]
        if any(not t or len(t) > 60 for t in cleaned):
            raise ValueError("Give each theme as 1 to 60 characters.")
        if len({t.lower() for t in cleaned}) != len(cleaned):
            raise ValueError("Each theme may appear only once.")
        return cleaned

    @field_validator("formats")
    @classmethod
    def _formats(
        cls, value: dict[ProposalFormat, list[int]] | None
    ) -> dict[ProposalFormat, list[int]] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("Offer at least one format.")
        for durations in value.values():
            if not durations or any(not 5 <= d <= 480 for d in durations):
                raise ValueError("Give each format one or more durations from 5 to 480 minutes.")
        return {k: sorted(set(v)) for k, v in value.items()}


# A speaker, as the submitter gives them
class SpeakerIn(BaseModel):
    model_config = STRICT
    name: Line = PField(min_length=1, max_length=120)
    email: EmailStr = PField(max_length=254)
    organisation: Line = PField(min_length=1, max_length=200)
    # Time slot ids (GET /api/v1/call) or conference days (YYYY-MM-DD) this speaker cannot do.
    unavailable: list[Line] = PField(default_factory=list, max_length=100)


def _speakers(value: list[SpeakerIn] | None) -> list[SpeakerIn] | None:
    if value is not None:
        if not 1 <= len(value) <= 3:
            raise ValueError("Give one to three speakers.")
        if len({str(s.email).lower() for s in value}) != len(value):
            raise ValueError("Give each speaker their own email address.")
    return value


def _themes(value: list[str] | None) -> list[str] | None:
    if value is not None and not value:
        raise ValueError("Choose at least one theme.")
    return value


# Properties to receive on submission (the form and the JSON API share it)
class ProposalCreate(BaseModel):
    model_config = STRICT
    title: Line = PField(min_length=1, max_length=200)  # one line: it is in emails' subjects
    abstract: Text = PField(min_length=1, max_length=3000)
    format: ProposalFormat
    duration_minutes: int = PField(ge=5, le=480)
    themes: list[Line] = PField(max_length=6)
    speakers: list[SpeakerIn]
    audience_level: AudienceLevel = AudienceLevel.intermediate
    access_needs: Text = PField(default="", max_length=1000)
    sector: Sector | None = None  # the speakers' organisation's sector (optional)

    _check_speakers = field_validator("speakers")(_speakers)
    _check_themes = field_validator("themes")(_themes)


# Properties to receive on an edit by the submitter (all optional; speakers are replaced as a whole)
class ProposalUpdate(BaseModel):
    model_config = STRICT
    title: Line | None = PField(default=None, min_length=1, max_length=200)
    abstract: Text | None = PField(default=None, min_length=1, max_length=3000)
    format: ProposalFormat | None = None
    duration_minutes: int | None = PField(default=None, ge=5, le=480)
    themes: list[Line] | None = PField(default=None, max_length=6)
    speakers: list[SpeakerIn] | None = None
    audience_level: AudienceLevel | None = None
    access_needs: Text | None = PField(default=None, max_length=1000)
    sector: Sector | None = None  # null clears it

    _check_speakers = field_validator("speakers")(_speakers)
    _check_themes = field_validator("themes")(_themes)


# Properties to receive on a reviewer's invitation
class ReviewerInvite(BaseModel):
    model_config = STRICT
    name: Line = PField(min_length=1, max_length=120)
    email: EmailStr = PField(max_length=254)


# A reviewer's scores (1-5) and comment
class ReviewIn(BaseModel):
    model_config = STRICT
    relevance: int = PField(ge=1, le=5)
    impact: int = PField(ge=1, le=5)
    transferability: int = PField(ge=1, le=5)
    comment: Text = PField(default="", max_length=2000)


class Decision(str, enum.Enum):
    accept = "accept"
    reject = "reject"


# An organiser's decision on one or many proposals
class DecisionBulk(BaseModel):
    model_config = STRICT
    decision: Decision
    proposal_ids: list[uuid.UUID] = PField(min_length=1, max_length=500)


# A delegate's stars: the accepted talks they would like to attend (replaces the previous set)
class StarsIn(BaseModel):
    model_config = STRICT
    proposal_ids: list[Line] = PField(max_length=200)
