"""The audit trail: who did what, written in the same transaction as the change itself. Append-only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from conference.core.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who is acting: kind is anonymous, attendee, staff, organiser, reviewer, speaker or system."""

    kind: str
    name: str = ""
    registration_id: uuid.UUID | None = None
    # A private-link token's subject: the reviewer (kind reviewer) or the proposal (kind speaker) it is for.
    scope_id: uuid.UUID | None = None

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}" if self.name else self.kind


SYSTEM = Actor("system")
ANONYMOUS = Actor("anonymous")


async def record(db: AsyncSession, action: str, *, actor: Actor, subject: str = "", **data: Any) -> None:
    db.add(entry(action, actor=actor, subject=subject, **data))


def entry(action: str, *, actor: Actor, subject: str = "", **data: Any) -> AuditEntry:
    # No personal data here: subjects are ids and references, data holds states and counts.
    return AuditEntry(actor=actor.label, action=action, subject=subject, data=data)
