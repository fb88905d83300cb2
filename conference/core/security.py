"""Secrets: manage tokens, API tokens and CSRF tokens. Only hashes of bearer tokens are ever stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

ROLES = ("organiser", "staff")  # API tokens (`conference token create`)
# Invited reviewers hold a private-link token (sessions/call/review.py) instead of an API token: the role only reads
# proposals and scores them, and can be revoked per person.
REVIEWER = "reviewer"
# Unambiguous letters and digits for references read over the phone (no 0/O, 1/I/L).
_REF_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def hash_token(token: str) -> str:
    # Tokens are long and random, so a fast hash is enough (no dictionary to attack), and lookups stay O(1).
    return hashlib.sha256(token.encode()).hexdigest()


def _hmac(secret: str, message: str) -> bytes:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()


def manage_token(secret: str, registration_id: uuid.UUID, version: int) -> str:
    """The attendee's bearer token, derived from the server secret so it can be re-sent without storing it.

    Bumping `version` (a reissue) makes the old token useless.
    """
    raw = _hmac(secret, f"manage:{registration_id}:{version}")
    return "m_" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def derived_token(secret: str, purpose: str, prefix: str, subject_id: uuid.UUID, version: int) -> str:
    """A private link's token (like `manage_token`, for other purposes): re-derivable, so emails rendered at send
    time can carry it while the database keeps only its hash; bumping `version` revokes it."""
    raw = _hmac(secret, f"{purpose}:{subject_id}:{version}")
    return prefix + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


EMAIL_VERIFY_PREFIX = "v_"


def email_verify_token(secret: str, registration_id: uuid.UUID, email_key: str, version: int) -> str:
    """The link emailed to a delegate to prove they read that address (conference/verification.py): derived like
    `manage_token`, bound to the address and the registration's token version, so a changed address, a transfer or
    an erasure ends it. It carries the registration's id, so no hash of it need be stored."""
    raw = _hmac(secret, f"verify-email:{registration_id}:{email_key}:{version}")
    return EMAIL_VERIFY_PREFIX + registration_id.hex + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def email_verify_subject(token: str) -> uuid.UUID | None:
    """The registration id an email verification token names (unchecked: compare it with `email_verify_token`)."""
    if not token.startswith(EMAIL_VERIFY_PREFIX) or len(token) > 100:
        return None
    try:
        return uuid.UUID(hex=token[len(EMAIL_VERIFY_PREFIX) : len(EMAIL_VERIFY_PREFIX) + 32])
    except ValueError:
        return None


def tokens_match(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def new_api_token() -> str:
    return "ct_" + secrets.token_urlsafe(32)


def new_reference(prefix: str = "NC") -> str:
    return prefix + "-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(6))


def csrf_token_for(secret: str, nonce: str) -> str:
    """The form field that must accompany the `csrf` cookie (a signed double submit)."""
    return base64.urlsafe_b64encode(_hmac(secret, f"csrf:{nonce}")).rstrip(b"=").decode()


CSRF_COOKIE = "csrf"  # the double-submit cookie; its signed value goes in forms (and the scanner's header)


def csrf_valid(secret: str, nonce: str | None, submitted: str | None) -> bool:
    if not nonce or not submitted:
        return False
    return hmac.compare_digest(csrf_token_for(secret, nonce), submitted)
