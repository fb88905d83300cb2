"""After the event: the organisers' CPD rules and emails, the certificates of attendance and their bulk runs
(sessions/attendance/)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from conference.core.models import utcnow
from sessions.models.common import enum_type, when


class CertificateStatus(str, enum.Enum):
    issued = "issued"  # the delegate's current certificate: /verify/<code> confirms it
    superseded = "superseded"  # a correction issued a newer one; this code no longer verifies
    withdrawn = "withdrawn"  # an organiser withdrew it; this code no longer verifies


class AfterEventSettings(SQLModel, table=True):
    """How CPD hours are counted and when the after-event emails go (one row per conference, made on first use)."""

    __tablename__ = "after_event_settings"
    conference_id: int = Field(foreign_key="conference.id", primary_key=True)
    # CPD hours earned per hour attended, by session kind ("plenary", "workshop", "talk"); 0: the kind doesn't count.
    kind_rates: dict[str, float] = Field(default_factory=dict, sa_type=sa.JSON)
    # Plenaries count for every delegate admitted at the door that day, without a scan at the plenary itself.
    plenaries_on_door_scan: bool = True
    # At most this many CPD hours a day (None: no cap).
    daily_cap_hours: float | None = None
    # The certificate's total is rounded down to this many minutes (0: not rounded; 15, 30 or 60).
    rounding_minutes: int = 15
    # When the "your certificate" and "tell us how it went" emails go (None: not scheduled).
    certificate_email_at: datetime | None = when(nullable=True, default=None)
    feedback_email_at: datetime | None = when(nullable=True, default=None)
    updated_at: datetime = when(default_factory=utcnow)
    updated_by: str = Field(default="", max_length=120)


class Certificate(SQLModel, table=True):
    """One certificate of attendance as issued: what it says is kept as issued (a correction issues a new one)."""

    __table_args__ = (
        # At most one current certificate per delegate, however many issue runs race.
        sa.Index(
            "uq_certificate_current",
            "registration_id",
            unique=True,
            sqlite_where=sa.text("status = 'issued'"),
            postgresql_where=sa.text("status = 'issued'"),
        ),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id", index=True)
    registration_id: uuid.UUID | None = Field(default=None, foreign_key="registration.id", index=True)
    # The signed verification code printed on it and in its QR (/verify/<code>).
    code: str = Field(max_length=32, unique=True)
    status: CertificateStatus = Field(
        default=CertificateStatus.issued, sa_type=enum_type(CertificateStatus, 16)
    )
    # As printed: the delegate's name and organisation when issued (erased with their personal data).
    name: str = Field(max_length=120)
    organisation: str = Field(default="", max_length=200)
    cpd_minutes: int = Field(ge=0)
    # The verified attendance it lists: [{session_id, title, kind, starts_at, ends_at, minutes, via}], and the hours
    # per conference day ({"2026-12-08": minutes}) after the cap.
    sessions: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    days: dict[str, int] = Field(default_factory=dict, sa_type=sa.JSON)
    issued_at: datetime = when(default_factory=utcnow)
    issued_by: str = Field(default="", max_length=120)
    run_id: uuid.UUID | None = Field(default=None, index=True)
    withdrawn_at: datetime | None = when(nullable=True, default=None)
    withdrawn_by: str = Field(default="", max_length=120)
    withdrawn_reason: str = Field(default="", max_length=500)


class CertificateRun(SQLModel, table=True):
    """One bulk issue of certificates: its progress, read by the console's progress bar from any worker."""

    __tablename__ = "certificate_run"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id", index=True)
    started_at: datetime = when(default_factory=utcnow)
    started_by: str = Field(default="", max_length=120)
    total: int = 0  # delegates to consider
    done: int = 0  # considered so far
    issued: int = (
        0  # certificates issued or reissued (a delegate whose attendance did not change keeps theirs)
    )
    finished_at: datetime | None = when(nullable=True, default=None)
    # Moved on by every batch: a run whose worker stopped (a restart, a crash) stops moving, and is seen to.
    updated_at: datetime = when(default_factory=utcnow)
    error: str = Field(
        default="", max_length=500
    )  # why a run stopped early ("" while running or when it finished)
