"""Organisers' and staff's browser login, and the console's front door.

Until accounts with passwords arrive, people sign in with their API token (`conference token create`); the
browser then holds a signed session cookie (HttpOnly, SameSite=Lax, Secure behind HTTPS) naming the token by
its hash, so revoking the token ends the session too.
"""

from __future__ import annotations

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from conference import audit, errors
from conference.audit import Actor
from conference.models import ApiToken
from conference.pages import form_values, render
from conference.security import hash_token
from conference.web import database, rate_limit

SESSION_KEY = "token_hash"


async def console_actor(request: Request) -> Actor | None:
    digest = request.session.get(SESSION_KEY)
    if not digest:
        return None
    async with database(request).read() as db:
        token = (await db.execute(sa.select(ApiToken).where(
            ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None)))).scalar_one_or_none()  # type: ignore[union-attr]
    if token is None:
        request.session.clear()
        return None
    return Actor(token.role, token.name)


async def require_console(request: Request, *roles: str) -> Actor:
    actor = await console_actor(request)
    if actor is None:
        raise LoginRequired(request.url.path)
    if actor.kind not in roles:
        raise errors.Forbidden("Your role does not allow this page.")
    return actor


class LoginRequired(errors.Unauthorised):
    def __init__(self, path: str) -> None:
        super().__init__("Sign in to continue.")
        self.path = path


async def login_page(request: Request) -> Response:
    return render(request, "conference/login.html", {"errors": {}, "next": request.query_params.get("next", "/console")})


async def login(request: Request) -> Response:
    await rate_limit(request).check(request, "login")
    values = await form_values(request)
    target = values.get("next", "/console")
    if not target.startswith("/") or target.startswith("//"):
        target = "/console"
    raw = values.get("token", "").strip()
    async with database(request).transaction() as db:
        token = (await db.execute(sa.select(ApiToken).where(
            ApiToken.token_hash == hash_token(raw), ApiToken.revoked_at.is_(None)))).scalar_one_or_none() if raw else None  # type: ignore[union-attr]
        if token is None:
            await audit.record(db, "conference.login.failed", actor=Actor("anonymous"))
        else:
            await audit.record(db, "conference.login.succeeded", actor=Actor(token.role, token.name))
    if token is None:
        return render(request, "conference/login.html",
                      {"errors": {"token": "This token is not valid. Check you copied all of it."}, "next": target},
                      status_code=401)
    request.session.clear()
    request.session[SESSION_KEY] = token.token_hash
    if token.role != "organiser":
        # Door staff have one page: the scanner (organisers may open it too, at /scan).
        return RedirectResponse("/scan", 303)
    return RedirectResponse(target, 303)


async def logout(request: Request) -> Response:
    await form_values(request)
    request.session.clear()
    return RedirectResponse("/login", 303)


async def console_home(request: Request) -> Response:
    await require_console(request, "organiser")
    return RedirectResponse("/console/programme", 303)


routes = [
    Route("/login", login_page, methods=["GET"], name="login"),
    Route("/login", login, methods=["POST"], name="login-submit"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/console", console_home, methods=["GET"], name="console"),
]
