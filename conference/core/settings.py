"""Settings from the environment (then a `.env` file, then the defaults), read once into a frozen object.

Tests build their own `Settings` with `load_settings(Config(environ={...}))` instead of patching the process.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from starlette.config import Config
from starlette.datastructures import Secret

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./conference.db"
_DEV_SECRET = "dev-insecure-secret-key-change-me"


EXAMPLE_BANK_DETAILS = "National Best Practice Conference Ltd, sort code 20-00-00, account 12345678 (example)"


class SettingsError(RuntimeError):
    """A setting is missing or unsafe."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: Secret = field(default_factory=lambda: Secret(_DEV_SECRET))
    base_url: str = "http://127.0.0.1:8000"
    debug: bool = False
    environment: str = "development"
    smtp_url: str | None = None
    mail_from: str = "National Conference <registrations@conference.example>"
    mail_retry_base_seconds: float = 5.0
    mail_max_attempts: int = 12
    # How long a sender owns the emails it claimed; a crashed sender's claims become due again after it. Must be
    # well above the time to send one batch (sender.BATCH), or a slow batch is claimed and sent twice.
    mail_lease_seconds: float = 120.0
    # "N/period" per client address for the public write endpoints; "" switches limiting off.
    rate_limit_registrations: str = "20/minute"
    max_body_bytes: int = 64 * 1024
    # A request body must arrive within this many seconds (a slow trickle holds a worker's memory and a slot).
    body_timeout_seconds: float = 30.0
    # GET /metrics answers only with this bearer token; unset, /metrics is off (404). docs/operations.md.
    metrics_token: Secret | None = None
    sqlite_synchronous: str = "NORMAL"
    db_pool_size: int = 10
    stripe_secret_key: Secret | None = None
    stripe_webhook_secret: Secret | None = None
    stripe_api_base: str | None = None
    # A place bought by card is held this long for the payment: 31 to 1,440 minutes, since the Checkout Session
    # expires with the hold and Stripe accepts 30 minutes to 24 hours (31: a minute's margin for clocks).
    payment_hold_minutes: int = 35
    payment_poll_seconds: float = 15.0  # how often the payment worker expires holds and sends refunds
    # A place approved by the email's domain is held this long for the delegate to follow the link sent to that
    # address (conference/verification.py), then released like an expired card hold.
    email_verify_hours: int = 48
    # Idempotency-Key records (a hash of the whole request body and the first answer) are purged after this long.
    idempotency_retention_days: int = 7
    # Who invoices, and how to pay them (printed on every invoice and credit note). The defaults are examples
    # for the demo; production refuses to start with the example bank details.
    invoice_seller_name: str = "National Best Practice Conference Ltd"
    invoice_seller_address: str = "Suite 4, 21 Park Row\nLeeds\nLS1 5JF"
    invoice_seller_contact: str = "accounts@conference.example"
    invoice_seller_vat_number: str = "GB123456789"
    invoice_bank_details: str = EXAMPLE_BANK_DETAILS
    invoice_terms_days: int = 30
    # The most members one group booking may have (conference/groups.py); CONFERENCE_GROUP_MAX_MEMBERS.
    group_max_members: int = 30
    # The best-practice library's uploaded files (sessions/library/storage.py): the directory they are kept in
    # (every instance must see the same one; back it up with the database) and the largest file a speaker may
    # upload. CONFERENCE_LIBRARY_DIR, CONFERENCE_LIBRARY_MAX_BYTES; docs/operations.md.
    library_dir: str = "./library-files"
    library_max_bytes: int = 20 * 1024 * 1024
    # Ed25519 seed (32 bytes, base64url) that signs badge QR codes; without it one is derived from the secret
    # key, so a single-secret deployment still gets stable badges.
    badge_signing_key: Secret | None = None
    # Test-only: check availability outside the capacity lock, to prove the race tests can see an oversell.
    test_unsafe_no_capacity_lock: bool = False
    test_sleep_after_capacity_check_ms: int = 0

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def uses_development_secret(self) -> bool:
        """No CONFERENCE_SECRET_KEY was given: the public development secret signs links, sessions and badges."""
        return str(self.secret_key) == _DEV_SECRET


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://, sqlite:///) and pick the async driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


def _bounded(config: Config, name: str, default: int, low: int, high: int) -> int:
    """A whole number setting within [low, high]; anything else stops the service from starting."""
    raw = config(name, default=str(default))
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, not {raw!r}.") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, not {value}.")
    return value


PAYMENT_HOLD_MINUTES = (31, 1440)


def _hold_minutes(config: Config) -> int:
    """The card hold, which is also the Checkout Session's life: Stripe refuses one under 30 minutes or over
    24 hours, so anything else would make every card payment fail; refuse to start instead."""
    low, high = PAYMENT_HOLD_MINUTES
    name, raw = "CONFERENCE_PAYMENT_HOLD_MINUTES", config("CONFERENCE_PAYMENT_HOLD_MINUTES", default="35")
    why = (
        f"{name} must be a whole number of minutes from {low} to {high}: the card hold is also the Stripe "
        "Checkout Session's life, which Stripe allows from 30 minutes to 24 hours (31 leaves a minute for "
        "clocks that differ)"
    )
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{why}, not {raw!r}.") from None
    if not low <= value <= high:
        raise SettingsError(f"{why}, not {value}.")
    return value


# An upload is held in memory while its content is checked: 200 MB is far beyond any slide deck.
LIBRARY_MAX_CEILING = 200 * 1024 * 1024


def _library_dir(config: Config) -> str:
    """The library's directory: a path, not blank (blank would store speakers' files in the working directory)."""
    value = config("CONFERENCE_LIBRARY_DIR", default=Settings.library_dir).strip()
    if not value:
        raise SettingsError(
            "CONFERENCE_LIBRARY_DIR is empty: set it to the directory for the library's uploaded files "
            "(default ./library-files)."
        )
    return value


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or a name, as given to --host) is this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # any other name may resolve to an address others can reach


def check_serving(settings: Settings, host: str) -> None:
    """Refuse to serve beyond this machine with the public development secret (CONFERENCE_ENV unset and no
    CONFERENCE_SECRET_KEY): anybody could then forge manage links, session cookies, CSRF tokens and badge codes."""
    if settings.uses_development_secret and not is_loopback(host):
        raise SettingsError(
            f"refusing to serve on {host}: CONFERENCE_SECRET_KEY is not set, so the public development secret "
            "would sign manage links, sessions and badge codes. Set CONFERENCE_SECRET_KEY to a long random value "
            "(python3 -c 'import secrets; print(secrets.token_urlsafe(48))'), or serve on 127.0.0.1."
        )


def load_settings(config: Config | None = None) -> Settings:
    if config is None:
        config = Config(".env" if Path(".env").exists() else None)
    environment = config("CONFERENCE_ENV", default="development")
    secret = config("CONFERENCE_SECRET_KEY", cast=Secret, default=None)
    if secret is None or not str(secret).strip() or str(secret) == _DEV_SECRET:  # blank is missing
        if environment == "production":
            raise SettingsError("CONFERENCE_SECRET_KEY must be set to a long random value in production.")
        secret = Secret(_DEV_SECRET)
    elif environment == "production" and len(str(secret)) < 32:
        raise SettingsError("CONFERENCE_SECRET_KEY must be at least 32 characters in production.")
    bank = config("CONFERENCE_INVOICE_BANK_DETAILS", default=EXAMPLE_BANK_DETAILS)
    if environment == "production" and bank == EXAMPLE_BANK_DETAILS:
        raise SettingsError(
            "CONFERENCE_INVOICE_BANK_DETAILS must be set in production: it is printed on invoices."
        )
    if environment == "production" and not bank.strip():
        raise SettingsError(
            "CONFERENCE_INVOICE_BANK_DETAILS is empty: in production it must say how to pay (it is printed on "
            "every invoice and credit note)."
        )
    stripe_key = config("STRIPE_SECRET_KEY", cast=Secret, default=None)
    webhook_secret = config("STRIPE_WEBHOOK_SECRET", cast=Secret, default=None)
    return Settings(
        database_url=normalise_database_url(config("CONFERENCE_DATABASE_URL", default=DEFAULT_DATABASE_URL)),
        secret_key=secret,
        base_url=config("CONFERENCE_BASE_URL", default="http://127.0.0.1:8000").rstrip("/"),
        debug=config("CONFERENCE_DEBUG", cast=bool, default=False),
        environment=environment,
        smtp_url=config("CONFERENCE_SMTP_URL", default=None) or None,
        mail_from=config("CONFERENCE_MAIL_FROM", default=Settings.mail_from),
        mail_retry_base_seconds=config("CONFERENCE_MAIL_RETRY_SECONDS", cast=float, default=5.0),
        mail_max_attempts=config("CONFERENCE_MAIL_MAX_ATTEMPTS", cast=int, default=12),
        mail_lease_seconds=config("CONFERENCE_MAIL_LEASE_SECONDS", cast=float, default=120.0),
        rate_limit_registrations=config("CONFERENCE_RATE_LIMIT", default="20/minute"),
        max_body_bytes=config("CONFERENCE_MAX_BODY_BYTES", cast=int, default=64 * 1024),
        body_timeout_seconds=config("CONFERENCE_BODY_TIMEOUT_SECONDS", cast=float, default=30.0),
        metrics_token=Secret(token) if (token := config("CONFERENCE_METRICS_TOKEN", default="")) else None,
        sqlite_synchronous=config("CONFERENCE_SQLITE_SYNCHRONOUS", default="NORMAL").upper(),
        db_pool_size=config("CONFERENCE_DB_POOL_SIZE", cast=int, default=10),
        stripe_secret_key=stripe_key,
        stripe_webhook_secret=webhook_secret,
        stripe_api_base=config("STRIPE_API_BASE", default=None) or None,
        payment_hold_minutes=_hold_minutes(config),
        payment_poll_seconds=config("CONFERENCE_PAYMENT_POLL_SECONDS", cast=float, default=15.0),
        email_verify_hours=_bounded(config, "CONFERENCE_EMAIL_VERIFY_HOURS", 48, 1, 720),
        idempotency_retention_days=_bounded(config, "CONFERENCE_IDEMPOTENCY_RETENTION_DAYS", 7, 1, 365),
        invoice_seller_name=config("CONFERENCE_INVOICE_SELLER_NAME", default=Settings.invoice_seller_name),
        invoice_seller_address=config(
            "CONFERENCE_INVOICE_SELLER_ADDRESS", default=Settings.invoice_seller_address
        ).replace("\\n", "\n"),
        invoice_seller_contact=config(
            "CONFERENCE_INVOICE_SELLER_CONTACT", default=Settings.invoice_seller_contact
        ),
        invoice_seller_vat_number=config(
            "CONFERENCE_INVOICE_VAT_NUMBER", default=Settings.invoice_seller_vat_number
        ),
        invoice_bank_details=bank,
        invoice_terms_days=config("CONFERENCE_INVOICE_TERMS_DAYS", cast=int, default=30),
        group_max_members=_bounded(config, "CONFERENCE_GROUP_MAX_MEMBERS", 30, 2, 500),
        library_dir=_library_dir(config),
        library_max_bytes=_bounded(
            config, "CONFERENCE_LIBRARY_MAX_BYTES", 20 * 1024 * 1024, 1024, LIBRARY_MAX_CEILING
        ),
        badge_signing_key=config("CONFERENCE_BADGE_SIGNING_KEY", cast=Secret, default=None),
        test_unsafe_no_capacity_lock=config(
            "CONFERENCE_TEST_UNSAFE_NO_CAPACITY_LOCK", cast=bool, default=False
        ),
        test_sleep_after_capacity_check_ms=config(
            "CONFERENCE_TEST_SLEEP_AFTER_CHECK_MS", cast=int, default=0
        ),
    )
