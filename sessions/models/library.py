"""The best-practice library: the slides, documents and links speakers share from their proposal link, and the
organisers' approval of each (sessions/library/)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from conference.core.models import utcnow
from sessions.models.common import enum_type, when


class ResourceKind(str, enum.Enum):
    file = "file"
    link = "link"


class Visibility(str, enum.Enum):
    public = "public"  # anyone, signed in or not
    delegates = "delegates"  # delegates holding a place, from their manage link
    public_sector = "public_sector"  # delegates holding a place whose organisation is in the public sector


VISIBILITY_LABELS: dict[Visibility, str] = {
    Visibility.public: "Everyone",
    Visibility.delegates: "Delegates only",
    Visibility.public_sector: "Public-sector delegates only (trusted partners)",
}


class ResourceStatus(str, enum.Enum):
    pending = "pending"  # waiting for an organiser
    approved = "approved"  # in the library
    rejected = "rejected"  # not published (the note says why)


class LibraryResource(SQLModel, table=True):
    __tablename__ = "library_resource"
    __table_args__ = (sa.Index("ix_library_resource_proposal", "proposal_id", "status"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id", index=True)
    proposal_id: uuid.UUID = Field(foreign_key="proposal.id")
    kind: ResourceKind = Field(sa_type=enum_type(ResourceKind, 8))
    title: str = Field(max_length=200)
    # A link: its http(s) address. A file: "".
    url: str = Field(default="", max_length=2000)
    # A file: the name it is offered under (cleaned: no path parts), the name it is stored under inside the
    # storage directory (random, never from the upload), its type as found from its content, size and digest.
    file_name: str = Field(default="", max_length=200)
    stored_name: str = Field(default="", max_length=80)
    content_type: str = Field(default="", max_length=120)
    size_bytes: int = 0
    sha256: str = Field(default="", max_length=64)
    # pdf | pptx | docx | odp | link
    format: str = Field(default="", max_length=8)
    visibility: Visibility = Field(default=Visibility.public, sa_type=enum_type(Visibility, 16))
    status: ResourceStatus = Field(default=ResourceStatus.pending, sa_type=enum_type(ResourceStatus, 16))
    uploaded_at: datetime = when(default_factory=utcnow)
    uploaded_by: str = Field(default="", max_length=120)
    reviewed_at: datetime | None = when(nullable=True, default=None)
    reviewed_by: str = Field(default="", max_length=120)
    review_note: str = Field(default="", max_length=500)
