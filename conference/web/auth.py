"""Who is calling: bearer tokens for attendees (manage tokens), for staff and organisers (API tokens), and the
kinds other packages add by prefix (hooks.bearer_tokens: reviewers' and speakers' private links)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.requests import Request

from conference.core import console_sessions, errors, hooks
from conference.core.audit import ANONYMOUS, Actor
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
