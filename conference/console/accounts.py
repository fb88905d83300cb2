"""The console's account pages: your own account (password, two-factor, sign out everywhere) for organisers and
staff; users and API tokens (add, disable, revoke) for organisers."""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Awaitable, Callable

import qrcode  # type: ignore[import-untyped]  # qrcode has no py.typed; types-qrcode is not in the lock
import qrcode.image.svg  # type: ignore[import-untyped]  # qrcode has no py.typed; types-qrcode is not in the lock
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference import accounts
from conference.console.login import require_console, require_session
from conference.core import audit, console_sessions, errors, totp
from conference.core.audit import Actor
from conference.core.console_sessions import SignedIn
from conference.core.models import ApiToken, UserAccount, utcnow
from conference.core.security import ROLES
from conference.web.auth import SESSION_KEY, create_api_token, forget_actors
from conference.web.forms import Action, act, act_alone, done_message
from conference.web.request import database, settings
from conference.web.templating import form_values, render

DONE = {
    "password": "Your password is changed. Other browsers signed in to your account have been signed out.",
    "totp_on": (
        "Two-factor sign-in is on. You'll be asked for a code from your app each time you sign in. Other browsers "
        "signed in to your account have been signed out."
    ),
    "totp_off": "Two-factor sign-in is off.",
    "sessions": "Every other browser signed in to your account has been signed out.",
    "user_added": "The account is made and a link to choose a password has been emailed to it.",
    "user_disabled": "The account is disabled and signed out everywhere.",
    "user_enabled": "The account is enabled again.",
    "token_revoked": "The token is revoked: it no longer works, and browsers signed in with it are signed out.",
}
MAX_NAME = 100


async def _me(request: Request) -> SignedIn:
    """The signed-in person's session: who, and their account id (None when signed in with an API token)."""
    return await require_session(request, "organiser", "staff")


async def _account_page(
    request: Request,
    *,
    errors_: dict[str, str] | None = None,
    totp_secret: str | None = None,
    status_code: int = 200,
) -> Response:
    me = await _me(request)
    user, others = None, 0
    if me.user_id is not None:
        async with database(request).read() as db:
            user = await db.get(UserAccount, me.user_id)
            others = await console_sessions.others(db, me.user_id, keep=me.id)
    qr = None
    if user is not None and totp_secret is None:
        totp_secret = totp.pending_secret(settings(request), user)
    if user is not None and totp_secret:
        uri = totp.uri(settings(request), user) or ""
        qr = _svg_data_uri(uri)
    return render(
        request,
        "console/account.html",
        {
            "actor": me.actor,
            "user": user,
            "other_sessions": others,
            "errors": errors_ or {},
            "values": {},
            "totp_secret": totp_secret,
            "qr": qr,
            "done": done_message(request, DONE),
        },
        status_code=status_code,
    )


def _svg_data_uri(text: str) -> str:
    buffer = io.BytesIO()
    qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2).save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


async def account_page(request: Request) -> Response:
    return await _account_page(request)


MyAction = Callable[[AsyncSession, UserAccount, dict[str, str], SignedIn], Awaitable[str]]
MyChange = Callable[[dict[str, str], SignedIn, uuid.UUID], Awaitable[str]]


async def _on_my_account(request: Request, change: MyChange) -> Response:
    """Run `change(values, me, user_id)` for the signed-in account (its own transactions); then back to the account
    page. A form's mistake shows the page again (422)."""
    me = await _me(request)
    if me.user_id is None:
        raise errors.DomainError(
            "You signed in with an API token, which has no password or two-factor to change."
        )
    user_id = me.user_id

    async def run(values: dict[str, str], actor: Actor) -> str:
        return await change(values, me, user_id)

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        if not isinstance(exc, errors.InvalidInput):
            raise exc
        return await _account_page(request, errors_=exc.fields or {}, status_code=422)

    return await act_alone(
        request, run, actor=me.actor, back=request.url_for("console-account"), on_error=on_error
    )


async def _with_my_account(request: Request, action: MyAction) -> Response:
    """Run `action(db, user, values, me)` on the signed-in account, locked, in one transaction."""

    async def change(values: dict[str, str], me: SignedIn, user_id: uuid.UUID) -> str:
        async with database(request).transaction() as db:
            user = await db.get(UserAccount, user_id, with_for_update=True)
            if user is None:
                raise errors.NotFound("Your account no longer exists.")
            return await action(db, user, values, me)

    return await _on_my_account(request, change)


async def change_password(request: Request) -> Response:
    # The current password is checked off the event loop with no transaction open; a wrong one counts towards the
    # lock-out. This browser stays signed in; the account's other sessions end.
    async def change(values: dict[str, str], me: SignedIn, user_id: uuid.UUID) -> str:
        key = await accounts.change_password(
            database(request),
            user_id,
            current=values.get("current_password", ""),
            password=values.get("password", ""),
            again=values.get("password_again", ""),
            actor=me.actor,
            session_id=me.id,
        )
        request.session[SESSION_KEY] = (
            key  # this browser stays signed in; every other one, and any copy, is not
        )
        return "password"

    return await _on_my_account(request, change)


async def totp_start(request: Request) -> Response:
    values = await form_values(request)
    me = await _me(request)
    if me.user_id is None:
        raise errors.DomainError("You signed in with an API token, which has no two-factor to set up.")
    async with database(request).transaction() as db:
        user = await db.get(UserAccount, me.user_id, with_for_update=True)
        assert user is not None
        if user.totp_enabled_at is not None:
            raise errors.DomainError(
                "Two-factor sign-in is already on. Turn it off first to move it to a new app."
            )
        secret = totp.begin(settings(request), user)
    del values
    return await _account_page(request, totp_secret=secret)


async def totp_confirm(request: Request) -> Response:
    async def action(db: AsyncSession, user: UserAccount, values: dict[str, str], me: SignedIn) -> str:
        key = await accounts.confirm_totp(
            db, settings(request), user, values.get("code", "")[:20], actor=me.actor
        )
        request.session[SESSION_KEY] = key
        return "totp_on"

    return await _with_my_account(request, action)


async def totp_disable(request: Request) -> Response:
    async def change(values: dict[str, str], me: SignedIn, user_id: uuid.UUID) -> str:
        await accounts.turn_totp_off(
            database(request),
            user_id,
            # The form's field is disable_password (the page has two "current password" fields).
            values.get("disable_password") or values.get("current_password", ""),
            actor=me.actor,
            session_id=me.id,
        )
        return "totp_off"

    return await _on_my_account(request, change)


async def sign_out_everywhere(request: Request) -> Response:
    async def action(db: AsyncSession, user: UserAccount, values: dict[str, str], me: SignedIn) -> str:
        request.session[SESSION_KEY] = await accounts.sign_out_others(db, user, actor=me.actor)
        return "sessions"

    return await _with_my_account(request, action)


# --- users and API tokens (organisers) ----------------------------------------------------------------------


async def _users_page(
    request: Request,
    *,
    errors_: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    new_token: str | None = None,
    status_code: int = 200,
) -> Response:
    actor = await require_console(request, "organiser")
    async with database(request).read() as db:
        users = list(
            (await db.execute(sa.select(UserAccount).order_by(col(UserAccount.email_key)))).scalars()
        )
        tokens = list(
            (await db.execute(sa.select(ApiToken).order_by(col(ApiToken.created_at).desc()))).scalars()
        )
    return render(
        request,
        "console/users.html",
        {
            "actor": actor,
            "users": users,
            "tokens": tokens,
            "roles": ROLES,
            "errors": errors_ or {},
            "values": values or {},
            "new_token": new_token,
            "done": done_message(request, DONE),
        },
        status_code=status_code,
    )


async def users_page(request: Request) -> Response:
    return await _users_page(request)


async def _on_users(request: Request, action: Action) -> Response:
    """Run one users-and-tokens form's change; back to the page, or the page again with the form's mistakes."""

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        if not isinstance(exc, errors.InvalidInput):
            raise exc
        return await _users_page(request, errors_=exc.fields or {}, values=values, status_code=422)

    actor = await require_console(request, "organiser", back="/console/users")
    return await act(request, action, actor=actor, back=request.url_for("console-users"), on_error=on_error)


async def add_user(request: Request) -> Response:
    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        await accounts.add_user(
            db,
            settings(request),
            email=values.get("email", "")[:300],
            role=values.get("role", ""),
            name=values.get("name", "")[:120],
            actor=actor,
        )
        return "user_added"

    return await _on_users(request, action)


async def _set_disabled(request: Request, disabled: bool) -> Response:
    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        await accounts.set_disabled(db, request.path_params["user_id"], disabled, actor=actor)
        return "user_disabled" if disabled else "user_enabled"

    return await _on_users(request, action)


async def disable_user(request: Request) -> Response:
    return await _set_disabled(request, True)


async def enable_user(request: Request) -> Response:
    return await _set_disabled(request, False)


async def create_token(request: Request) -> Response:
    actor = await require_console(request, "organiser")
    values = await form_values(request)
    name, role = values.get("token_name", "").strip(), values.get("token_role", "")
    problems = {}
    if not name or len(name) > MAX_NAME:
        problems["token_name"] = f'Name the token (1 to {MAX_NAME} characters), e.g. "Door 1 scanner".'
    if role not in ROLES:
        problems["token_role"] = f"Choose one of: {', '.join(ROLES)}."
    if problems:
        return await _users_page(request, errors_=problems, values=values, status_code=422)
    async with database(request).transaction() as db:
        token = await create_api_token(db, role=role, name=name, created_by=actor.label)
        await audit.record(db, "conference.token.created", actor=actor, subject=role)
    # Shown once, on this response only: the database keeps its hash.
    return await _users_page(request, new_token=token)


async def revoke_token(request: Request) -> Response:
    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        token = await db.get(ApiToken, request.path_params["token_id"], with_for_update=True)
        if token is None:
            raise errors.NotFound("No API token has this id.")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            await console_sessions.end_for_token(db, token.token_hash)  # browsers signed in with it
            forget_actors()  # the scanners' cache of who a token is (other workers: within seconds)
            await audit.record(
                db, "conference.token.revoked", actor=actor, subject=str(token.id), role=token.role
            )
        return "token_revoked"

    return await _on_users(request, action)


routes = [
    Route("/console/account", account_page, methods=["GET"], name="console-account"),
    Route("/console/account/password", change_password, methods=["POST"], name="console-account-password"),
    Route("/console/account/totp", totp_start, methods=["POST"], name="console-account-totp"),
    Route(
        "/console/account/totp/confirm", totp_confirm, methods=["POST"], name="console-account-totp-confirm"
    ),
    Route(
        "/console/account/totp/disable", totp_disable, methods=["POST"], name="console-account-totp-disable"
    ),
    Route(
        "/console/account/sessions", sign_out_everywhere, methods=["POST"], name="console-account-sessions"
    ),
    Route("/console/users", users_page, methods=["GET"], name="console-users"),
    Route("/console/users", add_user, methods=["POST"], name="console-users-add"),
    Route(
        "/console/users/{user_id:uuid}/disable", disable_user, methods=["POST"], name="console-user-disable"
    ),
    Route("/console/users/{user_id:uuid}/enable", enable_user, methods=["POST"], name="console-user-enable"),
    Route("/console/tokens", create_token, methods=["POST"], name="console-tokens-create"),
    Route(
        "/console/tokens/{token_id:uuid}/revoke", revoke_token, methods=["POST"], name="console-token-revoke"
    ),
]
