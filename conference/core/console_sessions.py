"""Console sessions kept on the server: a row per signed-in browser (`console_session`).

The browser's signed session cookie carries only a random key (`cs_…`); the row keeps its SHA-256, whom it
belongs to (an account, or an API token by the token's hash for door devices and scripts), when it started, when
it was last seen and when it expires. Every request that uses the cookie looks the row up, so ending the row ends
the session at once, wherever the cookie has been copied to: signing out ends this browser's; a password change
or reset, turning two-factor on and "sign out every other browser" end all of the account's sessions and give
the browser that asked a new one (renew_for_user), so copies of its old cookie stop working too; disabling an
account ends all of its sessions, and revoking a token all of the browsers signed in with it (the look-up also
refuses a disabled account or a revoked token, whatever the rows say).

A session lasts LIFETIME from signing in, however busy. Rows past their expiry are deleted whenever someone
signs in, so the table holds at most the sessions of the last LIFETIME.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core.audit import Actor
from conference.core.models import ApiToken, ConsoleSession, UserAccount, UTCDateTime, utcnow
from conference.core.security import hash_token

LIFETIME = timedelta(hours=12)
SEEN_EVERY = timedelta(minutes=5)  # last_seen_at is written at most this often per session


@dataclass(frozen=True)
class SignedIn:
    """A live session: who it is, and (for an account) which account; user_id is None for an API token."""

    id: uuid.UUID
    actor: Actor
    user_id: uuid.UUID | None
    last_seen_at: datetime


def new_key() -> str:
    return "cs_" + secrets.token_urlsafe(32)


# Every request with a session cookie runs this: built once. The account's or the token's columns are None when
# the session is not theirs, or when the account is disabled or the token revoked.
_FIND = (
    sa.select(
        col(ConsoleSession.id),
        col(ConsoleSession.user_id),
        col(ConsoleSession.last_seen_at),
        col(UserAccount.role),
        col(UserAccount.email),
        col(ApiToken.role),
        col(ApiToken.name),
    )
    .select_from(ConsoleSession)
    .outerjoin(
        UserAccount,
        sa.and_(col(UserAccount.id) == col(ConsoleSession.user_id), col(UserAccount.disabled_at).is_(None)),
    )
    .outerjoin(
        ApiToken,
        sa.and_(
            col(ApiToken.token_hash) == col(ConsoleSession.token_hash), col(ApiToken.revoked_at).is_(None)
        ),
    )
    .where(
        col(ConsoleSession.key_hash) == sa.bindparam("digest"),
        col(ConsoleSession.ended_at).is_(None),
        col(ConsoleSession.expires_at) > sa.bindparam("now", type_=UTCDateTime()),
    )
)


async def find(db: AsyncSession, key: str, *, now: datetime | None = None) -> SignedIn | None:
    """The live session whose cookie holds `key`, or None (no such key, ended, expired, account disabled, token
    revoked)."""
    if not key:
        return None
    row = (await db.execute(_FIND, {"digest": hash_token(key), "now": now or utcnow()})).first()
    if row is None:
        return None
    session_id, user_id, last_seen_at, user_role, email, token_role, token_name = row
    role: str | None = user_role if user_id is not None else token_role
    if role is None:
        return None
    actor = Actor(role, email) if user_id is not None else Actor(role, token_name)
    return SignedIn(session_id, actor, user_id, last_seen_at)


async def start(
    db: AsyncSession,
    *,
    user_id: uuid.UUID | None = None,
    token_hash: str | None = None,
    replacing: str | None = None,
    now: datetime | None = None,
) -> str:
    """A new session for an account or an API token: the key for the browser's cookie. The browser's previous
    session (`replacing`: the key its cookie held) ends, and expired rows are deleted."""
    if (user_id is None) == (token_hash is None):
        raise ValueError("a session belongs to an account or to an API token")
    now = now or utcnow()
    if replacing:
        await end(db, replacing, now=now)
    await purge(db, now=now)
    key = new_key()
    db.add(
        ConsoleSession(
            key_hash=hash_token(key),
            user_id=user_id,
            token_hash=token_hash,
            created_at=now,
            last_seen_at=now,
            expires_at=now + LIFETIME,
        )
    )
    return key


def _live() -> sa.ColumnElement[bool]:
    return col(ConsoleSession.ended_at).is_(None)


async def end(db: AsyncSession, key: str, *, now: datetime | None = None) -> bool:
    """End the session whose cookie holds `key` (signing out). Whether there was a live one."""
    result = await db.execute(
        sa.update(ConsoleSession)
        .where(col(ConsoleSession.key_hash) == hash_token(key), _live())
        .values(ended_at=now or utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


async def end_one(db: AsyncSession, session_id: uuid.UUID, *, now: datetime | None = None) -> None:
    await db.execute(
        sa.update(ConsoleSession)
        .where(col(ConsoleSession.id) == session_id, _live())
        .values(ended_at=now or utcnow())
    )


async def end_for_user(db: AsyncSession, user_id: uuid.UUID, *, now: datetime | None = None) -> int:
    """End every session of an account; how many there were."""
    result = await db.execute(
        sa.update(ConsoleSession)
        .where(col(ConsoleSession.user_id) == user_id, _live())
        .values(ended_at=now or utcnow())
    )
    return int(getattr(result, "rowcount", 0))


async def renew_for_user(db: AsyncSession, user_id: uuid.UUID, *, now: datetime | None = None) -> str:
    """End every session of an account, and start a new one for the browser that asked (its new key): it stays
    signed in, while every other browser, and every copy of its own old cookie, is signed out."""
    await end_for_user(db, user_id, now=now)
    return await start(db, user_id=user_id, now=now)


async def end_for_token(db: AsyncSession, token_hash: str, *, now: datetime | None = None) -> int:
    """End every browser session signed in with an API token (when it is revoked)."""
    result = await db.execute(
        sa.update(ConsoleSession)
        .where(col(ConsoleSession.token_hash) == token_hash, _live())
        .values(ended_at=now or utcnow())
    )
    return int(getattr(result, "rowcount", 0))


async def seen(db: AsyncSession, session_id: uuid.UUID, *, now: datetime | None = None) -> None:
    await db.execute(
        sa.update(ConsoleSession)
        .where(col(ConsoleSession.id) == session_id)
        .values(last_seen_at=now or utcnow())
    )


async def purge(db: AsyncSession, *, now: datetime | None = None) -> int:
    """Delete the rows past their expiry (ended or not): the cookies that named them are no use any more."""
    result = await db.execute(
        sa.delete(ConsoleSession).where(col(ConsoleSession.expires_at) <= (now or utcnow()))
    )
    return int(getattr(result, "rowcount", 0))


async def others(
    db: AsyncSession, user_id: uuid.UUID, *, keep: uuid.UUID, now: datetime | None = None
) -> int:
    """How many other live sessions an account has (for its account page)."""
    stmt = (
        sa.select(sa.func.count())
        .select_from(ConsoleSession)
        .where(
            col(ConsoleSession.user_id) == user_id,
            col(ConsoleSession.id) != keep,
            _live(),
            col(ConsoleSession.expires_at) > (now or utcnow()),
        )
    )
    return int((await db.execute(stmt)).scalar_one())
