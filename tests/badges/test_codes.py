"""Signed badge codes: the documented format, the keys, and every kind of bad input refused with its reason."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.config import Config

from badges.codes import (
    MAX_CODE_LENGTH,
    BadgeClaim,
    BadgeSigner,
    InvalidBadge,
    generate_signing_key,
    signer_for,
    verify_with,
)
from conference.core.settings import Settings, SettingsError, load_settings

SECRET = "test-secret-key-that-is-long-enough-0123456789"
QR_ALPHANUMERIC = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def settings(**env: str) -> Settings:
    return load_settings(Config(environ={"CONFERENCE_SECRET_KEY": SECRET, **env}))


@pytest.fixture(scope="module")
def signer() -> BadgeSigner:
    return BadgeSigner.from_settings(settings())


@pytest.fixture(scope="module")
def code(signer: BadgeSigner) -> str:
    return signer.code_for("NC-7KQ2MX", 1)


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- the format ------------------------------------------------------------------------------------------------


def test_round_trip(signer: BadgeSigner, code: str) -> None:
    assert signer.verify(code) == BadgeClaim("NC-7KQ2MX", 1)
    assert verify_with(signer.public_key_b64, code) == BadgeClaim("NC-7KQ2MX", 1)
    assert signer.verify(signer.code_for("NC-7KQ2MX", 12)) == BadgeClaim("NC-7KQ2MX", 12)


def test_code_is_qr_alphanumeric_and_short(code: str) -> None:
    assert set(code) <= QR_ALPHANUMERIC
    assert code.startswith("NC-7KQ2MX.1.")
    assert len(code) == len("NC-7KQ2MX.1.") + 103 <= MAX_CODE_LENGTH


def test_the_documented_message_and_encoding(signer: BadgeSigner, code: str) -> None:
    """What the scanner page's JavaScript does: split, base32-decode, verify b"badge:v1:REF:VERSION"."""
    reference, version, signature = code.split(".")
    raw_signature = base64.b32decode(signature + "=")
    public = Ed25519PublicKey.from_public_bytes(b64url_decode(signer.public_key_b64))
    public.verify(raw_signature, f"badge:v1:{reference}:{version}".encode())  # raises if not
    assert len(raw_signature) == 64 and len(b64url_decode(signer.public_key_b64)) == 32
    assert "=" not in signer.public_key_b64 and "=" not in code


def test_longest_code_fits_max_length(signer: BadgeSigner) -> None:
    longest = signer.code_for("ABCDEFGH-1234567", 999_999_999)
    assert len(longest) == MAX_CODE_LENGTH
    assert signer.verify(longest) == BadgeClaim("ABCDEFGH-1234567", 999_999_999)


@pytest.mark.parametrize(
    ("reference", "version"),
    [
        ("nc-7kq2mx", 1),
        ("NC 7KQ2MX", 1),
        ("NC--7KQ2MX", 1),
        ("-NC7KQ2MX", 1),
        ("", 1),
        ("A" * 17, 1),
        ("NC-7KQ2MX", 0),
        ("NC-7KQ2MX", -1),
        ("NC-7KQ2MX", 10**9),
        ("NC-7KQ2MX", True),
    ],
)
def test_code_for_refuses_what_it_could_not_verify(signer: BadgeSigner, reference: str, version: Any) -> None:
    with pytest.raises(ValueError):
        signer.code_for(reference, version)


def test_an_old_version_still_verifies_and_says_which(signer: BadgeSigner) -> None:
    """Replays of a reissued badge are the check-in's to refuse: verify only reports the version."""
    old, new = signer.code_for("NC-7KQ2MX", 1), signer.code_for("NC-7KQ2MX", 2)
    assert signer.verify(old).version == 1
    assert signer.verify(new).version == 2


# --- keys -----------------------------------------------------------------------------------------------------


def test_configured_key_is_the_seed_it_names() -> None:
    seed = bytes(range(32))
    key = base64.urlsafe_b64encode(seed).decode().rstrip("=")
    signer = BadgeSigner.from_settings(settings(CONFERENCE_BADGE_SIGNING_KEY=key))
    expected = (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    assert b64url_decode(signer.public_key_b64) == expected
    # Padded base64url is accepted too.
    assert (
        BadgeSigner.from_settings(settings(CONFERENCE_BADGE_SIGNING_KEY=key + "=")).public_key_b64
        == signer.public_key_b64
    )


def test_derived_key_is_hkdf_of_the_secret_key_and_stable() -> None:
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"conference badge signing key v1"
    ).derive(SECRET.encode())
    expected = BadgeSigner.from_seed(seed).public_key_b64
    assert BadgeSigner.from_settings(settings()).public_key_b64 == expected
    assert BadgeSigner.from_settings(settings()).public_key_b64 == expected  # a restart: the same key
    other = BadgeSigner.from_settings(settings(CONFERENCE_SECRET_KEY="another-secret-key-0123456789-abcdef"))
    assert other.public_key_b64 != expected


def test_a_configured_key_is_independent_of_the_secret_key() -> None:
    key = generate_signing_key()
    assert len(b64url_decode(key)) == 32
    a = BadgeSigner.from_settings(settings(CONFERENCE_BADGE_SIGNING_KEY=key))
    b = BadgeSigner.from_settings(
        settings(
            CONFERENCE_BADGE_SIGNING_KEY=key, CONFERENCE_SECRET_KEY="another-secret-key-0123456789-abcdef"
        )
    )
    assert a.public_key_b64 == b.public_key_b64 != BadgeSigner.from_settings(settings()).public_key_b64


@pytest.mark.parametrize(
    "bad",
    [
        "short",
        base64.urlsafe_b64encode(bytes(31)).decode(),
        base64.urlsafe_b64encode(bytes(33)).decode(),
        "!" * 43,
        "a b" * 15,
    ],
)
def test_a_malformed_configured_key_is_a_settings_error(bad: str) -> None:
    with pytest.raises(SettingsError, match="CONFERENCE_BADGE_SIGNING_KEY"):
        BadgeSigner.from_settings(settings(CONFERENCE_BADGE_SIGNING_KEY=bad))


def test_signer_for_is_made_once_per_settings() -> None:
    s = settings()
    assert signer_for(s) is signer_for(s)


@pytest.mark.parametrize("bad", ["", "not base64 !", base64.urlsafe_b64encode(bytes(31)).decode()])
def test_verify_with_a_malformed_public_key_is_a_value_error(code: str, bad: str) -> None:
    with pytest.raises(ValueError):
        verify_with(bad, code)


# --- bad input --------------------------------------------------------------------------------------------------


def change_one(text: str, at: int) -> str:
    return text[:at] + ("B" if text[at] != "B" else "C") + text[at + 1 :]


BAD: list[tuple[str, Any, str]] = [
    # (case, how to spoil the good code, the reason)
    ("empty", lambda c: "", "empty"),
    ("not text", lambda c: None, "unreadable"),
    ("garbage", lambda c: "HELLO WORLD", "unreadable"),
    ("garbage with symbols", lambda c: '{"ref": 1}', "unreadable"),
    ("a URL", lambda c: "HTTPS://EXAMPLE.COM/X", "unreadable"),
    ("four parts", lambda c: c + ".AB", "unreadable"),
    ("lowercase", lambda c: c.lower(), "lowercase"),
    (
        "one lowercase letter",
        lambda c: c[:20] + c[20].lower() + c[21:] if c[20].isalpha() else "a" + c,
        "lowercase",
    ),
    ("trailing newline", lambda c: c + "\n", "unreadable"),
    ("surrounding spaces", lambda c: " " + c + " ", "bad reference"),
    ("base32 padding", lambda c: c + "=", "unreadable"),
    ("over-long", lambda c: c + "A" * (MAX_CODE_LENGTH - len(c) + 1), "too long"),
    ("megabytes", lambda c: "A" * 5_000_000, "too long"),
    ("truncated by one", lambda c: c[:-1], "truncated"),
    ("truncated by half", lambda c: c[:70], "truncated"),
    ("no signature", lambda c: c.rsplit(".", 1)[0], "truncated"),
    ("empty signature", lambda c: c.rsplit(".", 1)[0] + ".", "truncated"),
    ("signature too long", lambda c: c + "A", "bad signature encoding"),
    ("not base32", lambda c: c[:-5] + "0189" + c[-1], "bad signature encoding"),
    ("non-canonical last character", lambda c: c[:-1] + "B", "bad signature encoding"),
    ("version with a leading zero", lambda c: c.replace(".1.", ".01."), "bad version"),
    ("version zero", lambda c: c.replace(".1.", ".0."), "bad version"),
    ("negative version", lambda c: c.replace(".1.", ".-1."), "bad version"),
    ("letter for a version", lambda c: c.replace(".1.", ".X."), "bad version"),
    ("version too long", lambda c: c.replace(".1.", ".1234567890."), "bad version"),
    ("empty reference", lambda c: c[len("NC-7KQ2MX") :], "bad reference"),
    ("reference with a double hyphen", lambda c: c.replace("NC-", "NC--"), "bad reference"),
    ("reference too long", lambda c: "NC-7KQ2MXABCDEFGH" + c[len("NC-7KQ2MX") :], "bad reference"),
    ("one character of the signature changed", lambda c: change_one(c, 60), "bad signature"),
    ("the reference changed", lambda c: c.replace("NC-7KQ2MX", "NC-7KQ2MY"), "bad signature"),
    ("the version changed", lambda c: c.replace(".1.", ".2."), "bad signature"),
]


@pytest.mark.parametrize(("spoil", "reason"), [(s, r) for _n, s, r in BAD], ids=[n for n, _s, _r in BAD])
def test_bad_codes_are_refused_with_a_reason(signer: BadgeSigner, code: str, spoil: Any, reason: str) -> None:
    bad = spoil(code)
    with pytest.raises(InvalidBadge) as caught:
        signer.verify(bad)
    assert caught.value.reason == reason
    with pytest.raises(InvalidBadge) as caught:
        verify_with(signer.public_key_b64, bad)
    assert caught.value.reason == reason
    assert isinstance(caught.value, ValueError)
    assert "7KQ2MX" not in str(caught.value)  # the message never quotes the code


def test_another_keys_signature_is_refused(signer: BadgeSigner) -> None:
    other = BadgeSigner.from_seed(bytes(32))
    forged = other.code_for("NC-7KQ2MX", 1)
    assert other.verify(forged) == BadgeClaim("NC-7KQ2MX", 1)
    with pytest.raises(InvalidBadge, match="bad signature") as caught:
        signer.verify(forged)
    assert caught.value.reason == "bad signature"


@dataclass
class Work:
    """What the badges package's own code did: the lines it ran, and the built-in functions it called."""

    lines: int = 0
    builtins: list[str] = field(default_factory=list)


LINE_LIMIT = 200  # far more than a refusal takes; far fewer than any pass over a long input


@contextmanager
def work_done_by_badges() -> Iterator[Work]:
    """Counts the work instead of timing it (a busy machine makes any time limit flaky): sys.settrace counts the
    lines the badges package runs, and stops it with an AssertionError past LINE_LIMIT (a Python loop over the
    input); sys.setprofile records the built-ins it calls (a copy, regex, split, decoding of the input)."""
    work = Work()

    def ours(frame: FrameType) -> bool:
        return str(frame.f_globals.get("__name__", "")).startswith("badges.")

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line" and ours(frame):
            work.lines += 1
            if work.lines > LINE_LIMIT:
                raise AssertionError(f"the badges code ran more than {LINE_LIMIT} lines")
        return trace

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call" and ours(frame):
            work.builtins.append(getattr(arg, "__qualname__", repr(arg)))

    tracing, profiling = sys.gettrace(), sys.getprofile()  # a coverage tool's, say: put back afterwards
    sys.setprofile(profile)
    sys.settrace(trace)
    try:
        yield work
    finally:
        sys.settrace(tracing)
        sys.setprofile(profiling)


def test_over_long_input_is_refused_before_any_work(signer: BadgeSigner) -> None:
    huge = "A" * 50_000_000
    with work_done_by_badges() as work, pytest.raises(InvalidBadge, match="too long"):
        signer.verify(huge)
    # Its length was all that was looked at: no built-in that reads the text (str methods, regexes, set
    # membership, base32) was called, and a handful of lines ran, not a pass over 50 million characters.
    assert set(work.builtins) <= {"isinstance", "len"}, work.builtins
    assert work.lines < LINE_LIMIT
