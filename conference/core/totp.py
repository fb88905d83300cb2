"""TOTP for console accounts (RFC 6238, 6 digits, 30-second steps), the secret stored encrypted.

The secret is kept encrypted (Fernet, keyed from the server secret), so a copy of the database alone cannot mint
codes; changing CONFERENCE_SECRET_KEY means setting two-factor up again. A code is accepted once (the step is
remembered on the account), within one step of clock drift.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

import pyotp
from cryptography.fernet import Fernet, InvalidToken

from conference.core.models import UserAccount
from conference.core.settings import Settings

ISSUER = "Conference console"


def _fernet(settings: Settings) -> Fernet:
    key = hashlib.sha256(f"totp-secret:{settings.secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def secret_of(settings: Settings, user: UserAccount) -> str | None:
    if not user.totp_secret:
        return None
    try:
        return _fernet(settings).decrypt(user.totp_secret.encode()).decode()
    except InvalidToken:  # the server secret changed: the user must set TOTP up again
        return None


def step_for(settings: Settings, user: UserAccount, code: str, now: datetime) -> int | None:
    """The time step `code` is right for, if it is one not used yet; None otherwise."""
    secret = secret_of(settings, user)
    code = code.replace(" ", "").strip()
    if secret is None or not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):  # one step of drift either way
        if step > user.totp_last_step and pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def begin(settings: Settings, user: UserAccount) -> str:
    """A fresh secret for the user to add to their app; stored (encrypted) but not enabled until confirmed."""
    secret = pyotp.random_base32()
    user.totp_secret = _fernet(settings).encrypt(secret.encode()).decode()
    user.totp_enabled_at = None
    return secret


def uri(settings: Settings, user: UserAccount) -> str | None:
    secret = secret_of(settings, user)
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER) if secret else None


def pending_secret(settings: Settings, user: UserAccount) -> str | None:
    return secret_of(settings, user) if user.totp_enabled_at is None else None
