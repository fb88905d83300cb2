"""Who is calling: bearer tokens for attendees (manage tokens), for staff and organisers (API tokens), and the
kinds other packages add by prefix (hooks.bearer_tokens: reviewers' and speakers' private links)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.requests import Request

from conference.core import console_sessions, errors, hooks
from conference.core.audit import ANONYMOUS, Actor
from conference.core.db import Database
from conference.core.models import ApiToken, Registration, utcnow
from conference.core.security import CSRF_COOKIE, ROLES, csrf_valid, hash_token, new_api_token


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


# Every authenticated request runs one of these: built once (building costs more than running them).
_API_TOKEN = sa.select(col(ApiToken.role), col(ApiToken.name)).where(
    col(ApiToken.token_hash) == sa.bindparam("digest"),
    col(ApiToken.revoked_at).is_(None),
)
_MANAGE_TOKEN = sa.select(col(Registration.id)).where(
    col(Registration.manage_token_hash) == sa.bindparam("digest")
)


async def authenticate(db: AsyncSession, request: Request) -> Actor:
    token = bearer(request)
    if token is None:
        if request.headers.get("authorization"):
            raise errors.Unauthorised()
        return await _console_session(db, request)
    digest = hash_token(token)
    if token.startswith("ct_"):
        api = (await db.execute(_API_TOKEN, {"digest": digest})).first()
        if api is not None:
            return Actor(api.role, api.name)
    elif token.startswith("m_"):
        registration_id = (await db.execute(_MANAGE_TOKEN, {"digest": digest})).scalar_one_or_none()
        if registration_id is not None:
            return Actor("attendee", str(registration_id)[:8], registration_id)
    elif (resolver := hooks.bearer_tokens.get(token[:2])) is not None:
        actor = await resolver(db, digest)
        if actor is not None:
            return actor
    raise errors.Unauthorised("This token is not valid; check it was copied whole.")


# Who a staff token or console session is, kept for a few seconds in this process (the busy path: a door scans
# several times a second with the same token, and looking it up each time was a fifth of a scan's CPU). Only
# answers for staff and organisers are kept, never a refusal (a new token works at once). A revoked token, an
# ended session or a disabled account stops working in this process at once (`forget_actors`, called where they
# end) and in every other worker process within ACTOR_CACHE_SECONDS: the bound on how stale an answer can be.
ACTOR_CACHE_SECONDS = 5.0
_ACTOR_CACHE_MAX = 1000
_actors: dict[str, tuple[float, Actor]] = {}
_looking_up: dict[str, asyncio.Future[Actor]] = {}


def forget_actors() -> None:
    """A token was revoked or a session ended: nobody is answered from this process's cache any more."""
    _actors.clear()
    _looking_up.clear()


async def authenticate_cached(database: Database, request: Request) -> Actor:
    """`authenticate`, answered from the cache for a staff token or a console session seen a moment ago
    (a read on a miss). A session's CSRF check runs every time."""
    token = bearer(request)
    if token is not None:
        key = "t" + hash_token(token) if token.startswith("ct_") else None
    elif "session" in request.scope and (sid := session_key(request.session)) is not None:
        safe = request.method in ("GET", "HEAD")
        key = "s" + hash_token(sid) if safe or _csrf_header_valid(request) else None
    else:
        key = None
    now = time.monotonic()
    if key is None:
        async with database.read() as db:
            return await authenticate(db, request)
    if (hit := _actors.get(key)) is not None and hit[0] > now:
        return hit[1]
    # Twenty scanners whose entry just expired ask the database once between them, not twenty times.
    if (pending := _looking_up.get(key)) is not None:
        return await asyncio.shield(pending)
    lookup = _looking_up[key] = asyncio.ensure_future(_look_up(database, request))
    try:
        actor = await asyncio.shield(lookup)
    finally:
        _looking_up.pop(key, None)
    if actor.kind in ("staff", "organiser"):
        if len(_actors) >= _ACTOR_CACHE_MAX:
            _actors.clear()
        _actors[key] = (now + ACTOR_CACHE_SECONDS, actor)
    return actor


async def _look_up(database: Database, request: Request) -> Actor:
    async with database.read() as db:
        return await authenticate(db, request)


CSRF_HEADER = "x-csrf-token"


async def _console_session(db: AsyncSession, request: Request) -> Actor:
    # A signed-in browser may read the API (e.g. download a room sheet). Cookies ride along on cross-site
    # requests, so an unsafe method also needs the page's CSRF token in a header (the scanner page posts scans
    # this way); a bearer token needs neither.
    if "session" not in request.scope:
        return ANONYMOUS
    if request.method not in ("GET", "HEAD") and not _csrf_header_valid(request):
        return ANONYMOUS
    return await session_actor(db, request.session) or ANONYMOUS


# What a console session cookie holds: the random key of a server-side session (conference/core/console_sessions.py),
# an account's or, for door devices and scripts that sign in with an API token, the token's. The database is asked
# on every request, so signing out, disabling an account, changing its password or revoking a token ends its
# sessions at once, whatever copies of the cookie exist.
SESSION_KEY = "sid"


def session_key(session: dict[str, Any]) -> str | None:
    key = session.get(SESSION_KEY)
    return key if isinstance(key, str) and key else None


async def signed_in(db: AsyncSession, session: dict[str, Any]) -> console_sessions.SignedIn | None:
    key = session_key(session)
    return await console_sessions.find(db, key) if key is not None else None


async def session_actor(db: AsyncSession, session: dict[str, Any]) -> Actor | None:
    found = await signed_in(db, session)
    return found.actor if found is not None else None


def require(actor: Actor, *roles: str) -> None:
    if actor.kind in roles:
        return
    if actor.kind == "anonymous":
        raise errors.Unauthorised()
    raise errors.Forbidden()


def require_registration_access(actor: Actor, registration_id: uuid.UUID, *roles: str) -> None:
    """The attendee whose registration it is, or one of `roles`."""
    if actor.kind == "attendee" and actor.registration_id == registration_id:
        return
    if actor.kind == "attendee":
        raise errors.Forbidden("This token gives access to a different registration.")
    require(actor, *roles)


async def create_api_token(db: AsyncSession, *, role: str, name: str, created_by: str = "") -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = new_api_token()
    db.add(
        ApiToken(
            name=name, role=role, token_hash=hash_token(token), created_at=utcnow(), created_by=created_by
        )
    )
    return token


def _csrf_header_valid(request: Request) -> bool:
    secret = str(request.app.state.settings.secret_key)
    return csrf_valid(secret, request.cookies.get(CSRF_COOKIE), request.headers.get(CSRF_HEADER))
