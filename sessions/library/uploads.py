"""Speakers share their slides, documents and links from their proposal's private link.

Only an accepted or confirmed talk shares (before and after the event alike). Every new item waits for an
organiser (status pending): the speaker's own upload is never published straight away. A file is checked by
its content (sessions/library/files.py) before anything is written; it is then stored under a random name and
its row written in the caller's transaction; if that transaction rolls back, the file is deleted again, so
nothing is ever stored half-way. Audit codes: sessions.library.uploaded, .link_added, .removed.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors, text
from conference.core.audit import Actor
from conference.core.settings import Settings
from sessions.call.proposals import lock_proposal
from sessions.library import files, storage
from sessions.models import Proposal, ProposalStatus
from sessions.models.library import LibraryResource, ResourceKind, ResourceStatus, Visibility

SHAREABLE = (ProposalStatus.accepted, ProposalStatus.confirmed)
MAX_RESOURCES = 30  # per proposal: a talk's slides, handouts and links, not an archive
TITLE_MAX = 200
URL_MAX = 2000


class ResourcesClosed(errors.DomainError):
    code = "resources_closed"
    message = "Only an accepted or confirmed talk can share slides and resources."


class FileRefused(errors.InvalidInput):
    """An upload refused by its content or name: `reason` is files.UploadRefused's code (zip_bomb, macro...)."""

    def __init__(self, refused: files.UploadRefused) -> None:
        super().__init__(refused.message, fields={refused.field: refused.message})
        self.reason = refused.code


def _check_shareable(proposal: Proposal) -> None:
    if proposal.status not in SHAREABLE:
        raise ResourcesClosed(
            f"This proposal is {proposal.status.value}: only an accepted or confirmed talk can share slides "
            "and resources."
        )


def _title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        return ""
    if (problem := text.problem(title)) is not None:
        raise errors.InvalidInput(fields={"title": problem})
    if len(title) > TITLE_MAX:
        raise errors.InvalidInput(fields={"title": f"Keep the title to {TITLE_MAX} characters or fewer."})
    return title


def _visibility(value: Visibility | str) -> Visibility:
    try:
        return Visibility(value)
    except ValueError:
        raise errors.InvalidInput(fields={"visibility": "Choose who may see it."}) from None


async def _check_room(db: AsyncSession, proposal_id: uuid.UUID) -> None:
    stmt = sa.select(sa.func.count()).where(col(LibraryResource.proposal_id) == proposal_id)
    if (await db.execute(stmt)).scalar_one() >= MAX_RESOURCES:
        raise errors.InvalidInput(
            fields={
                "form": f"A talk can share at most {MAX_RESOURCES} items. Remove one you no longer need first."
            }
        )


async def add_file(
    db: AsyncSession,
    settings: Settings,
    *,
    proposal: Proposal,
    title: str,
    file_name: str,
    data: bytes,
    visibility: Visibility | str,
    actor: Actor,
) -> LibraryResource:
    """Store an uploaded file for `proposal`'s talk, pending approval; refused (nothing stored) when the talk is
    not accepted/confirmed, the file is empty or too large, its name holds path parts, or its content is not
    a PDF, DOCX, PPTX or ODP that its name agrees with."""
    # The file is checked and written before the proposal's lock is taken (on SQLite, the database's write
    # lock): reading a 20 MB archive and flushing it to disk must hold up nobody's registration or scan. Both
    # run on a worker thread, so the event loop keeps answering meanwhile. The talk's status is checked first
    # as loaded (a closed talk is told so, whatever the file), and again under the lock.
    _check_shareable(proposal)
    problems: dict[str, str] = {}
    try:
        clean_title = _title(title)
    except errors.InvalidInput as exc:
        problems.update(exc.fields or {})
        clean_title = ""
    try:
        chosen = _visibility(visibility)
    except errors.InvalidInput as exc:
        problems.update(exc.fields or {})
        chosen = Visibility.public
    if len(data) > settings.library_max_bytes:
        problems[files.FIELD] = (
            f"The file is {files.human_size(len(data))}: the most you can upload is "
            f"{files.human_size(settings.library_max_bytes)}. Make it smaller (for example, export the "
            "slides as PDF with compressed pictures) and try again."
        )
        sniffed = None
    else:
        try:
            clean_name = files.clean_file_name(file_name)
            sniffed = await asyncio.to_thread(files.sniff, data, clean_name)
        except files.UploadRefused as exc:
            if not problems:
                raise FileRefused(exc) from None
            problems[exc.field] = exc.message
            sniffed = None
    if problems or sniffed is None:
        raise errors.InvalidInput(fields=problems)
    stored = await asyncio.to_thread(storage.write_file, settings, data, sniffed.extension)
    storage.remove_on_rollback(db, settings, stored)  # every refusal below rolls back, and the file goes
    locked = await lock_proposal(db, proposal.id)
    _check_shareable(locked)
    await _check_room(db, locked.id)
    resource = LibraryResource(
        conference_id=locked.conference_id,
        proposal_id=locked.id,
        kind=ResourceKind.file,
        title=clean_title or clean_name.rsplit(".", 1)[0][:TITLE_MAX],
        file_name=clean_name,
        stored_name=stored,
        content_type=sniffed.content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        format=sniffed.format,
        visibility=chosen,
        status=ResourceStatus.pending,
        uploaded_by=actor.label[:120],
    )
    db.add(resource)
    await audit.record(
        db,
        "sessions.library.uploaded",
        actor=actor,
        subject=str(resource.id),
        proposal_id=str(locked.id),
        format=sniffed.format,
        size_bytes=len(data),
        visibility=chosen.value,
    )
    await db.flush()
    return resource


def check_url(url: str) -> str:
    """A link to share: an absolute http(s) address with a host, nothing else (no javascript:, data:, file:)."""
    url = url.strip()
    if not url:
        raise errors.InvalidInput(fields={"url": "Enter the address of the page, starting https://."})
    if (problem := text.problem(url)) is not None or any(ch.isspace() for ch in url):
        raise errors.InvalidInput(fields={"url": problem or "An address has no spaces in it."})
    if len(url) > URL_MAX:
        raise errors.InvalidInput(fields={"url": f"Keep the address to {URL_MAX} characters or fewer."})
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise errors.InvalidInput(fields={"url": "This is not a web address we can read."}) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise errors.InvalidInput(
            fields={"url": "Only web addresses starting https:// or http:// can be shared."}
        )
    if not parts.hostname:
        raise errors.InvalidInput(
            fields={"url": "The address has no site name in it (https://example.org/...)."}
        )
    if parts.username or parts.password:
        raise errors.InvalidInput(fields={"url": "Remove the user name or password from the address."})
    return url


async def add_link(
    db: AsyncSession,
    *,
    proposal: Proposal,
    title: str,
    url: str,
    visibility: Visibility | str,
    actor: Actor,
) -> LibraryResource:
    """Share a web link for `proposal`'s talk, pending approval (http and https only)."""
    locked = await lock_proposal(db, proposal.id)
    _check_shareable(locked)
    problems: dict[str, str] = {}
    clean_title = clean_url = ""
    chosen = Visibility.public
    try:
        clean_title = _title(title)
        if not clean_title:
            problems["title"] = "Give the link a title, such as the name of the page."
    except errors.InvalidInput as exc:
        problems.update(exc.fields or {})
    try:
        clean_url = check_url(url)
    except errors.InvalidInput as exc:
        problems.update(exc.fields or {})
    try:
        chosen = _visibility(visibility)
    except errors.InvalidInput as exc:
        problems.update(exc.fields or {})
    if problems:
        raise errors.InvalidInput(fields=problems)
    await _check_room(db, locked.id)
    resource = LibraryResource(
        conference_id=locked.conference_id,
        proposal_id=locked.id,
        kind=ResourceKind.link,
        title=clean_title,
        url=clean_url,
        format="link",
        visibility=chosen,
        status=ResourceStatus.pending,
        uploaded_by=actor.label[:120],
    )
    db.add(resource)
    await audit.record(
        db,
        "sessions.library.link_added",
        actor=actor,
        subject=str(resource.id),
        proposal_id=str(locked.id),
        visibility=chosen.value,
    )
    await db.flush()
    return resource


async def remove_resource(
    db: AsyncSession, settings: Settings, *, proposal: Proposal, resource_id: uuid.UUID, actor: Actor
) -> None:
    """The speaker takes an item back (whatever the talk's state, approved or not): the row goes now, its file
    once the transaction commits (a rolled-back removal keeps both)."""
    locked = await lock_proposal(db, proposal.id)
    resource = await db.get(LibraryResource, resource_id, with_for_update=True)
    if resource is None or resource.proposal_id != locked.id:
        raise errors.NotFound("This proposal has no such item: it may have been removed already.")
    stored = resource.stored_name
    await db.delete(resource)
    await audit.record(
        db,
        "sessions.library.removed",
        actor=actor,
        subject=str(resource_id),
        proposal_id=str(locked.id),
        kind=resource.kind.value,
        status=resource.status.value,
    )
    await db.flush()
    if stored:
        storage.remove_after_commit(db, settings, stored)


async def resources_of(db: AsyncSession, proposal_id: uuid.UUID) -> list[LibraryResource]:
    """A proposal's items, newest first."""
    stmt = (
        sa.select(LibraryResource)
        .where(col(LibraryResource.proposal_id) == proposal_id)
        .order_by(col(LibraryResource.uploaded_at).desc(), col(LibraryResource.id))
    )
    return list((await db.execute(stmt)).scalars())


async def own_resource(
    db: AsyncSession, *, proposal_id: uuid.UUID, resource_id: uuid.UUID
) -> LibraryResource:
    resource = await db.get(LibraryResource, resource_id)
    if resource is None or resource.proposal_id != proposal_id:
        raise errors.NotFound("This proposal has no such item: it may have been removed.")
    return resource
