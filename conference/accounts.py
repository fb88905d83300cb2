"""Console accounts: organisers and staff sign in with an email and a password, optionally a TOTP code.

Passwords are hashed with argon2id (conference/core/passwords.py) and rehashed on sign-in when its parameters
change. A check takes about 190 ms of CPU, so it runs on a thread of its own and never inside a transaction: the
account is read in one short transaction, the password checked with none open, and the outcome recorded in
another. Repeated failures lock the account for a while: the count lives in the database and goes up by an
atomic UPDATE, so it holds however many attempts, workers and instances run at once. A wrong current password on
the forms that need it (changing the password, turning two-factor off) counts the same way. Messages never say
whether an email has an account.

A successful sign-in starts a server-side session (conference/core/console_sessions.py); a password change or
reset, turning two-factor on and disabling the account end the account's other sessions.

TOTP codes and their encrypted secrets: conference/core/totp.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, console_sessions, errors, passwords, totp
from conference.core.audit import Actor
from conference.core.db import Database, lock_for_update
from conference.core.models import OutboxEmail, PasswordReset, UserAccount, utcnow
from conference.core.security import ROLES, derived_token, hash_token
from conference.core.settings import Settings
from conference.mail import mailtext
from conference.mail.outbox import queue_email

MAX_FAILURES = 5  # in a row; the next failure locks the account
LOCKOUT = timedelta(minutes=15)
RESET_VALID = timedelta(hours=1)
INVITE_VALID = timedelta(hours=48)  # a new account's first "set your password" link
RESETS_PER_HOUR = 3  # per account: a flood of reset requests can't flood someone's inbox
MIN_PASSWORD = 12
MAX_PASSWORD = 128  # argon2 takes any length, but a megabyte "password" is only a way to burn CPU

BAD_CODE = "This code is not right. Type the 6 digits your app shows now."
BAD_LOGIN = (
    "The email address or password is not right. After several failed tries an account is locked for "
    f"{int(LOCKOUT.total_seconds() // 60)} minutes."
)
NOT_CURRENT = "This is not your current password."
LOCKED = (
    "Your account is locked after too many wrong passwords. Try again in "
    f"{int(LOCKOUT.total_seconds() // 60)} minutes."
)


@dataclass(frozen=True)
class LoginResult:
    user: UserAccount
    needs_totp: bool
    session_key: str | None = None  # the new session's cookie key (None while a TOTP code is still needed)


def email_key(email: str) -> str:
    return email.strip().lower()


def actor_for(user: UserAccount) -> Actor:
    return Actor(user.role, user.email)


# --- passwords --------------------------------------------------------------------------------------------


def password_problem(password: str, *, email: str = "") -> str | None:
    """Why a new password is refused, or None. Length over composition rules (NIST SP 800-63B)."""
    if len(password) < MIN_PASSWORD:
        return f"Use at least {MIN_PASSWORD} characters; a few unrelated words make a strong password."
    if len(password) > MAX_PASSWORD:
        return f"Use at most {MAX_PASSWORD} characters."
    if password.strip().lower() == email_key(email) or len(set(password)) < 4:
        return "This password is too easy to guess; choose another."
    return None


async def set_password(db: AsyncSession, user: UserAccount, password: str, *, actor: Actor) -> None:
    """Give an account a password, hashing it here (blocking): for the command line and tests. Request handlers
    hash off the event loop first (change_password, complete_reset). Every session of the account ends."""
    problem = password_problem(password, email=user.email)
    if problem:
        raise errors.InvalidInput(fields={"password": problem})
    await _store_password(db, user, passwords.hash_password(password), actor=actor)


async def _store_password(db: AsyncSession, user: UserAccount, password_hash: str, *, actor: Actor) -> None:
    user.password_hash = password_hash
    user.failed_logins = 0
    user.locked_until = None
    await console_sessions.end_for_user(db, user.id)  # every signed-in browser is signed out
    await audit.record(db, "conference.user.password_changed", actor=actor, subject=str(user.id))


async def confirm_current_password(
    database: Database,
    user_id: uuid.UUID,
    password: str,
    *,
    field: str,
    session_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> str:
    """Check a signed-in person's current password (the forms that change the password or turn two-factor off):
    the hash it matched, or InvalidInput naming `field`. A wrong one counts towards the lock-out like a wrong
    sign-in (audited as conference.login.failed, reason current_password); a locked account is refused whatever is
    typed; and the wrong password that locks the account also ends the session it was typed in (`session_id`),
    so a borrowed browser can't go on guessing. The check runs off the event loop, outside any transaction."""
    now = now or utcnow()
    async with database.read() as db:
        user = await db.get(UserAccount, user_id)
    if user is None or user.disabled_at is not None:
        raise errors.NotFound("Your account no longer exists.")
    if _is_locked(user, now):
        raise errors.InvalidInput(fields={field: LOCKED})
    if await passwords.matches(user.password_hash, password[:MAX_PASSWORD]):
        return user.password_hash
    async with database.transaction() as db:
        locked = await record_failure(db, user.id, now, "current_password")
        if locked and session_id is not None:
            await console_sessions.end_one(db, session_id, now=now)
    raise errors.InvalidInput(fields={field: LOCKED if locked else NOT_CURRENT})


async def change_password(
    database: Database,
    user_id: uuid.UUID,
    *,
    current: str,
    password: str,
    again: str,
    actor: Actor,
    session_id: uuid.UUID | None,
) -> str:
    """The account page's password change: the current password (checked as confirm_current_password does), then
    the new one twice. The new hash is made off the event loop. Every session of the account ends; the key of
    the new one this browser stays signed in with."""
    verified = await confirm_current_password(
        database, user_id, current, field="current_password", session_id=session_id
    )
    if password != again:
        raise errors.InvalidInput(fields={"password_again": "The two new passwords are not the same."})
    async with database.read() as db:
        user = await db.get(UserAccount, user_id)
    problem = password_problem(password, email=user.email if user else "")
    if problem:
        raise errors.InvalidInput(fields={"password": problem})
    new_hash = await passwords.hashed(password)
    async with database.transaction() as db:
        user = await lock_for_update(db, UserAccount, user_id)
        if user.password_hash != verified:  # changed by another browser meanwhile
            raise errors.InvalidInput(fields={"current_password": NOT_CURRENT})
        await _store_password(db, user, new_hash, actor=actor)
        return await console_sessions.start(db, user_id=user.id)


# --- users ------------------------------------------------------------------------------------------------


async def find_user(db: AsyncSession, email: str) -> UserAccount | None:
    stmt = sa.select(UserAccount).where(col(UserAccount.email_key) == email_key(email))
    return (await db.execute(stmt)).scalar_one_or_none()


async def add_user(
    db: AsyncSession,
    settings: Settings,
    *,
    email: str,
    role: str,
    name: str = "",
    actor: Actor,
    invite: bool = True,
) -> UserAccount:
    """A new account without a password; with `invite`, it is emailed a link to set one."""
    if role not in ROLES:
        raise errors.InvalidInput(fields={"role": f"Choose one of: {', '.join(ROLES)}."})
    email = email.strip()
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise errors.InvalidInput(fields={"email": "Enter an email address like name@example.org."})
    if await find_user(db, email) is not None:
        raise errors.InvalidInput(fields={"email": "There is already an account with this email address."})
    user = UserAccount(email=email, email_key=email_key(email), name=name.strip()[:120], role=role)
    db.add(user)
    await db.flush()
    await audit.record(db, "conference.user.created", actor=actor, subject=str(user.id), role=role)
    if invite:
        await start_reset(db, settings, user, valid=INVITE_VALID, kind="account_invite")
    return user


async def set_disabled(db: AsyncSession, user_id: uuid.UUID, disabled: bool, *, actor: Actor) -> UserAccount:
    user = await db.get(UserAccount, user_id, with_for_update=True)
    if user is None:
        raise errors.NotFound("No account has this id.")
    if disabled and actor.kind == "organiser" and actor.name == user.email:
        raise errors.DomainError("You can't disable your own account; ask another organiser.")
    user.disabled_at = utcnow() if disabled else None
    if disabled:
        await console_sessions.end_for_user(db, user.id)
    await audit.record(
        db,
        "conference.user.disabled" if disabled else "conference.user.enabled",
        actor=actor,
        subject=str(user.id),
    )
    return user


async def sign_out_others(db: AsyncSession, user: UserAccount, *, actor: Actor) -> str:
    """The account page's "sign out every other browser": every session of the account ends, copies of this
    browser's cookie included; the key of the new session this browser stays signed in with."""
    await audit.record(db, "conference.user.sessions_revoked", actor=actor, subject=str(user.id))
    return await console_sessions.renew_for_user(db, user.id)


# --- signing in -------------------------------------------------------------------------------------------


async def check_password(
    database: Database,
    *,
    email: str,
    password: str,
    replacing: str | None = None,
    now: datetime | None = None,
) -> LoginResult | None:
    """First factor. None means refused (one answer for every reason), the failure counted and audited.

    Three steps, so that the argon2 check (on a thread, conference/core/passwords.py) never holds a transaction
    open: read the account; check the password with no transaction; record the outcome in a short one. A failure
    is counted by an atomic UPDATE (record_failure). A success is recorded only if, in that transaction, the account
    is still unlocked, enabled and has the password that was checked. Without a second factor the session starts
    there too (LoginResult.session_key); the browser's previous session (`replacing`, its cookie's key) ends."""
    now = now or utcnow()
    async with database.read() as db:
        user = await find_user(db, email)
    if user is None or _is_locked(user, now):
        await passwords.matches("", password)  # the same time as a wrong password
        async with database.transaction() as db:
            await audit.record(
                db,
                "conference.login.failed",
                actor=Actor("anonymous"),
                subject=str(user.id) if user else "",
                reason="locked" if user else "password",
            )
        return None
    checked = user.password_hash
    right = await passwords.matches(checked, password) and user.disabled_at is None
    rehashed = await passwords.hashed(password) if right and passwords.needs_rehash(checked) else None
    async with database.transaction() as db:
        if not right:
            await record_failure(db, user.id, now, "password")
            return None
        user = await lock_for_update(db, UserAccount, user.id)
        if user.password_hash != checked or user.disabled_at is not None or _is_locked(user, now):
            # Changed, disabled or locked while the password was being checked: refused, not counted again.
            await audit.record(
                db,
                "conference.login.failed",
                actor=Actor("anonymous"),
                subject=str(user.id),
                reason="changed",
            )
            return None
        if rehashed is not None:
            user.password_hash = rehashed
        if replacing:
            await console_sessions.end(db, replacing, now=now)
        if user.totp_enabled_at is not None:
            return LoginResult(user, needs_totp=True)
        _succeed(user, now)
        await audit.record(db, "conference.login.succeeded", actor=actor_for(user), subject=str(user.id))
        key = await console_sessions.start(db, user_id=user.id, now=now)
        return LoginResult(user, needs_totp=False, session_key=key)


async def check_totp(
    db: AsyncSession, settings: Settings, *, user_id: uuid.UUID, code: str, now: datetime | None = None
) -> UserAccount | str:
    """Second factor, after check_password said needs_totp: the user, or why not ("code": a wrong code, counted
    like a wrong password; "refused": the account is locked or gone). Commit before answering."""
    now = now or utcnow()
    user = await db.get(UserAccount, user_id, with_for_update=True)
    if user is None or user.disabled_at is not None or user.totp_enabled_at is None:
        return "refused"
    if _is_locked(user, now):
        return "refused"
    step = totp.step_for(settings, user, code, now)
    if step is None:
        locked = await record_failure(db, user.id, now, "totp")
        return "refused" if locked else "code"
    user.totp_last_step = step
    _succeed(user, now)
    await audit.record(
        db, "conference.login.succeeded", actor=actor_for(user), subject=str(user.id), totp=True
    )
    return user


def _is_locked(user: UserAccount, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


async def record_failure(db: AsyncSession, user_id: uuid.UUID, now: datetime, reason: str) -> bool:
    """Count a wrong password or code, atomically (however many arrive at once, each counts once); the
    MAX_FAILURES-th in a row locks the account for LOCKOUT. Whether this one locked it. Audited."""
    table = UserAccount
    counted = (
        await db.execute(
            sa.update(table)
            .where(
                col(table.id) == user_id,
                sa.or_(col(table.locked_until).is_(None), col(table.locked_until) <= now),
            )
            .values(failed_logins=col(table.failed_logins) + 1)
            .returning(col(table.failed_logins))
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    # The UPDATE holds the row (PostgreSQL) or the database (SQLite) until commit: no other count slips between.
    locked = counted is not None and counted >= MAX_FAILURES
    if locked:
        await db.execute(
            sa.update(table)
            .where(col(table.id) == user_id)
            .values(failed_logins=0, locked_until=now + LOCKOUT)
            .execution_options(synchronize_session=False)
        )
    await audit.record(
        db,
        "conference.login.failed",
        actor=Actor("anonymous"),
        subject=str(user_id),
        reason=reason if counted is not None else "locked",
        locked=locked,
    )
    return locked


def _succeed(user: UserAccount, now: datetime) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now


# --- TOTP -------------------------------------------------------------------------------------------------


async def confirm_totp(
    db: AsyncSession,
    settings: Settings,
    user: UserAccount,
    code: str,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> str:
    """Turn two-factor on with a first code from the app. Every session of the account ends (they began without
    a code); the key of the new one the browser that turned it on stays signed in with."""
    now = now or utcnow()
    step = totp.step_for(settings, user, code, now)
    if step is None:
        raise errors.InvalidInput(fields={"code": BAD_CODE})
    user.totp_last_step = step
    user.totp_enabled_at = now
    await audit.record(db, "conference.user.totp_enabled", actor=actor, subject=str(user.id))
    return await console_sessions.renew_for_user(db, user.id, now=now)


async def turn_totp_off(
    database: Database, user_id: uuid.UUID, password: str, *, actor: Actor, session_id: uuid.UUID | None
) -> None:
    """The account page's "turn two-factor off": the current password first (confirm_current_password)."""
    await confirm_current_password(
        database, user_id, password, field="disable_password", session_id=session_id
    )
    async with database.transaction() as db:
        await disable_totp(db, await lock_for_update(db, UserAccount, user_id), actor=actor)


async def disable_totp(db: AsyncSession, user: UserAccount, *, actor: Actor) -> None:
    user.totp_secret = ""
    user.totp_enabled_at = None
    user.totp_last_step = 0
    await audit.record(db, "conference.user.totp_disabled", actor=actor, subject=str(user.id))


# --- password reset ---------------------------------------------------------------------------------------


def reset_token(settings: Settings, reset_id: uuid.UUID) -> str:
    # Derived, not stored: the email is rendered when sent, and the database keeps only the token's hash.
    return derived_token(str(settings.secret_key), "password-reset", "pr_", reset_id, 1)


def reset_url(settings: Settings, reset_id: uuid.UUID) -> str:
    return f"{settings.base_url}/password/reset/{reset_token(settings, reset_id)}"


async def start_reset(
    db: AsyncSession,
    settings: Settings,
    user: UserAccount,
    *,
    valid: timedelta = RESET_VALID,
    kind: str = "password_reset",
) -> PasswordReset | None:
    """Email the user a single-use link (at most RESETS_PER_HOUR an hour: beyond that, silently nothing)."""
    now = utcnow()
    recent = (
        await db.execute(
            sa.select(sa.func.count())
            .select_from(PasswordReset)
            .where(
                col(PasswordReset.user_id) == user.id,
                col(PasswordReset.created_at) > now - timedelta(hours=1),
            )
        )
    ).scalar_one()
    if recent >= RESETS_PER_HOUR:
        return None
    reset = PasswordReset(id=uuid.uuid4(), user_id=user.id, token_hash="", expires_at=now + valid)
    reset.token_hash = hash_token(reset_token(settings, reset.id))
    db.add(reset)
    queue_email(db, settings, kind=kind, to=user.email, reset_id=str(reset.id))
    return reset


async def latest_reset(db: AsyncSession, user_id: uuid.UUID) -> PasswordReset | None:
    stmt = (
        sa.select(PasswordReset)
        .where(col(PasswordReset.user_id) == user_id)
        .order_by(col(PasswordReset.created_at).desc())
        .limit(1)
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def request_reset(db: AsyncSession, settings: Settings, *, email: str) -> None:
    """The "forgot password" form: the same answer whether or not the email has an account."""
    user = await find_user(db, email)
    if user is None or user.disabled_at is not None:
        await audit.record(db, "conference.password_reset.requested", actor=Actor("anonymous"), known=False)
        return
    reset = await start_reset(db, settings, user)
    await audit.record(
        db,
        "conference.password_reset.requested",
        actor=Actor("anonymous"),
        subject=str(user.id),
        known=True,
        sent=reset is not None,
    )


async def reset_from_command_line(
    db: AsyncSession, settings: Settings, *, email: str, password: str | None, actor: Actor
) -> tuple[UserAccount, PasswordReset | None]:
    """`conference user reset-password`, for whoever runs the server: a one-time link to choose a new password
    (valid RESET_VALID; printed, not emailed, and not counted against RESETS_PER_HOUR), or with `password` the new
    password at once: the account's outstanding links stop working, its lock-out ends, every session ends."""
    found = await find_user(db, email)
    if found is None:
        raise errors.NotFound(f"No console account has the email address {email.strip()}.")
    user = await lock_for_update(db, UserAccount, found.id)
    if user.disabled_at is not None:
        raise errors.DomainError(
            f"The account {user.email} is disabled; an organiser can enable it again at /console/users."
        )
    if password is not None:
        await set_password(db, user, password, actor=actor)
        await db.execute(
            sa.update(PasswordReset)
            .where(col(PasswordReset.user_id) == user.id, col(PasswordReset.used_at).is_(None))
            .values(used_at=utcnow())
        )
        return user, None
    reset = PasswordReset(id=uuid.uuid4(), user_id=user.id, token_hash="", expires_at=utcnow() + RESET_VALID)
    reset.token_hash = hash_token(reset_token(settings, reset.id))
    db.add(reset)
    await audit.record(db, "conference.password_reset.issued", actor=actor, subject=str(user.id))
    return user, reset


async def find_reset(
    db: AsyncSession, token: str, *, lock: bool = False
) -> tuple[PasswordReset, UserAccount]:
    stmt = sa.select(PasswordReset).where(col(PasswordReset.token_hash) == hash_token(token))
    reset = (await db.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if reset is None or reset.used_at is not None or reset.expires_at < utcnow():
        raise errors.NotFound("This link has expired or was already used. Ask for a new one.")
    user = await db.get(UserAccount, reset.user_id)
    if user is None or user.disabled_at is not None:
        raise errors.NotFound("This link has expired or was already used. Ask for a new one.")
    return reset, user


async def complete_reset(
    database: Database, token: str, password: str, *, replacing: str | None = None
) -> tuple[UserAccount, str | None]:
    """Set the new password a reset link was for; the link and every other outstanding one for the account stop
    working, and every session of the account ends. The account and, unless it has two-factor on (a reset proves
    the mailbox, not the second factor), a new session's key for this browser, whose previous session ends."""
    async with database.read() as db:
        _reset, user = await find_reset(db, token)
    problem = password_problem(password, email=user.email)
    if problem:
        raise errors.InvalidInput(fields={"password": problem})
    new_hash = await passwords.hashed(password)  # off the event loop, before the transaction
    async with database.transaction() as db:
        _reset, user = await find_reset(db, token, lock=True)
        await _store_password(db, user, new_hash, actor=actor_for(user))
        now = utcnow()
        await db.execute(
            sa.update(PasswordReset)
            .where(col(PasswordReset.user_id) == user.id, col(PasswordReset.used_at).is_(None))
            .values(used_at=now)
        )
        await audit.record(
            db, "conference.password_reset.completed", actor=actor_for(user), subject=str(user.id)
        )
        if replacing:
            await console_sessions.end(db, replacing, now=now)
        if user.totp_enabled_at is not None:
            return user, None
        return user, await console_sessions.start(db, user_id=user.id, now=now)


async def _compose_reset(db: AsyncSession, settings: Settings, row: OutboxEmail) -> tuple[str, str]:
    reset = await db.get(PasswordReset, uuid.UUID(row.context["reset_id"]))
    assert reset is not None
    hours = max(1, round((reset.expires_at - reset.created_at).total_seconds() / 3600))
    if row.kind == "account_invite":
        user = await db.get(UserAccount, reset.user_id)
        role = user.role if user else "organiser"
        return "Your conference console account", (
            f"An account has been made for you on the conference console, as {role}.\n\n"
            f"Choose your password here (the link works once, for {hours} hours):\n{reset_url(settings, reset.id)}\n\n"
            "If you weren't expecting this, you can ignore this email.\n"
        )
    return "Reset your conference console password", (
        "Someone (we hope you) asked to reset the password of your conference console account.\n\n"
        f"Choose a new password here (the link works once, for {hours} hour{'s' if hours != 1 else ''}):\n"
        f"{reset_url(settings, reset.id)}\n\n"
        "If you didn't ask, you can ignore this email: your password has not changed.\n"
    )


mailtext.register_kind("password_reset", _compose_reset)
mailtext.register_kind("account_invite", _compose_reset)
