"""The mail queue as organisers read it (conference/console/outbox.py): every message, newest first, found by
recipient, status and kind; one message composed as the sender would compose it now; and sending again one that
failed (or was kept, for want of a mail server).

No message's text is stored (conference.mail.outbox): it is composed from its kind and context when it is shown,
as when it is sent, so the links in it work (booking links, password resets, reviewers' invitations). Without
a mail server that is the only way those links reach anyone, which is why showing one message is audited.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import OutboxEmail, utcnow
from conference.core.settings import Settings
from conference.mail import mailtext, outbox

PER_PAGE = 50
MAX_RECIPIENT = 254  # the longest address the queue holds (OutboxEmail.to_address)
STATUS_LABELS = {
    "queued": "Waiting to be sent",
    "sending": "Being sent",
    "sent": "Sent",
    "failed": "Failed",
    "kept": "Kept (no mail server)",
}
RESENDABLE = frozenset({"failed", "kept"})
# Kinds whose name alone reads badly; any other kind is shown as its name in words ("payment_failed": "Payment failed").
_KIND_LABELS = {
    "registration": "Registration confirmation",
    "manage_link": "Booking link again",
    "verify_email": "Confirm email address",
    "account_invite": "Console account invitation",
    "password_reset": "Console password reset",
    "broadcast": "Message to delegates",
}
# http(s) links in a plain-text body; a sentence's closing punctuation after a link is not part of it.
_LINK = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}'\""


def kind_label(kind: str) -> str:
    return _KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def kinds() -> list[str]:
    """Every kind of email the queue can hold (each package registers its own), by its label."""
    return sorted(outbox.KINDS, key=kind_label)


@dataclass(frozen=True)
class OutboxPage:
    rows: list[OutboxEmail]
    total: int
    page: int
    pages: int
    first: int  # the number of the page's first row, counting from 1 (0 when there are none)


async def list_messages(
    db: AsyncSession, *, recipient: str = "", status: str = "", kind: str = "", page: int = 1
) -> OutboxPage:
    """One page of messages, newest first: `recipient` is part of the address (any case), `status` and `kind`
    exact; empty means any."""
    clauses: list[sa.ColumnElement[bool]] = []
    if recipient:
        clauses.append(
            sa.func.lower(col(OutboxEmail.to_address)).contains(recipient.strip().lower(), autoescape=True)
        )
    if status:
        clauses.append(col(OutboxEmail.status) == status)
    if kind:
        clauses.append(col(OutboxEmail.kind) == kind)
    total = int(
        (await db.execute(sa.select(sa.func.count()).select_from(OutboxEmail).where(*clauses))).scalar_one()
    )
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(max(page, 1), pages)
    rows = list(
        (
            await db.execute(
                sa.select(OutboxEmail)
                .where(*clauses)
                .order_by(col(OutboxEmail.created_at).desc(), col(OutboxEmail.id))
                .limit(PER_PAGE)
                .offset((page - 1) * PER_PAGE)
            )
        ).scalars()
    )
    return OutboxPage(rows, total, page, pages, (page - 1) * PER_PAGE + 1 if rows else 0)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int  # bytes


@dataclass(frozen=True)
class Composed:
    """A message as it would be sent now: its headers, plain-text body (as pieces: text, or a link), links,
    attachments. `problem` says why it can't be composed (then there is no subject or body)."""

    sender: str = ""
    subject: str = ""
    body: str = ""
    pieces: list[tuple[str, bool]] = field(default_factory=list)  # (text, is_link), in order
    links: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    problem: str = ""


def link_pieces(text: str) -> list[tuple[str, bool]]:
    """`text` cut into plain runs and http(s) links, so a page can show the links as links and the rest as text."""
    pieces: list[tuple[str, bool]] = []
    at = 0
    for match in _LINK.finditer(text):
        link = match.group(0).rstrip(_TRAILING)
        if not link.split("://", 1)[1]:
            continue
        if match.start() > at:
            pieces.append((text[at : match.start()], False))
        pieces.append((link, True))
        at = match.start() + len(link)
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces


async def compose(db: AsyncSession, settings: Settings, row: OutboxEmail) -> Composed:
    """The message `row` stands for, composed now (as conference.mail.sender would compose it)."""
    try:
        message = await mailtext.render(db, settings, row)
    except mailtext.Undeliverable as exc:
        return Composed(problem=f"It can't be sent: {exc}.")
    except Exception as exc:  # noqa: BLE001 - a composer's failure is shown on the page (its class only), not a 500
        return Composed(
            problem=f"It can't be composed now ({type(exc).__name__}): what it was about may have been "
            "deleted or erased."
        )
    part = message.get_body(preferencelist=("plain",))
    content = part.get_content() if part is not None else ""
    body = content if isinstance(content, str) else ""
    attachments = []
    for attached in message.iter_attachments():
        payload = attached.get_payload(decode=True)
        attachments.append(
            Attachment(
                attached.get_filename() or "(no name)",
                attached.get_content_type(),
                len(payload) if isinstance(payload, bytes) else 0,
            )
        )
    pieces = link_pieces(body)
    return Composed(
        sender=str(message["From"] or ""),
        subject=str(message["Subject"] or ""),
        body=body,
        pieces=pieces,
        links=list(dict.fromkeys(text for text, is_link in pieces if is_link)),
        attachments=attachments,
    )


async def get_message(db: AsyncSession, message_id: uuid.UUID) -> OutboxEmail:
    row = await db.get(OutboxEmail, message_id)
    if row is None:
        raise errors.NotFound("No email in the outbox has this id.")
    return row


async def show_message(
    database: Database, settings: Settings, *, message_id: uuid.UUID, actor: Actor
) -> tuple[OutboxEmail, Composed]:
    """One message and its text, audited: the text holds the recipient's private links (the entry says who looked
    at which message: no address, no link). Composed with only a read open (an invoice's PDF takes a while)."""
    async with database.read() as db:
        row = await get_message(db, message_id)
        composed = await compose(db, settings, row)
    async with database.transaction() as db:
        await audit.record(
            db, "conference.outbox.viewed", actor=actor, subject=str(row.id), kind=row.kind, status=row.status
        )
    return row, composed


class NoMailServer(errors.DomainError):
    code = "no_mail_server"
    message = (
        "No mail server is set up (CONFERENCE_SMTP_URL), so nothing can be sent: read the message on this page "
        "and pass it on yourself."
    )


async def resend(db: AsyncSession, settings: Settings, *, message_id: uuid.UUID, actor: Actor) -> OutboxEmail:
    """Queue again a message that failed (or was kept): the sender tries it afresh, with its attempts counted
    from nought. Anything else is refused, so a message on its way is never sent twice by this."""
    if not settings.smtp_url:
        raise NoMailServer()
    row = await db.get(OutboxEmail, message_id, with_for_update=True)
    if row is None:
        raise errors.NotFound("No email in the outbox has this id.")
    if row.status not in RESENDABLE:
        raise errors.DomainError(
            f"Only an email that failed or was kept can be sent again; this one is "
            f"{STATUS_LABELS.get(row.status, row.status).lower()}."
        )
    await audit.record(
        db,
        "conference.outbox.resent",
        actor=actor,
        subject=str(row.id),
        kind=row.kind,
        previous_status=row.status,
        previous_attempts=row.attempts,
    )
    row.status = "queued"
    row.attempts = 0
    row.next_attempt_at = utcnow()
    row.lease_until = None
    row.last_error = ""
    return row
