"""Certificates of attendance: issued from verified attendance (sessions/workshops/attended.py), kept as issued,
superseded by a correction, withdrawn by an organiser, and checked by anyone at /verify/<code>.

The verification code is 16 characters of an alphabet without look-alikes (no 0/O, 1/I/L), printed in four groups
of four: 8 random characters, then 8 of an HMAC (settings.secret_key) of those. A code altered by one character
fails the signature before any lookup, and nobody can make up a code that passes it.

A delegate has at most one current (`issued`) certificate: the registration's row is locked while one is issued,
and the partial unique index uq_certificate_current refuses a second one whatever happens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.formats import conference_zone
from conference.core.models import Conference, Registration, utcnow
from conference.core.settings import Settings
from conference.places import get_conference
from sessions.attendance.cpd import Rules, compute_cpd
from sessions.attendance.rules import after_event_settings, rules_of
from sessions.models import Certificate, CertificateStatus
from sessions.workshops.attended import attended_sessions

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # 31 characters, none easily taken for another
_BODY = 8
_SIGNATURE = 8
_LENGTH = _BODY + _SIGNATURE
NO_LONGER_VERIFIED = "attendance no longer verified"
ERASED = "personal data erased"
REPLACED = "replaced by a corrected certificate"


class CertificateNotCurrent(errors.DomainError):
    code = "certificate_not_current"
    message = "This certificate has already been withdrawn or replaced."


# --- codes -----------------------------------------------------------------------------------------------------


def _signature(settings: Settings, body: str) -> str:
    digest = hmac.new(
        str(settings.secret_key).encode(), f"certificate:{body}".encode(), hashlib.sha256
    ).digest()
    number = int.from_bytes(digest[:16], "big")
    chars = []
    for _ in range(_SIGNATURE):
        number, index = divmod(number, len(ALPHABET))
        chars.append(ALPHABET[index])
    return "".join(chars)


def _grouped(raw: str) -> str:
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def new_code(settings: Settings) -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(_BODY))
    return _grouped(body + _signature(settings, body))


def normalise_code(text: str) -> str | None:
    """The code as printed (groups of four), from what someone typed (any case, spaces or dashes); None when it
    is not the shape of a code at all."""
    raw = "".join(ch for ch in text.upper() if ch not in " -")
    if len(raw) != _LENGTH or any(ch not in ALPHABET for ch in raw):
        return None
    return _grouped(raw)


def signature_valid(settings: Settings, code: str) -> bool:
    raw = code.replace("-", "")
    return hmac.compare_digest(_signature(settings, raw[:_BODY]), raw[_BODY:])


def verify_url(settings: Settings, code: str) -> str:
    return f"{settings.base_url.rstrip('/')}/verify/{code}"


# --- issuing ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueContext:
    """What every certificate of a run shares: read once, not per delegate."""

    conference: Conference
    zone: ZoneInfo
    rules: Rules


async def issue_context(db: AsyncSession) -> IssueContext:
    conference = await get_conference(db)
    assert conference.id is not None
    rules = rules_of(await after_event_settings(db, conference.id))
    return IssueContext(conference, conference_zone(conference), rules)


def _content(c: Certificate) -> tuple[Any, ...]:
    return (c.name, c.organisation, c.cpd_minutes, c.sessions, c.days)


async def _current_by_registration(
    db: AsyncSession, registration_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Certificate]:
    rows = (
        await db.execute(
            sa.select(Certificate).where(
                col(Certificate.registration_id).in_(registration_ids),
                col(Certificate.status) == CertificateStatus.issued,
            )
        )
    ).scalars()
    return {c.registration_id: c for c in rows if c.registration_id is not None}


def _withdraw(c: Certificate, *, reason: str, actor: Actor, now: datetime) -> None:
    c.status = CertificateStatus.withdrawn
    c.withdrawn_at = now
    c.withdrawn_by = actor.label
    c.withdrawn_reason = reason[:500]


async def issue_many(
    db: AsyncSession,
    settings: Settings,
    *,
    context: IssueContext,
    registration_ids: Sequence[uuid.UUID],
    actor: Actor,
    run_id: uuid.UUID | None = None,
) -> tuple[dict[uuid.UUID, Certificate | None], int]:
    """Issue, keep, reissue or withdraw the certificates of these delegates, in one transaction (the caller's):
    each delegate's current certificate afterwards (None: not eligible), and how many were issued or reissued."""
    assert db.in_transaction(), "issue_many needs a transaction"
    conference_id = context.conference.id
    assert conference_id is not None
    ids = sorted(set(registration_ids))
    if not ids:
        return {}, 0
    # The delegates' rows, locked in one order (two runs never deadlock): one issue at a time per delegate.
    registrations = (
        (
            await db.execute(
                sa.select(Registration)
                .where(col(Registration.id).in_(ids), col(Registration.conference_id) == conference_id)
                .order_by(col(Registration.id))
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
        .scalars()
        .all()
    )
    attended = await attended_sessions(
        db,
        conference_id=conference_id,
        registration_ids=[r.id for r in registrations],
        plenaries_on_door_scan=context.rules.plenaries_on_door_scan,
        zone=context.zone,
    )
    current = await _current_by_registration(db, ids)
    now = utcnow()
    results: dict[uuid.UUID, Certificate | None] = {}
    fresh: list[tuple[Certificate, Registration, Certificate | None]] = []
    changed = False
    for r in registrations:
        seen = attended.get(r.id) or []
        cur = current.get(r.id)
        if r.erased_at is not None or not seen:
            results[r.id] = None
            if cur is not None:
                _withdraw(cur, reason=NO_LONGER_VERIFIED, actor=actor, now=now)
                changed = True
                await audit.record(
                    db,
                    "sessions.certificate.withdrawn",
                    actor=actor,
                    subject=r.reference,
                    certificate=str(cur.id),
                    reason=NO_LONGER_VERIFIED,
                )
            continue
        cpd = compute_cpd(seen, context.rules, context.zone)
        made = Certificate(
            conference_id=conference_id,
            registration_id=r.id,
            code=new_code(settings),
            name=r.name,
            organisation=r.organisation,
            cpd_minutes=cpd.total_minutes,
            sessions=cpd.sessions,
            days=cpd.days,
            issued_at=now,
            issued_by=actor.label,
            run_id=run_id,
        )
        if cur is not None and _content(cur) == _content(made):
            results[r.id] = cur
            continue
        if cur is not None:
            cur.status = CertificateStatus.superseded
            cur.withdrawn_at = now  # when it stopped verifying
            cur.withdrawn_by = actor.label
            cur.withdrawn_reason = REPLACED
            changed = True
        fresh.append((made, r, cur))
        results[r.id] = made
    if changed:
        await db.flush()  # the old ones stop being current before the new ones are (the partial unique index)
    for made, r, cur in fresh:
        db.add(made)
        await audit.record(
            db,
            "sessions.certificate.issued",
            actor=actor,
            subject=r.reference,
            certificate=str(made.id),
            cpd_minutes=made.cpd_minutes,
            sessions=len(made.sessions),
            replaces=str(cur.id) if cur is not None else None,
            run=str(run_id) if run_id else None,
        )
    await db.flush()
    return results, len(fresh)


async def issue_certificate(
    db: AsyncSession,
    settings: Settings,
    *,
    registration_id: uuid.UUID,
    actor: Actor,
    run_id: uuid.UUID | None = None,
) -> Certificate | None:
    """The delegate's current certificate after issuing: kept when nothing changed, a new one (the old superseded)
    when it did, None when they were not admitted at the door or nothing they attended is verified (a current
    certificate is then withdrawn)."""
    context = await issue_context(db)
    results, _issued = await issue_many(
        db, settings, context=context, registration_ids=[registration_id], actor=actor, run_id=run_id
    )
    return results.get(registration_id)


async def withdraw_certificate(
    db: AsyncSession, *, certificate_id: uuid.UUID, reason: str, actor: Actor
) -> Certificate:
    assert db.in_transaction(), "withdraw_certificate needs a transaction"
    reason = " ".join(reason.split())
    if not reason:
        raise errors.InvalidInput(fields={"reason": "Enter why the certificate is withdrawn."})
    if len(reason) > 500:
        raise errors.InvalidInput(fields={"reason": "Enter a reason of 500 characters or fewer."})
    found = (
        await db.execute(
            sa.select(Certificate)
            .where(col(Certificate.id) == certificate_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if found is None:
        raise errors.NotFound("No certificate has this id.")
    if found.status != CertificateStatus.issued:
        raise CertificateNotCurrent()
    _withdraw(found, reason=reason, actor=actor, now=utcnow())
    reference = ""
    if found.registration_id is not None:
        r = await db.get(Registration, found.registration_id)
        reference = r.reference if r is not None else ""
    await audit.record(
        db,
        "sessions.certificate.withdrawn",
        actor=actor,
        subject=reference,
        certificate=str(found.id),
    )
    await db.flush()
    return found


async def current_certificate(db: AsyncSession, registration_id: uuid.UUID) -> Certificate | None:
    return (
        await db.execute(
            sa.select(Certificate).where(
                col(Certificate.registration_id) == registration_id,
                col(Certificate.status) == CertificateStatus.issued,
            )
        )
    ).scalar_one_or_none()


async def certificates_of(db: AsyncSession, registration_id: uuid.UUID) -> list[Certificate]:
    """Every certificate ever issued to the delegate, newest first."""
    return list(
        (
            await db.execute(
                sa.select(Certificate)
                .where(col(Certificate.registration_id) == registration_id)
                .order_by(col(Certificate.issued_at).desc())
            )
        ).scalars()
    )


# --- verification ----------------------------------------------------------------------------------------------

GENUINE = "genuine"
WITHDRAWN = "withdrawn"
SUPERSEDED = "superseded"
UNKNOWN = "unknown"
ALTERED = "altered"


@dataclass(frozen=True)
class Verification:
    """What /verify/<code> says. `state`: genuine, withdrawn, superseded, unknown (not a code of ours, or no such
    certificate), altered (the shape of a code, but its signature fails: mistyped or changed)."""

    state: str
    code: str
    certificate: Certificate | None = None
    conference: Conference | None = None

    @property
    def valid(self) -> bool:
        return self.state == GENUINE


async def verify(db: AsyncSession, settings: Settings, code: str) -> Verification:
    normal = normalise_code(code)
    if normal is None:
        return Verification(UNKNOWN, code[:40])
    if not signature_valid(settings, normal):
        return Verification(ALTERED, normal)
    found = (
        await db.execute(sa.select(Certificate).where(col(Certificate.code) == normal))
    ).scalar_one_or_none()
    if found is None:
        return Verification(UNKNOWN, normal)
    conference = await db.get(Conference, found.conference_id)
    state = {
        CertificateStatus.issued: GENUINE,
        CertificateStatus.withdrawn: WITHDRAWN,
        CertificateStatus.superseded: SUPERSEDED,
    }[found.status]
    return Verification(state, normal, found, conference)


# --- personal data (hooks installed by sessions/wiring.py) -----------------------------------------------------


async def export_certificates(db: AsyncSession, registration: Registration) -> dict[str, Any]:
    return {
        "certificates": [
            {
                "code": c.code,
                "status": c.status.value,
                "name": c.name,
                "organisation": c.organisation,
                "cpd_minutes": c.cpd_minutes,
                "sessions": c.sessions,
                "days": c.days,
                "issued_at": c.issued_at.isoformat(),
                "withdrawn_at": c.withdrawn_at.isoformat() if c.withdrawn_at else None,
                "withdrawn_reason": c.withdrawn_reason,
            }
            for c in await certificates_of(db, registration.id)
        ]
    }


async def erase_certificates(db: AsyncSession, settings: Settings, registration: Registration) -> None:
    """Erasure: the name and organisation go from every certificate, and the current one stops verifying."""
    now = utcnow()
    actor = Actor("system")
    for c in await certificates_of(db, registration.id):
        c.name = ""
        c.organisation = ""
        if c.status == CertificateStatus.issued:
            _withdraw(c, reason=ERASED, actor=actor, now=now)
            await audit.record(
                db,
                "sessions.certificate.withdrawn",
                actor=actor,
                subject=registration.reference,
                certificate=str(c.id),
                reason=ERASED,
            )
    await db.flush()
