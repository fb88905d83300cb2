"""Organisers' approval of the resources speakers share: approve (with the visibility chosen), reject with a note
the speaker reads, or change an item's visibility later. Each is audited; the caller owns the transaction.

Nothing a speaker uploads is in the library until an organiser approves it (sessions/library/uploads.py stores
every new upload as pending).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.models import utcnow
from sessions.models import LibraryResource, Proposal, ResourceStatus, Visibility

NOTE_MAX = 500


@dataclass(frozen=True)
class QueueRow:
    """One resource in the console's list, with the talk it belongs to."""

    resource: LibraryResource
    proposal_title: str
    proposal_status: str


async def _lock(db: AsyncSession, resource_id: uuid.UUID) -> LibraryResource:
    assert db.in_transaction()
    stmt = (
        sa.select(LibraryResource)
        .where(col(LibraryResource.id) == resource_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    resource = (await db.execute(stmt)).scalar_one_or_none()
    if resource is None:
        raise errors.NotFound("No library item has this id: the speaker may have removed it.")
    return resource


def _note(note: str) -> str:
    cleaned = note.strip()
    if len(cleaned) > NOTE_MAX:
        raise errors.InvalidInput(
            fields={"note": f"Keep the note to {NOTE_MAX} characters; it has {len(cleaned)}."}
        )
    if any(ord(c) < 32 and c not in "\n\t" for c in cleaned):
        raise errors.InvalidInput(fields={"note": "Remove the control characters from the note."})
    return cleaned


def _reviewed(resource: LibraryResource, actor: Actor, status: ResourceStatus, note: str) -> None:
    resource.status = status
    resource.review_note = note
    resource.reviewed_at = utcnow()
    resource.reviewed_by = actor.label[:120]


async def approve_resource(
    db: AsyncSession, *, resource_id: uuid.UUID, visibility: Visibility, actor: Actor, note: str = ""
) -> LibraryResource:
    """Publish the item in the library, seen by `visibility`'s viewers (approving again changes nothing)."""
    resource = await _lock(db, resource_id)
    cleaned = _note(note)
    previous = resource.status
    if previous == ResourceStatus.approved and resource.visibility == visibility:
        return resource
    _reviewed(resource, actor, ResourceStatus.approved, cleaned)
    resource.visibility = visibility
    await audit.record(
        db,
        "sessions.library.approved",
        actor=actor,
        subject=str(resource.id),
        previous=previous.value,
        visibility=visibility.value,
    )
    await db.flush()
    return resource


async def reject_resource(
    db: AsyncSession, *, resource_id: uuid.UUID, note: str, actor: Actor
) -> LibraryResource:
    """Keep the item out of the library; the note (required) tells the speaker why, on their resources page."""
    cleaned = _note(note)
    if not cleaned:
        raise errors.InvalidInput(fields={"note": "Say why, in a note the speaker will read."})
    resource = await _lock(db, resource_id)
    previous = resource.status
    _reviewed(resource, actor, ResourceStatus.rejected, cleaned)
    await audit.record(
        db, "sessions.library.rejected", actor=actor, subject=str(resource.id), previous=previous.value
    )
    await db.flush()
    return resource


async def set_visibility(
    db: AsyncSession, *, resource_id: uuid.UUID, visibility: Visibility, actor: Actor
) -> LibraryResource:
    """Who may see the item from now on (whatever its status: a pending item keeps it for its approval)."""
    resource = await _lock(db, resource_id)
    previous = resource.visibility
    if previous == visibility:
        return resource
    resource.visibility = visibility
    await audit.record(
        db,
        "sessions.library.visibility_changed",
        actor=actor,
        subject=str(resource.id),
        previous=previous.value,
        visibility=visibility.value,
    )
    await db.flush()
    return resource


async def get_resource(db: AsyncSession, resource_id: uuid.UUID) -> LibraryResource:
    resource = await db.get(LibraryResource, resource_id)
    if resource is None:
        raise errors.NotFound("No library item has this id: the speaker may have removed it.")
    return resource


async def pending_count(db: AsyncSession, conference_id: int) -> int:
    stmt = sa.select(sa.func.count()).where(
        col(LibraryResource.conference_id) == conference_id,
        col(LibraryResource.status) == ResourceStatus.pending,
    )
    return int((await db.execute(stmt)).scalar_one())


async def review_queue(
    db: AsyncSession, conference_id: int, *, status: ResourceStatus | None = None
) -> list[QueueRow]:
    """Every item (or those of one status): pending first, oldest first (the queue's order); then the rest,
    newest first."""
    stmt = (
        sa.select(LibraryResource, col(Proposal.title), col(Proposal.status))
        .join(Proposal, col(Proposal.id) == LibraryResource.proposal_id)
        .where(col(LibraryResource.conference_id) == conference_id)
    )
    if status is not None:
        stmt = stmt.where(col(LibraryResource.status) == status)
    rows = [QueueRow(r, title, s.value) for r, title, s in (await db.execute(stmt)).all()]
    pending = sorted(
        (q for q in rows if q.resource.status == ResourceStatus.pending), key=lambda q: q.resource.uploaded_at
    )
    rest = sorted(
        (q for q in rows if q.resource.status != ResourceStatus.pending),
        key=lambda q: q.resource.uploaded_at,
        reverse=True,
    )
    return pending + rest
