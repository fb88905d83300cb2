"""Structured logs: every record is one JSON object on one line, with the request id of the request it belongs to.

`conference serve` hands `log_config()` to uvicorn, so uvicorn's own loggers and ours go through the same
formatter. Fields: `time` (UTC, ISO 8601), `level`, `logger`, `message`, `request_id` (null outside a
request), plus whatever a call passes in `extra=` (the request log's method, route, status, duration_ms).

Personal data never belongs in a log record (CONVENTIONS.md). Two guards make a slip less likely to leak:
an exception is written as its class and the code locations of its traceback, never its text (database and
SMTP errors can quote an email address or a name), and `extra` keys that name personal fields are dropped.
Stripe object ids (a Checkout Session id opens the delegate's payment-return page) are masked in every message,
and the stripe SDK's and httpx's loggers, which log request URLs at INFO, only pass warnings.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# Set by conference.middleware.RequestContext for the length of one request.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
# uvicorn adds a coloured copy of its message; personal fields must never be logged even if passed by mistake.
_DROPPED = frozenset({"color_message", "email", "to", "to_address", "password", "token", "authorization"})
# Stripe ids of sessions, payments, charges, refunds and events: `cs_test_a1B2…` becomes `cs_test_…`.
_STRIPE_ID = re.compile(r"\b(cs|pi|ch|re|evt|pm|py)_((?:test|live)_)?[A-Za-z0-9]{6,}")
# Third-party loggers that write request URLs (so Stripe ids) at INFO and DEBUG.
SDK_LOGGERS = ("stripe", "httpx", "httpcore")


def mask_stripe_ids(text: str) -> str:
    return _STRIPE_ID.sub(lambda m: f"{m.group(1)}_{m.group(2) or ''}…", text)


class _MaskStripeIds(logging.Filter):
    """On the SDK loggers: whatever still passes (a warning) has its Stripe ids masked before any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = mask_stripe_ids(record.getMessage()), None
        return True


def quiet_sdk_loggers() -> None:
    """The stripe SDK and httpx pass warnings only, Stripe ids masked (idempotent; called where Stripe is set up,
    so it holds whoever configured logging)."""
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
        if not any(isinstance(f, _MaskStripeIds) for f in logger.filters):
            logger.addFilter(_MaskStripeIds())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_stripe_ids(record.getMessage()),
            "request_id": request_id.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _DROPPED and key not in entry:
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _exc, tb = record.exc_info
            entry["exception"] = {
                "type": f"{exc_type.__module__}.{exc_type.__qualname__}",
                # Where it happened, not what it said: the text of an exception can quote personal data.
                "at": [
                    f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in traceback.extract_tb(tb)
                ][-12:],
            }
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


def log_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` dict (uvicorn's `log_config`): every logger's records as JSON on stderr.

    uvicorn's access log stays off unless `conference serve --access-log` (uvicorn's own `access_log` switch):
    it writes raw paths, which hold private links, and client addresses; the request log replaces it.
    """
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
        },
        "root": {"handlers": ["stderr"], "level": level},
        # uvicorn's loggers keep no handlers of their own: their records go up to the root's.
        "loggers": {
            **{
                name: {"handlers": [], "level": level, "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # They log every request's URL (Checkout Session ids) at INFO: warnings only.
            **{name: {"handlers": [], "level": "WARNING", "propagate": True} for name in SDK_LOGGERS},
        },
    }
