"""Console accounts: organisers and staff sign in with an email and a password, optionally a TOTP code.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended profile) and rehashed
on login when those defaults change. Repeated failures lock the account for a while: the count lives in the
database, so it holds however many workers and instances serve the login form. Messages never say whether an
email has an account.

TOTP secrets are stored encrypted (Fernet, keyed from the server secret), so a copy of the database alone cannot
mint codes; a code is accepted once (the step is remembered), within one step of clock drift.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors
from conference.core.audit import Actor
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
TOTP_ISSUER = "Conference console"

_hasher = PasswordHasher()
# Verified when the email has no account, so a miss takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")

BAD_CODE = "This code is not right. Type the 6 digits your app shows now."
BAD_LOGIN = (
    "The email address or password is not right. After several failed tries an account is locked for "
    f"{int(LOCKOUT.total_seconds() // 60)} minutes."
)


@dataclass(frozen=True)
class LoginResult:
    user: UserAccount
    needs_totp: bool


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


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def set_password(db: AsyncSession, user: UserAccount, password: str, *, actor: Actor) -> None:
    problem = password_problem(password, email=user.email)
    if problem:
        raise errors.InvalidInput(fields={"password": problem})
    user.password_hash = hash_password(password)
    user.session_version += 1  # every other signed-in browser is signed out
    user.failed_logins = 0
    user.locked_until = None
    await audit.record(db, "conference.user.password_changed", actor=actor, subject=str(user.id))


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
    user.session_version += 1
    await audit.record(
        db,
        "conference.user.disabled" if disabled else "conference.user.enabled",
        actor=actor,
        subject=str(user.id),
    )
    return user


# --- signing in -------------------------------------------------------------------------------------------


async def check_password(
    db: AsyncSession, *, email: str, password: str, now: datetime | None = None
) -> LoginResult | None:
    """First factor. None means refused (one answer for every reason); the failure is counted and audited, so the
    caller must commit before it answers."""
    now = now or utcnow()
    user = await _locked_row(db, email)
    if user is None:
        verify_password("", password)
        await audit.record(db, "conference.login.failed", actor=Actor("anonymous"), reason="password")
        return None
    if user.locked_until is not None and user.locked_until > now:
        await audit.record(
            db, "conference.login.failed", actor=Actor("anonymous"), subject=str(user.id), reason="locked"
        )
        return None
    if user.disabled_at is not None or not verify_password(user.password_hash, password):
        await _count_failure(db, user, now, "password")
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    needs_totp = user.totp_enabled_at is not None
    if not needs_totp:
        _succeed(user, now)
        await audit.record(db, "conference.login.succeeded", actor=actor_for(user), subject=str(user.id))
    return LoginResult(user, needs_totp)


async def check_totp(
    db: AsyncSession, settings: Settings, *, user_id: uuid.UUID, code: str, now: datetime | None = None
) -> UserAccount | str:
    """Second factor, after check_password said needs_totp: the user, or why not ("code": a wrong code, counted
    like a wrong password; "refused": the account is locked or gone). Commit before answering."""
    now = now or utcnow()
    user = await db.get(UserAccount, user_id, with_for_update=True)
    if user is None or user.disabled_at is not None or user.totp_enabled_at is None:
        return "refused"
    if user.locked_until is not None and user.locked_until > now:
        return "refused"
    step = _totp_step(settings, user, code, now)
    if step is None:
        await _count_failure(db, user, now, "totp")
        return "refused" if user.locked_until is not None else "code"
    user.totp_last_step = step
    _succeed(user, now)
    await audit.record(
        db, "conference.login.succeeded", actor=actor_for(user), subject=str(user.id), totp=True
    )
    return user


async def _locked_row(db: AsyncSession, email: str) -> UserAccount | None:
    stmt = sa.select(UserAccount).where(col(UserAccount.email_key) == email_key(email)).with_for_update()
    return (await db.execute(stmt)).scalar_one_or_none()


async def _count_failure(db: AsyncSession, user: UserAccount, now: datetime, reason: str) -> None:
    user.failed_logins += 1
    locked = user.failed_logins >= MAX_FAILURES
    if locked:
        user.locked_until = now + LOCKOUT
        user.failed_logins = 0
    await audit.record(
        db,
        "conference.login.failed",
        actor=Actor("anonymous"),
        subject=str(user.id),
        reason=reason,
        locked=locked,
    )


def _succeed(user: UserAccount, now: datetime) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now


# --- TOTP -------------------------------------------------------------------------------------------------


def _fernet(settings: Settings) -> Fernet:
    key = hashlib.sha256(f"totp-secret:{settings.secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _totp_secret(settings: Settings, user: UserAccount) -> str | None:
    if not user.totp_secret:
        return None
    try:
        return _fernet(settings).decrypt(user.totp_secret.encode()).decode()
    except InvalidToken:  # the server secret changed: the user must set TOTP up again
        return None


def _totp_step(settings: Settings, user: UserAccount, code: str, now: datetime) -> int | None:
    secret = _totp_secret(settings, user)
    code = code.replace(" ", "").strip()
    if secret is None or not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):  # one step of drift either way
        if step > user.totp_last_step and pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def begin_totp(settings: Settings, user: UserAccount) -> str:
    """A fresh secret for the user to add to their app; stored (encrypted) but not enabled until confirmed."""
    secret = pyotp.random_base32()
    user.totp_secret = _fernet(settings).encrypt(secret.encode()).decode()
    user.totp_enabled_at = None
    return secret


def totp_uri(settings: Settings, user: UserAccount) -> str | None:
    secret = _totp_secret(settings, user)
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER) if secret else None


def pending_totp_secret(settings: Settings, user: UserAccount) -> str | None:
    return _totp_secret(settings, user) if user.totp_enabled_at is None else None


async def confirm_totp(
    db: AsyncSession,
    settings: Settings,
    user: UserAccount,
    code: str,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> None:
    now = now or utcnow()
    step = _totp_step(settings, user, code, now)
    if step is None:
        raise errors.InvalidInput(fields={"code": BAD_CODE})
    user.totp_last_step = step
    user.totp_enabled_at = now
    user.session_version += 1
    await audit.record(db, "conference.user.totp_enabled", actor=actor, subject=str(user.id))


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


async def complete_reset(db: AsyncSession, token: str, password: str) -> UserAccount:
    _reset, user = await find_reset(db, token, lock=True)
    await set_password(db, user, password, actor=actor_for(user))
    now = utcnow()
    # This link and every other outstanding one for the account stop working.
    await db.execute(
        sa.update(PasswordReset)
        .where(col(PasswordReset.user_id) == user.id, col(PasswordReset.used_at).is_(None))
        .values(used_at=now)
    )
    await audit.record(db, "conference.password_reset.completed", actor=actor_for(user), subject=str(user.id))
    return user


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
