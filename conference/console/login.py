"""Organisers' and staff's browser sign-in, and the console's front door.

People sign in with their account's email and password (conference/accounts.py), then a TOTP code if they set one
up. Door devices and scripts may still sign in with an API token (`conference token create`). Either way the
browser holds a signed session cookie (HttpOnly, SameSite=Lax, Secure behind HTTPS) that carries only the random
key of a server-side session (conference/core/console_sessions.py), checked against the database on every request:
signing out ends that session on the server, so a copy of the cookie stops working too.
"""

from __future__ import annotations

import time
import uuid

import sqlalchemy as sa
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from conference import accounts
from conference.core import audit, console_sessions, errors
from conference.core.audit import Actor
from conference.core.console_sessions import SignedIn
from conference.core.models import ApiToken, Conference, UserAccount, utcnow
from conference.core.security import hash_token
from conference.web.auth import SESSION_KEY, forget_actors, session_key, signed_in
from conference.web.request import database, rate_limit, settings
from conference.web.templating import form_values, render

PENDING_USER, PENDING_AT, PENDING_NEXT = "totp_user", "totp_at", "totp_next"
TOTP_WINDOW = 300  # seconds between a right password and its TOTP code


async def current_session(request: Request) -> SignedIn | None:
    """This browser's live session, or None; a cookie naming an ended one loses it (a pending TOTP step stays).
    Notes when the session was last seen, at most every few minutes."""
    if session_key(request.session) is None:
        return None
    async with database(request).read() as db:
        found = await signed_in(db, request.session)
        if found is not None:
            # Every page for the signed-in names the event in its header (base.html), loaded here in the read
            # every such page makes anyway, so no page has to remember to pass the conference for it.
            request.state.event_name = (
                await db.execute(sa.select(col(Conference.name)).order_by(col(Conference.id)).limit(1))
            ).scalar_one_or_none()
    if found is None:
        request.session.pop(SESSION_KEY, None)  # signed out, here or elsewhere; disabled; revoked; expired
        return None
    if utcnow() - found.last_seen_at >= console_sessions.SEEN_EVERY:
        async with database(request).transaction() as db:
            await console_sessions.seen(db, found.id)
    return found


async def console_actor(request: Request) -> Actor | None:
    found = await current_session(request)
    return found.actor if found is not None else None


async def require_session(request: Request, *roles: str, back: str | None = None) -> SignedIn:
    """The signed-in browser's session, if its role is one of `roles` (403 if not). A browser that is not signed
    in goes to /login and then to `back`, by default this page with its query: a form names the page it is on,
    since its POST path would answer 405 after signing in."""
    found = await current_session(request)
    if found is None:
        query = request.url.query
        raise LoginRequired(back or request.url.path + (f"?{query}" if query else ""))
    if found.actor.kind not in roles:
        raise errors.Forbidden("Your role does not allow this page.")
    return found


async def require_console(request: Request, *roles: str, back: str | None = None) -> Actor:
    """The signed-in person (require_session)."""
    return (await require_session(request, *roles, back=back)).actor


class LoginRequired(errors.Unauthorised):
    def __init__(self, path: str) -> None:
        super().__init__("Sign in to continue.")
        self.path = path


def _safe_next(value: str | None, default: str = "/console") -> str:
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def _landing(role: str, target: str) -> str:
    # Door staff have the scanner and their own account page (organisers may open the scanner too, at /scan).
    if role != "organiser" and not target.startswith(("/scan", "/console/account")):
        return "/scan"
    return target


def _open(request: Request, key: str) -> None:
    request.session.clear()  # a fresh cookie at every sign-in: nothing carried over from before (fixation)
    request.session[SESSION_KEY] = key


def _login_page(
    request: Request,
    *,
    target: str,
    errors_: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
    mode: str = "password",
) -> Response:
    return render(
        request,
        "conference/login.html",
        {
            "errors": errors_ or {},
            "next": target,
            "values": values or {},
            "mode": mode,
        },
        status_code=status_code,
    )


async def login_page(request: Request) -> Response:
    target = _safe_next(request.query_params.get("next"))
    mode = "token" if request.query_params.get("with") == "token" else "password"
    return _login_page(request, target=target, mode=mode)


async def login(request: Request) -> Response:
    await rate_limit(request).check(request, "login")
    values = await form_values(request)
    target = _safe_next(values.get("next"))
    if "token" in values:
        return await _token_login(request, values, target)
    email, password = values.get("email", "").strip(), values.get("password", "")
    problems = {}
    if not email:
        problems["email"] = "Enter your email address."
    if not password:
        problems["password"] = "Enter your password."
    if problems:
        return _login_page(
            request, target=target, errors_=problems, values={"email": email[:254]}, status_code=422
        )
    result = await accounts.check_password(
        database(request),
        email=email[:254],
        password=password[: accounts.MAX_PASSWORD],
        replacing=session_key(request.session),
    )
    if result is None:
        return _login_page(
            request,
            target=target,
            errors_={"email": accounts.BAD_LOGIN},
            values={"email": email[:254]},
            status_code=401,
        )
    user = result.user
    if result.needs_totp:
        request.session.clear()
        request.session.update(
            {PENDING_USER: str(user.id), PENDING_AT: int(time.time()), PENDING_NEXT: target}
        )
        return RedirectResponse(request.url_for("login-code"), 303)
    assert result.session_key is not None
    _open(request, result.session_key)
    return RedirectResponse(_landing(user.role, target), 303)


async def _token_login(request: Request, values: dict[str, str], target: str) -> Response:
    raw = values.get("token", "").strip()
    async with database(request).transaction() as db:
        token = (
            (
                await db.execute(
                    sa.select(ApiToken).where(
                        col(ApiToken.token_hash) == hash_token(raw), col(ApiToken.revoked_at).is_(None)
                    )
                )
            ).scalar_one_or_none()
            if raw
            else None
        )
        key = None
        if token is None:
            await audit.record(db, "conference.login.failed", actor=Actor("anonymous"), reason="token")
        else:
            await audit.record(
                db, "conference.login.succeeded", actor=Actor(token.role, token.name), token=True
            )
            key = await console_sessions.start(
                db, token_hash=token.token_hash, replacing=session_key(request.session)
            )
    if token is None:
        return _login_page(
            request,
            target=target,
            mode="token",
            status_code=401,
            errors_={"token": "This token is not valid. Check you copied all of it."},
        )
    assert key is not None
    _open(request, key)
    return RedirectResponse(_landing(token.role, target), 303)


def _pending(request: Request) -> uuid.UUID | None:
    started = request.session.get(PENDING_AT)
    if not isinstance(started, int) or time.time() - started > TOTP_WINDOW:
        return None
    try:
        return uuid.UUID(str(request.session.get(PENDING_USER)))
    except ValueError:
        return None


async def code_page(request: Request) -> Response:
    if _pending(request) is None:
        return RedirectResponse(request.url_for("login"), 303)
    return render(request, "conference/login_code.html", {"errors": {}, "values": {}})


async def code_submit(request: Request) -> Response:
    await rate_limit(request).check(request, "login")
    values = await form_values(request)
    user_id = _pending(request)
    if user_id is None:
        for name in (PENDING_USER, PENDING_AT, PENDING_NEXT):
            request.session.pop(name, None)
        return _login_page(
            request,
            target="/console",
            status_code=401,
            errors_={"email": "Signing in took too long. Enter your email and password again."},
        )
    target = _safe_next(request.session.get(PENDING_NEXT))
    key = None
    async with database(request).transaction() as db:
        user = await accounts.check_totp(
            db, settings(request), user_id=user_id, code=values.get("code", "")[:20]
        )
        if isinstance(user, UserAccount):
            key = await console_sessions.start(db, user_id=user.id, replacing=session_key(request.session))
    if user == "code":
        return render(
            request,
            "conference/login_code.html",
            {"errors": {"code": accounts.BAD_CODE}, "values": {}},
            status_code=401,
        )
    if not isinstance(user, UserAccount):
        for name in (PENDING_USER, PENDING_AT, PENDING_NEXT):
            request.session.pop(name, None)
        return _login_page(request, target=target, errors_={"email": accounts.BAD_LOGIN}, status_code=401)
    assert key is not None
    _open(request, key)
    return RedirectResponse(_landing(user.role, target), 303)


async def logout(request: Request) -> Response:
    """End this browser's session on the server (a copy of its cookie stops working too), then forget it."""
    await form_values(request)
    if (key := session_key(request.session)) is not None:
        async with database(request).transaction() as db:
            found = await console_sessions.find(db, key)
            await console_sessions.end(db, key)
            if found is not None:
                await audit.record(db, "conference.logout", actor=found.actor)
        forget_actors()  # the scanners' cache of who a session is (other workers: within seconds)
    request.session.clear()
    return RedirectResponse("/login", 303)


# --- forgotten passwords ------------------------------------------------------------------------------------


async def forgot_page(request: Request) -> Response:
    return render(request, "conference/password_forgot.html", {"errors": {}, "sent": False, "values": {}})


async def forgot_submit(request: Request) -> Response:
    await rate_limit(request).check(request, "password-reset")
    values = await form_values(request)
    email = values.get("email", "").strip()
    if not email or "@" not in email or len(email) > 254:
        return render(
            request,
            "conference/password_forgot.html",
            {
                "errors": {"email": "Enter your email address, like name@example.org."},
                "sent": False,
                "values": {"email": email[:254]},
            },
            status_code=422,
        )
    async with database(request).transaction() as db:
        await accounts.request_reset(db, settings(request), email=email)
    # The same page whether or not the address has an account.
    return render(request, "conference/password_forgot.html", {"errors": {}, "sent": True, "values": {}})


async def reset_page(request: Request) -> Response:
    token = request.path_params["token"]
    async with database(request).read() as db:
        await accounts.find_reset(db, token)
    return render(request, "conference/password_reset.html", {"errors": {}, "values": {}})


async def reset_submit(request: Request) -> Response:
    await rate_limit(request).check(request, "password-reset")
    token = request.path_params["token"]
    values = await form_values(request)
    password, again = values.get("password", ""), values.get("password_again", "")
    if password != again:
        return render(
            request,
            "conference/password_reset.html",
            {
                "errors": {
                    "password_again": "The two passwords are not the same. Type the same password twice."
                },
                "values": {},
            },
            status_code=422,
        )
    try:
        user, key = await accounts.complete_reset(
            database(request), token, password, replacing=session_key(request.session)
        )
    except errors.InvalidInput as exc:
        return render(
            request,
            "conference/password_reset.html",
            {"errors": exc.fields or {}, "values": {}},
            status_code=422,
        )
    if key is None:
        # A reset proves the mailbox, not the second factor: sign in again with the code.
        request.session.clear()
        return RedirectResponse(request.url_for("login").include_query_params(reset="done"), 303)
    _open(request, key)
    return RedirectResponse(_landing(user.role, "/console"), 303)


async def console_home(request: Request) -> Response:
    await require_console(request, "organiser")
    return RedirectResponse("/console/dashboard", 303)


routes = [
    Route("/login", login_page, methods=["GET"], name="login"),
    Route("/login", login, methods=["POST"], name="login-submit"),
    Route("/login/code", code_page, methods=["GET"], name="login-code"),
    Route("/login/code", code_submit, methods=["POST"], name="login-code-submit"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/password/forgot", forgot_page, methods=["GET"], name="password-forgot"),
    Route("/password/forgot", forgot_submit, methods=["POST"], name="password-forgot-submit"),
    Route("/password/reset/{token}", reset_page, methods=["GET"], name="password-reset"),
    Route("/password/reset/{token}", reset_submit, methods=["POST"], name="password-reset-submit"),
    Route("/console", console_home, methods=["GET"], name="console"),
]
