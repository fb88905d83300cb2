"""Signed badge codes: the text inside a badge's QR code, which any scanner can check offline.

Format (every character is in the QR *alphanumeric* set, so the symbol stays small: version 5-M, 37×37
modules, for a usual reference)::

    REFERENCE "." VERSION "." SIGNATURE
    NC-7KQ2MX.1.DJ4H...(103 characters)

- REFERENCE: the registration's reference, upper-case letters and digits in groups joined by single
  hyphens (``[A-Z0-9]+(-[A-Z0-9]+)*``), at most 16 characters.
- VERSION: the registration's ``badge_version`` in decimal, 1 to 999999999, no leading zero. Reissuing a badge
  bumps the version; the check-in compares it with the database (an old version verifies here).
- SIGNATURE: the 64-byte Ed25519 signature, RFC 4648 base32 (alphabet ``A-Z2-7``), upper case, without the
  ``=`` padding: exactly 103 characters, the last one carrying 2 bits followed by 3 zero bits.

The signed message is the ASCII bytes ``badge:v1:REFERENCE:VERSION``, e.g. ``b"badge:v1:NC-7KQ2MX:1"``; the
``badge:v1:`` prefix keeps these signatures from being valid for anything else the key might sign.

A scanner page verifies offline with WebCrypto, given the public key from ``GET /api/v1/badges/public-key``
(the raw 32-byte key, base64url without padding)::

    const [reference, version, signature] = code.split(".");
    const key = await crypto.subtle.importKey("raw", base64urlDecode(publicKey), "Ed25519", false, ["verify"]);
    const ok = await crypto.subtle.verify("Ed25519", key, base32Decode(signature),
                                          new TextEncoder().encode(`badge:v1:${reference}:${version}`));

Parsing is strict and does no work on text longer than MAX_CODE_LENGTH: lowercase, surrounding whitespace,
padding, a non-canonical last base32 character or any other character are refused, so each badge has exactly
one valid code text.

The key: ``CONFERENCE_BADGE_SIGNING_KEY`` is the base64url of a 32-byte Ed25519 seed (``generate_signing_key()``
makes one). Without it the seed is derived from ``CONFERENCE_SECRET_KEY`` with HKDF-SHA256 (info
``b"conference badge signing key v1"``): a deployment with a single secret still gets badges that stay valid
across restarts and workers, with no second secret to manage, and HKDF makes the badge key independent of the
other uses of the secret key (manage tokens, cookies), so publishing its public half reveals nothing about
them. Changing the secret key then changes every badge code: set the badge key of its own to rotate the two
separately.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from conference.core.settings import Settings, SettingsError

__all__ = [
    "MAX_CODE_LENGTH",
    "BadgeClaim",
    "BadgeSigner",
    "InvalidBadge",
    "for_staff",
    "generate_signing_key",
    "signed_message",
    "signer_for",
    "verify_with",
]

MAX_REFERENCE_LENGTH = 16  # Registration.reference's column
MAX_VERSION = 999_999_999
SIGNATURE_CHARS = 103  # base32 of 64 bytes, unpadded
MAX_CODE_LENGTH = MAX_REFERENCE_LENGTH + 1 + len(str(MAX_VERSION)) + 1 + SIGNATURE_CHARS  # 130

HKDF_INFO = b"conference badge signing key v1"
_DOMAIN = "badge:v1:"

# The QR alphanumeric set (ISO/IEC 18004): anything else cannot have come out of one of our QR codes.
_QR_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
_REFERENCE = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)*")
_VERSION = re.compile(r"[1-9][0-9]{0,8}")
_BASE32 = re.compile(r"[A-Z2-7]+")


@dataclass(frozen=True)
class BadgeClaim:
    reference: str
    version: int


class InvalidBadge(ValueError):
    """A code that is not a badge this key signed. `reason` is short and safe to log (it quotes no code text)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"invalid badge code: {reason}")


# What the door staff are told for each reason, and what to do (scanner.js says the same when offline).
_LOOK_UP = "Find the delegate by name with the search instead."
FOR_STAFF = {
    "empty": "Nothing was read. Scan the badge again.",
    "unreadable": f"This is not a conference badge. {_LOOK_UP}",
    "too long": f"This is not a conference badge. {_LOOK_UP}",
    "lowercase": "The scanner changed the code's capital letters to small ones, so it cannot be checked. "
    f"Scan it with this page's camera, or: {_LOOK_UP[0].lower()}{_LOOK_UP[1:]}",
    "truncated": "Only part of the code was read. Scan it again, holding the badge flat and still.",
    "bad reference": f"The code is damaged. {_LOOK_UP}",
    "bad version": f"The code is damaged. {_LOOK_UP}",
    "bad signature encoding": f"The code is damaged. {_LOOK_UP}",
    "bad signature": "This badge was not issued by the organisers. Find the delegate by name, and check who they "
    "are before letting them in.",
}


def for_staff(reason: str) -> str:
    """Why a code is refused, said to the person scanning it (InvalidBadge.reason is for logs)."""
    return FOR_STAFF.get(reason, f"The code cannot be read. {_LOOK_UP}")


def signed_message(reference: str, version: int) -> bytes:
    return f"{_DOMAIN}{reference}:{version}".encode("ascii")


def generate_signing_key() -> str:
    """A new value for CONFERENCE_BADGE_SIGNING_KEY: 32 random bytes, base64url without padding."""
    return _b64url(secrets.token_bytes(32))


class BadgeSigner:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self._public = private_key.public_key()
        raw = self._public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self._public_b64 = _b64url(raw)

    @classmethod
    def from_seed(cls, seed: bytes) -> BadgeSigner:
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_settings(cls, settings: Settings) -> BadgeSigner:
        if settings.badge_signing_key is not None:
            text = str(settings.badge_signing_key).strip()
            try:
                seed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            except (binascii.Error, ValueError):
                seed = b""
            if len(seed) != 32 or not re.fullmatch(r"[A-Za-z0-9_-]+=*", text):
                raise SettingsError(
                    "CONFERENCE_BADGE_SIGNING_KEY must be 32 bytes in base64url (43 characters); "
                    "make one with: python -c 'from badges.codes import generate_signing_key as g; print(g())'"
                )
            return cls.from_seed(seed)
        seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(
            str(settings.secret_key).encode("utf-8")
        )
        return cls.from_seed(seed)

    @property
    def public_key_b64(self) -> str:
        return self._public_b64

    def code_for(self, reference: str, version: int) -> str:
        if not (len(reference) <= MAX_REFERENCE_LENGTH and _REFERENCE.fullmatch(reference)):
            raise ValueError(
                "a badge reference is upper-case letters and digits in hyphenated groups, "
                f"at most {MAX_REFERENCE_LENGTH} characters"
            )
        if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
            raise ValueError(f"a badge version is a whole number from 1 to {MAX_VERSION}")
        signature = self._private.sign(signed_message(reference, version))
        return f"{reference}.{version}.{_b32(signature)}"

    def verify(self, code: str) -> BadgeClaim:
        return _verify(self._public, code)


@lru_cache(maxsize=16)
def signer_for(settings: Settings) -> BadgeSigner:
    """BadgeSigner.from_settings, made once per Settings object (what request handlers should call)."""
    return BadgeSigner.from_settings(settings)


def verify_with(public_key_b64: str, code: str) -> BadgeClaim:
    """Verify with a public key alone (what a scanner holds). ValueError for a malformed key."""
    try:
        raw = base64.urlsafe_b64decode(public_key_b64 + "=" * (-len(public_key_b64) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("the public key is not base64url") from None
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return _verify(Ed25519PublicKey.from_public_bytes(raw), code)


def parse(code: str) -> tuple[BadgeClaim, bytes]:
    """The claim and the signature bytes, checked for form only (no key): raises InvalidBadge."""
    if not isinstance(code, str):
        raise InvalidBadge("unreadable")
    if not code:
        raise InvalidBadge("empty")
    if len(code) > MAX_CODE_LENGTH:
        raise InvalidBadge("too long")
    if not _QR_ALPHANUMERIC.issuperset(code):
        # "lowercase" when upper case alone would have made it readable (a scanner or a person lowered it).
        raise InvalidBadge("lowercase" if _QR_ALPHANUMERIC.issuperset(code.upper()) else "unreadable")
    parts = code.split(".")
    if len(parts) != 3:
        # A reference and version without the signature is a code cut short; anything else is not ours.
        raise InvalidBadge(
            "truncated" if len(parts) == 2 and _REFERENCE.fullmatch(parts[0]) else "unreadable"
        )
    reference, version, signature = parts
    if len(reference) > MAX_REFERENCE_LENGTH or not _REFERENCE.fullmatch(reference):
        raise InvalidBadge("bad reference")
    if not _VERSION.fullmatch(version):
        raise InvalidBadge("bad version")
    if len(signature) < SIGNATURE_CHARS:
        raise InvalidBadge("truncated")
    if len(signature) > SIGNATURE_CHARS or not _BASE32.fullmatch(signature):
        raise InvalidBadge("bad signature encoding")
    raw = base64.b32decode(signature + "=")  # 103 characters + 1 pad = 13 groups of 8
    if _b32(raw) != signature:  # non-zero padding bits in the last character: a second text for one signature
        raise InvalidBadge("bad signature encoding")
    return BadgeClaim(reference, int(version)), raw


def _verify(public_key: Ed25519PublicKey, code: str) -> BadgeClaim:
    claim, signature = parse(code)
    try:
        public_key.verify(signature, signed_message(claim.reference, claim.version))
    except InvalidSignature:
        raise InvalidBadge("bad signature") from None
    return claim


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
