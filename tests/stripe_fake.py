"""A small, stateful fake of the Stripe API endpoints we use, served over real HTTP for the real SDK.

Point the SDK at it: ``stripe.StripeClient(fake.api_key, base_addresses={"api": fake.url})``. It models only
Checkout Sessions (create, retrieve with ``expand``, expire), Refunds (create, retrieve), PaymentIntents
(retrieve), idempotency keys, Stripe-shaped errors, and the events those produce. Tests play the customer with
``pay``/``settle_async``/``expire_now`` and deliver the recorded ``events`` themselves, signed with ``sign``.

Where it is strict it follows Stripe's documented rules (see /work/shared/notes/stripe.md). Parameters it does
not model are rejected as unknown, not silently ignored, so the app cannot lean on behaviour nobody checked.
What it enforces, checked against Stripe's OpenAPI description, and what it leaves out: docs/stripe-fake.md.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import html
import json
import re
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import parse_qsl, urlsplit

# The version stripe-python 16.1.0 pins; events carry it the way Stripe stamps the account's version.
API_VERSION = "2026-10-28.endive"
IDEMPOTENCY_KEY_MAX = 255
HOLD_MIN, HOLD_MAX = 30 * 60, 24 * 60 * 60  # Checkout's expires_at window, relative to creation
CLOCK_SLACK = 5  # seconds: the client computes expires_at from its own clock a moment before we check it
METADATA_MAX_KEYS, METADATA_KEY_MAX, METADATA_VALUE_MAX = 50, 40, 500
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
PAY_OUTCOMES = ("paid", "async_pending", "async_ok", "async_fail")
# Stripe's minimum charge in the smallest currency unit (docs.stripe.com/currencies, "Minimum and maximum charge
# amounts"); only the currencies we use are modelled, others are not checked.
MIN_CHARGE = {"gbp": 30, "eur": 50, "usd": 50}
# Payment method types that settle days later: only a session offering one can complete "unpaid". A card payment
# succeeds or fails on the page.
DELAYED_METHODS = frozenset(
    {
        "acss_debit",
        "au_becs_debit",
        "bacs_debit",
        "boleto",
        "customer_balance",
        "konbini",
        "oxxo",
        "sepa_debit",
        "us_bank_account",
    }
)
IDEMPOTENCY_TTL = 24 * 60 * 60  # Stripe prunes keys once they are at least 24 hours old

_ALNUM = string.ascii_letters + string.digits
_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_CURRENCY_RE = re.compile(r"^[a-z]{3}$")
_HTML = "text/html; charset=utf-8"
CANCEL_BUTTON = '<button name="outcome" value="cancel">Cancel</button>'


def _new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header value: HMAC-SHA256 keyed with the whole `whsec_…` string over "t.body"."""
    t = int(time.time()) if timestamp is None else timestamp
    signed = f"{t}.".encode() + payload
    return f"t={t},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def event_body(event: dict[str, Any]) -> bytes:
    """The bytes Stripe would POST for `event` (pretty-printed JSON, as Stripe sends it)."""
    return json.dumps(event, indent=2).encode()


class StripeError(Exception):
    """A Stripe-shaped API error. `replayable` is False for errors raised before the endpoint "began
    executing" (parameter validation): Stripe stores no idempotent result for those, so a corrected retry may
    reuse the key. Errors about the state of objects are stored and replayed like successes."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        replayable: bool = False,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param
        self.replayable = replayable

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
        if self.param:
            error["param"] = self.param
        return {"error": error}


def _invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    return StripeError(400, message, code=code, param=param)


def _missing(param: str) -> StripeError:
    return _invalid(f"Missing required param: {param}.", param, "parameter_missing")


def _idempotency_error(problem: str, key: str) -> StripeError:
    return StripeError(
        400,
        f"{problem} Try using a key other than '{key}' if you meant to execute a different request.",
        type="idempotency_error",
    )


def _no_such(kind: str, object_id: str, param: str, status: int = 404) -> StripeError:
    return StripeError(status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


# --- form decoding ------------------------------------------------------------------------------------------


def parse_form(encoded: str) -> dict[str, Any]:
    """Decode Stripe's bracketed form encoding into nested dicts; `a[]=x` appends to a list.

    Indexed arrays (`line_items[0][quantity]`) stay dicts keyed "0", "1", …: only the endpoint knows whether
    a parameter is an array or a hash whose keys happen to be digits (`metadata[0]=x`); `_array` decides."""
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(encoded, keep_blank_values=True):
        m = _KEY_RE.match(raw_key)
        if not m:
            raise _invalid(f"Invalid parameter name: {raw_key}", raw_key)
        path = [m.group(1), *re.findall(r"\[([^\[\]]*)\]", m.group(2))]
        if "" in path[:-1]:
            raise _invalid(f"Invalid parameter name: {raw_key} ('[]' is only supported last)", raw_key)
        node = root
        for seg in path[:-2] if path[-1] == "" else path[:-1]:
            child = node.setdefault(seg, {})
            if not isinstance(child, dict):
                raise _invalid(f"Invalid parameter: {raw_key} mixes a value and a hash", raw_key)
            node = child
        if path[-1] == "":
            items = node.setdefault(path[-2], [])
            if not isinstance(items, list):
                raise _invalid(f"Invalid parameter: {raw_key} mixes a list and another type", raw_key)
            items.append(value)
        elif path[-1] in node:
            raise _invalid(f"Received duplicate parameter: {raw_key}", raw_key)
        else:
            node[path[-1]] = value
    return root


def _array(value: Any, param: str) -> list[Any]:
    """An array parameter, sent either indexed (`p[0]`, `p[1]`) or appended (`p[]`)."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and all(k.isdigit() for k in value):
        indexes = sorted(int(k) for k in value)
        if indexes != list(range(len(indexes))):
            raise _invalid(f"Invalid array: {param} must be indexed from 0 without gaps", param)
        return [value[str(i)] for i in indexes]
    raise _invalid(f"Invalid array: {param}", param)


def _hash(params: dict[str, Any], key: str, param: str) -> dict[str, Any]:
    value = params.get(key, {})
    if not isinstance(value, dict):
        raise _invalid(f"Invalid object: {param}", param)
    return value


def _reject_unknown(params: dict[str, Any], allowed: set[str], prefix: str = "") -> None:
    for key in params:
        if key not in allowed:
            name = f"{prefix}[{key}]" if prefix else key
            raise _invalid(
                f"Received unknown parameter: {name} (the fake does not model it)", name, "parameter_unknown"
            )


def _string(
    params: dict[str, Any], key: str, param: str, *, required: bool = False, max_len: int | None = None
) -> str | None:
    value = params.get(key)
    if value is None:
        if required:
            raise _missing(param)
        return None
    if not isinstance(value, str):
        raise _invalid(f"Invalid string: {param}", param)
    if required and value == "":
        raise _invalid(
            f"You passed an empty string for '{param}'. We assume empty values are an attempt "
            f"to unset a parameter; however '{param}' cannot be unset.",
            param,
            "parameter_invalid_empty",
        )
    if max_len is not None and len(value) > max_len:
        raise _invalid(f"Invalid string: {param} must be at most {max_len} characters", param)
    return value


def _integer(
    params: dict[str, Any], key: str, param: str, *, required: bool = False, minimum: int | None = None
) -> int | None:
    value = params.get(key)
    if value is None:
        if required:
            raise _missing(param)
        return None
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
        raise _invalid(f"Invalid integer: {value}", param, "parameter_invalid_integer")
    number = int(value)
    if minimum is not None and number < minimum:
        kind = "positive integer" if minimum == 1 else "non-negative integer"
        raise _invalid(
            f"Invalid {kind}: {param} must be at least {minimum}", param, "parameter_invalid_integer"
        )
    return number


def _metadata(params: dict[str, Any], key: str, param: str) -> dict[str, str]:
    value = params.get(key, {})
    if value == "":  # Stripe's "unset" spelling: no metadata
        return {}
    if not isinstance(value, dict):
        raise _invalid(f"Invalid object: {param}", param)
    if len(value) > METADATA_MAX_KEYS:
        raise _invalid(f"Invalid {param}: metadata can have at most {METADATA_MAX_KEYS} keys", param)
    for k, v in value.items():
        name = f"{param}[{k}]"
        if not isinstance(v, str):
            raise _invalid(f"Invalid {name}: metadata values must be strings", name)
        if len(k) > METADATA_KEY_MAX:
            raise _invalid(f"Metadata keys can have up to {METADATA_KEY_MAX} characters: {k!r}", name)
        if len(v) > METADATA_VALUE_MAX:
            raise _invalid(f"Metadata values can have up to {METADATA_VALUE_MAX} characters ({name})", name)
    return dict(value)


def _url(params: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = _string(params, key, key, required=required)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _invalid("Not a valid URL", key, "url_invalid")
    return value


def _expand(params: dict[str, Any], allowed: set[str]) -> list[str]:
    if "expand" not in params:
        return []
    fields = _array(params["expand"], "expand")
    for i, name in enumerate(fields):
        if name not in allowed:
            raise _invalid(f"This property cannot be expanded ({name}) by the fake.", f"expand[{i}]")
    return fields


# --- the fake -----------------------------------------------------------------------------------------------


class Request(NamedTuple):
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None


@dataclass
class _Stored:
    """The first response given under an idempotency key, replayed verbatim."""

    method: str
    path: str
    params: dict[str, Any]
    status: int
    body: dict[str, Any]
    request_id: str
    created: int  # the fake's clock when it was stored: pruned after IDEMPOTENCY_TTL


@dataclass
class _Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class _Ctx:
    request_id: str
    idempotency_key: str | None


_Result = tuple[int, dict[str, Any]]  # (HTTP status, JSON body)
_Endpoint = Callable[..., _Result]  # (params, ctx, *ids from the path) -> _Result


class FakeStripe:
    """The fake Stripe account: state, HTTP server, and test-only controls. All state is guarded by one lock;
    an HTTP request holds it for its whole handling, so concurrent requests are serialized."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        webhook_secret: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_key = api_key or _new_id("sk_test_", 32)
        self.webhook_secret = webhook_secret or _new_id("whsec_", 32)
        # Objects and events carry the mode of the key they were made with, as Stripe's do.
        self.livemode = self.api_key.startswith(("sk_live_", "rk_live_"))
        self._offset = 0.0  # travel()
        self._clock = clock
        self._lock = threading.RLock()
        self._sessions: dict[str, dict[str, Any]] = {}
        self._line_items: dict[str, list[dict[str, Any]]] = {}
        self._pi_metadata: dict[str, dict[str, str]] = {}  # payment_intent_data[metadata], copied on payment
        self._intents: dict[str, dict[str, Any]] = {}
        self._charges: dict[str, dict[str, Any]] = {}
        self._refunds: dict[str, dict[str, Any]] = {}
        self._refund_status = "succeeded"  # what a new refund answers with (`refund_outcome`)
        self._idempotency: dict[str, _Stored] = {}
        self._events: list[dict[str, Any]] = []
        self._requests: list[Request] = []
        self._failures: list[tuple[int, bool]] = []  # (HTTP status, stored under the idempotency key)
        self._disconnects: list[bool] = []  # True: the request ran before its answer was lost
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, re.Pattern[str], _Endpoint]] = [
            ("POST", re.compile(r"/v1/checkout/sessions"), self._create_session),
            ("GET", re.compile(r"/v1/checkout/sessions/([^/]+)"), self._retrieve_session),
            ("POST", re.compile(r"/v1/checkout/sessions/([^/]+)/expire"), self._expire_session),
            ("POST", re.compile(r"/v1/refunds"), self._create_refund),
            ("GET", re.compile(r"/v1/refunds/([^/]+)"), self._retrieve_refund),
            ("GET", re.compile(r"/v1/refunds"), self._list_refunds),
            ("GET", re.compile(r"/v1/payment_intents/([^/]+)"), self._retrieve_intent),
        ]

    # -- lifecycle --

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("FakeStripe is already running")
        server = _Server(("127.0.0.1", 0), _RequestHandler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-stripe", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()  # joins the handler threads (block_on_close)
        thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeStripe is not running; call start()")
        return f"http://127.0.0.1:{self._server.server_port}"

    # -- test-only controls and inspection --

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event emitted so far, oldest first (copies: mutate them freely to forge deliveries)."""
        with self._lock:
            self._sweep()
            return copy.deepcopy(self._events)

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def session(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            self._sweep()
            return copy.deepcopy(self._get_session(session_id))

    def payment_intent(self, intent_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._intents[intent_id])

    def charge(self, charge_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._charges[charge_id])

    def fail_next(self, n: int = 1, status: int = 500, *, stored: bool = True) -> None:
        """The next `n` API requests that get past authentication and idempotency answer a Stripe-shaped error
        with `status` (`api_error` for 5xx). As Stripe does, the answer is stored under the request's
        Idempotency-Key and replayed to every later request under that key, the SDK's own retries included.
        `stored=False` models a failure before the endpoint began executing: a retry under the same key runs."""
        with self._lock:
            self._failures.extend([(status, stored)] * n)

    def disconnect_next(self, n: int = 1, *, after: bool = False) -> None:
        """The next `n` API requests get no answer: the connection closes (the SDK raises APIConnectionError).
        `after=True`: the request ran, and its answer is stored under its key, before the answer was lost."""
        with self._lock:
            self._disconnects.extend([after] * n)

    def travel(self, seconds: float) -> None:
        """Move the fake's clock on: sessions past their `expires_at` expire, idempotency keys age."""
        with self._lock:
            self._offset += seconds
            self._sweep()

    def pay(self, session_id: str, outcome: str = "paid") -> dict[str, Any]:
        """The customer finishes Checkout. Returns the last event emitted:
        paid → `checkout.session.completed` with payment_status "paid";
        async_pending → `checkout.session.completed` with "unpaid" (a delayed method; see `settle_async`);
        async_ok / async_fail → as async_pending, then settled at once (`…async_payment_succeeded|failed`)."""
        if outcome not in PAY_OUTCOMES:
            raise ValueError(f"outcome must be one of {PAY_OUTCOMES}, not {outcome!r}")
        with self._lock:
            self._sweep()  # past its expires_at the page is gone: pay() fails like the customer would
            session = self._get_session(session_id)
            if session["status"] != "open":
                raise ValueError(f"{session_id} is {session['status']}; only open sessions can be paid")
            delayed = sorted(DELAYED_METHODS & set(session["payment_method_types"]))
            if outcome != "paid" and not delayed:
                raise ValueError(
                    f"{session_id} offers only {session['payment_method_types']}: a card payment succeeds or "
                    "fails on the page and never completes asynchronously"
                )
            now = self._now()
            intent_id = _new_id("pi_")
            self._intents[intent_id] = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": session["amount_total"],
                "amount_capturable": 0,
                "amount_received": 0,
                "canceled_at": None,
                "capture_method": "automatic_async",
                "confirmation_method": "automatic",
                "currency": session["currency"],
                "status": "processing",
                "metadata": dict(self._pi_metadata[session_id]),
                "latest_charge": None,
                "created": now,
                "livemode": self.livemode,
                "payment_method_types": ["card"] if outcome == "paid" else delayed[:1],
            }
            session.update(
                status="complete",
                payment_intent=intent_id,
                url=None,
                customer_details={"email": session["customer_email"]},
            )
            if outcome == "paid":
                self._succeed_intent(intent_id)
            session["payment_status"] = "paid" if outcome == "paid" else "unpaid"
            event = self._emit("checkout.session.completed", session)
            if outcome in ("async_ok", "async_fail"):
                event = self._settle(session, outcome == "async_ok")
            return copy.deepcopy(event)

    def settle_async(self, session_id: str, ok: bool) -> dict[str, Any]:
        """A delayed payment (`pay(…, "async_pending")`) succeeds or fails; returns the event."""
        with self._lock:
            return copy.deepcopy(self._settle(self._get_session(session_id), ok))

    def expire_now(self, session_id: str) -> dict[str, Any]:
        """The session reaches its `expires_at` unpaid; returns the `checkout.session.expired` event."""
        with self._lock:
            session = self._get_session(session_id)
            if session["status"] != "open":
                raise ValueError(f"{session_id} is {session['status']}; only open sessions expire")
            return copy.deepcopy(self._expire(session, None))

    # -- internals shared by controls and endpoints (callers hold the lock) --

    def _now(self) -> int:
        return int(self._clock() + self._offset)

    def _sweep(self) -> None:
        """Stripe expires an unpaid session by itself once its `expires_at` has passed (and says so)."""
        now = self._now()
        for session in self._sessions.values():
            if session["status"] == "open" and session["expires_at"] <= now:
                self._expire(session, None)

    def _get_session(self, session_id: str) -> dict[str, Any]:
        try:
            return self._sessions[session_id]
        except KeyError:
            raise KeyError(f"no checkout session {session_id!r} in the fake") from None

    def _succeed_intent(self, intent_id: str) -> None:
        intent = self._intents[intent_id]
        charge_id = _new_id("ch_")
        self._charges[charge_id] = {
            "id": charge_id,
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"],
            "amount_refunded": 0,
            "currency": intent["currency"],
            "payment_intent": intent_id,
            "paid": True,
            "refunded": False,
            "status": "succeeded",
            "metadata": dict(intent["metadata"]),
            "created": self._now(),
            "livemode": self.livemode,
            "billing_details": {"address": None, "email": None, "name": None, "phone": None},
            "captured": True,
            "disputed": False,
        }
        intent.update(status="succeeded", amount_received=intent["amount"], latest_charge=charge_id)

    def _settle(self, session: dict[str, Any], ok: bool) -> dict[str, Any]:
        intent = self._intents.get(session["payment_intent"] or "")
        if session["status"] != "complete" or intent is None or intent["status"] != "processing":
            raise ValueError(f"{session['id']} has no payment awaiting settlement")
        if ok:
            self._succeed_intent(intent["id"])
            session["payment_status"] = "paid"
            return self._emit("checkout.session.async_payment_succeeded", session)
        intent["status"] = "requires_payment_method"  # what a failed delayed payment leaves behind
        return self._emit("checkout.session.async_payment_failed", session)

    def _expire(self, session: dict[str, Any], ctx: _Ctx | None) -> dict[str, Any]:
        session.update(status="expired", url=None)
        return self._emit("checkout.session.expired", session, ctx)

    def _emit(self, type_: str, obj: dict[str, Any], ctx: _Ctx | None = None) -> dict[str, Any]:
        event = {
            "id": _new_id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self._now(),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": self.livemode,
            "pending_webhooks": 1,
            "request": {
                "id": ctx.request_id if ctx else None,
                "idempotency_key": ctx.idempotency_key if ctx else None,
            },
            "type": type_,
        }
        self._events.append(event)
        return event

    # -- HTTP dispatch --

    def _handle(self, method: str, target: str, body: str, headers: dict[str, str]) -> _Response:
        parts = urlsplit(target)
        if parts.path.startswith("/pay/"):
            return self._pay_page(method, parts.path.removeprefix("/pay/"), body)
        request_id = _new_id("req_", 14)
        key = headers.get("idempotency-key")
        with self._lock:
            drop = self._disconnects.pop(0) if self._disconnects else None
            if drop is False:  # cut off before it reached Stripe
                self._requests.append(Request(method, parts.path, {}, key))
                return _Response(0, b"")
            status, payload, extra = self._api(
                method, parts.path, body if method == "POST" else parts.query, headers, request_id, key
            )
        if drop:  # it ran; the answer was lost on the way back
            return _Response(0, b"")
        response_headers = {"Request-Id": request_id, **extra}
        if key is not None and method == "POST":
            response_headers["Idempotency-Key"] = key  # Stripe echoes it; the SDK reads it back
        return _Response(status, json.dumps(payload).encode(), response_headers)

    def _api(
        self, method: str, path: str, encoded: str, headers: dict[str, str], request_id: str, key: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        try:
            params = parse_form(encoded)
        except StripeError as e:
            self._requests.append(Request(method, path, {}, key))
            return e.status, e.body(), {}
        self._requests.append(Request(method, path, params, key))
        self._sweep()
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth.removeprefix("Bearer "):
            # Stripe answers 401 with type invalid_request_error; the SDK maps any 401 to AuthenticationError.
            return (
                401,
                StripeError(
                    401,
                    "You did not provide an API key. You need to provide your API key "
                    "in the Authorization header, using Bearer auth.",
                ).body(),
                {},
            )
        given = auth.removeprefix("Bearer ")
        if not hmac.compare_digest(given, self.api_key):
            return 401, StripeError(401, f"Invalid API Key provided: {given[:8]}****{given[-4:]}").body(), {}

        idempotent = method == "POST" and key is not None
        if idempotent:
            assert key is not None
            if len(key) > IDEMPOTENCY_KEY_MAX:
                return (
                    400,
                    _invalid(
                        f"Idempotency-Key must be at most {IDEMPOTENCY_KEY_MAX} characters (got {len(key)})."
                    ).body(),
                    {},
                )
            stored = self._idempotency.get(key)
            if stored is not None and self._now() - stored.created >= IDEMPOTENCY_TTL:
                del self._idempotency[key]  # pruned: the key starts afresh
                stored = None
            if stored is not None:
                if (stored.method, stored.path) != (method, path):
                    # Stripe scopes keys to the account, so another endpoint under the same key is an error.
                    return (
                        400,
                        _idempotency_error(
                            "Keys for idempotent requests can only be used for the same endpoint they were "
                            f"first used for ('{path}' vs '{stored.path}').",
                            key,
                        ).body(),
                        {},
                    )
                if stored.params != params:
                    return (
                        400,
                        _idempotency_error(
                            "Keys for idempotent requests can only be used with the same parameters they were "
                            "first used with.",
                            key,
                        ).body(),
                        {},
                    )
                return (
                    stored.status,
                    copy.deepcopy(stored.body),
                    {"Idempotent-Replayed": "true", "Original-Request": stored.request_id},
                )

        if self._failures:
            status, keep = self._failures.pop(0)
            kind = {402: "card_error"}.get(status, "api_error" if status >= 500 else "invalid_request_error")
            injected = StripeError(status, "An unknown error occurred (FakeStripe.fail_next).", type=kind)
            if idempotent and keep:
                assert key is not None
                self._idempotency[key] = _Stored(
                    method, path, params, status, injected.body(), request_id, self._now()
                )
            return status, injected.body(), {}

        route = next(
            (
                (endpoint, m)
                for route_method, pattern, endpoint in self._routes
                if route_method == method and (m := pattern.fullmatch(path))
            ),
            None,
        )
        if route is None:
            return (
                404,
                StripeError(
                    404, f"Unrecognized request URL ({method}: {path}).", code="resource_missing"
                ).body(),
                {},
            )
        endpoint, match = route
        ctx = _Ctx(request_id, key if method == "POST" else None)
        try:
            status, payload = endpoint(params, ctx, *match.groups())
            replayable = True
        except StripeError as e:
            status, payload, replayable = e.status, e.body(), e.replayable
        if idempotent and replayable:
            assert key is not None
            self._idempotency[key] = _Stored(
                method, path, params, status, copy.deepcopy(payload), request_id, self._now()
            )
        return status, payload, {}

    # -- endpoints: each returns (status, body) or raises StripeError --

    def _create_session(self, params: dict[str, Any], ctx: _Ctx) -> _Result:
        # API version 2026-09-30.endive removed `payment_method_types` from create (the SDK pins a later one):
        # `allowed_payment_method_types` filters the account's methods, and the session reports the result in
        # its `payment_method_types`. The fake account's Dashboard offers card only.
        if "payment_method_types" in params:
            raise _invalid(
                "Received unknown parameter: payment_method_types (removed in API version 2026-09-30.endive; "
                "use allowed_payment_method_types)",
                "payment_method_types",
                "parameter_unknown",
            )
        _reject_unknown(
            params,
            {
                "mode",
                "success_url",
                "cancel_url",
                "line_items",
                "expires_at",
                "metadata",
                "client_reference_id",
                "customer_email",
                "allowed_payment_method_types",
                "payment_intent_data",
                "expand",
            },
        )
        mode = _string(params, "mode", "mode", required=True)
        if mode != "payment":
            raise _invalid(f"Invalid mode: the fake models only 'payment' (got {mode!r})", "mode")
        success_url = _url(params, "success_url", required=True)
        cancel_url = _url(params, "cancel_url")
        if "line_items" not in params:
            raise _missing("line_items")
        items = _array(params["line_items"], "line_items")
        if not items:
            raise _missing("line_items")
        line_items = [self._line_item(item, f"line_items[{i}]") for i, item in enumerate(items)]
        currencies = {li["currency"] for li in line_items}
        if len(currencies) > 1:
            raise _invalid("All line_items must use the same currency in payment mode.", "line_items")
        now = self._now()
        expires_at = _integer(params, "expires_at", "expires_at")
        if expires_at is not None:
            if expires_at < now + HOLD_MIN - CLOCK_SLACK:
                raise _invalid(
                    "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
                    "expires_at",
                )
            if expires_at > now + HOLD_MAX + CLOCK_SLACK:
                raise _invalid(
                    "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
                    "expires_at",
                )
        metadata = _metadata(params, "metadata", "metadata")
        client_reference_id = _string(params, "client_reference_id", "client_reference_id", max_len=200)
        customer_email = _string(params, "customer_email", "customer_email")
        if customer_email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", customer_email):
            raise _invalid(f"Invalid email address: {customer_email}", "customer_email", "email_invalid")
        method_types = None
        if "allowed_payment_method_types" in params:
            method_types = _array(params["allowed_payment_method_types"], "allowed_payment_method_types")
            if not method_types or not all(isinstance(t, str) and t for t in method_types):
                raise _invalid("Invalid allowed_payment_method_types", "allowed_payment_method_types")
        intent_data = _hash(params, "payment_intent_data", "payment_intent_data")
        _reject_unknown(intent_data, {"metadata"}, "payment_intent_data")
        intent_metadata = _metadata(intent_data, "metadata", "payment_intent_data[metadata]")
        expand = _expand(params, {"line_items", "payment_intent"})

        session_id = _new_id("cs_test_", 58)
        amount = sum(li["amount_total"] for li in line_items)
        currency = next(iter(currencies))
        minimum = MIN_CHARGE.get(currency)
        if minimum is not None and amount < minimum:
            raise _invalid(
                f"The Checkout Session's total amount due must add up to at least {minimum} in the smallest "
                f"{currency} unit; this one is {amount}.",
                "line_items",
                "amount_too_small",
            )
        self._sessions[session_id] = {
            "id": session_id,
            "object": "checkout.session",
            "status": "open",
            "payment_status": "unpaid",
            "mode": "payment",
            "url": f"{self.url}/pay/{session_id}",
            "amount_subtotal": amount,
            "amount_total": amount,
            "currency": currency,
            "client_reference_id": client_reference_id,
            "customer_email": customer_email,
            "customer_details": None,
            "metadata": metadata,
            "expires_at": expires_at if expires_at is not None else now + HOLD_MAX,
            "created": now,
            "payment_intent": None,
            "payment_method_types": method_types or ["card"],
            "livemode": self.livemode,
            "success_url": success_url,
            "cancel_url": cancel_url,
            # Fields Stripe's OpenAPI description marks required (always present), at what a plain session has.
            "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
            "custom_fields": [],
            "custom_text": {
                "after_submit": None,
                "shipping_address": None,
                "submit": None,
                "terms_of_service_acceptance": None,
            },
            "shipping_options": [],
            # Nullable fields are present as null, as Stripe sends them.
            "customer": None,
            "invoice": None,
            "locale": None,
            "payment_link": None,
            "setup_intent": None,
            "subscription": None,
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted_page",
        }
        self._line_items[session_id] = line_items
        self._pi_metadata[session_id] = intent_metadata
        return 200, self._session_view(session_id, expand)

    def _line_item(self, item: Any, param: str) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise _invalid(f"Invalid object: {param}", param)
        _reject_unknown(item, {"price_data", "quantity"}, param)
        if "price_data" not in item:
            raise _missing(f"{param}[price_data]")
        price = _hash(item, "price_data", f"{param}[price_data]")
        _reject_unknown(price, {"currency", "unit_amount", "product_data"}, f"{param}[price_data]")
        currency = _string(price, "currency", f"{param}[price_data][currency]", required=True)
        assert currency is not None
        if not _CURRENCY_RE.fullmatch(currency):
            raise _invalid(
                f"Invalid currency: {currency}. Use a three-letter ISO code in lowercase.",
                f"{param}[price_data][currency]",
            )
        unit_amount = _integer(
            price, "unit_amount", f"{param}[price_data][unit_amount]", required=True, minimum=0
        )
        if "product_data" not in price:
            raise _missing(f"{param}[price_data][product_data]")
        product = _hash(price, "product_data", f"{param}[price_data][product_data]")
        _reject_unknown(product, {"name", "description"}, f"{param}[price_data][product_data]")
        name = _string(product, "name", f"{param}[price_data][product_data][name]", required=True)
        quantity = _integer(item, "quantity", f"{param}[quantity]", required=True, minimum=1)
        assert unit_amount is not None and quantity is not None
        return {
            "id": _new_id("li_"),
            "object": "item",
            "amount_discount": 0,
            "amount_subtotal": unit_amount * quantity,
            "amount_tax": 0,
            "amount_total": unit_amount * quantity,
            "currency": currency,
            "description": name,
            "quantity": quantity,
        }

    def _session_view(self, session_id: str, expand: list[str]) -> dict[str, Any]:
        view = copy.deepcopy(self._sessions[session_id])
        if "line_items" in expand:
            view["line_items"] = {
                "object": "list",
                "data": copy.deepcopy(self._line_items[session_id]),
                "has_more": False,
                "url": f"/v1/checkout/sessions/{session_id}/line_items",
            }
        if "payment_intent" in expand and view["payment_intent"] is not None:
            view["payment_intent"] = copy.deepcopy(self._intents[view["payment_intent"]])
        return view

    def _retrieve_session(self, params: dict[str, Any], ctx: _Ctx, session_id: str) -> _Result:
        _reject_unknown(params, {"expand"})
        expand = _expand(params, {"line_items", "payment_intent"})
        if session_id not in self._sessions:
            raise _no_such("checkout.session", session_id, "session")
        return 200, self._session_view(session_id, expand)

    def _expire_session(self, params: dict[str, Any], ctx: _Ctx, session_id: str) -> _Result:
        _reject_unknown(params, {"expand"})
        expand = _expand(params, {"line_items", "payment_intent"})
        session = self._sessions.get(session_id)
        if session is None:
            raise StripeError(
                404,
                f"No such checkout.session: '{session_id}'",
                code="resource_missing",
                param="session",
                replayable=True,
            )
        if session["status"] != "open":
            raise StripeError(
                400,
                "Only Checkout Sessions with a status of `open` can be expired; this one "
                f"is `{session['status']}`.",
                replayable=True,
            )
        self._expire(session, ctx)
        return 200, self._session_view(session_id, expand)

    # -- refunds (the object as docs.stripe.com/api/refunds/object and stripe-python 16's `Refund` describe it) --

    def _create_refund(self, params: dict[str, Any], ctx: _Ctx) -> _Result:
        _reject_unknown(params, {"payment_intent", "amount", "reason", "metadata", "expand"})
        intent_id = _string(params, "payment_intent", "payment_intent", required=True)
        assert intent_id is not None
        amount = _integer(params, "amount", "amount", minimum=1)
        reason = _string(params, "reason", "reason")
        if reason is not None and reason not in REFUND_REASONS:
            raise _invalid(f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}", "reason")
        metadata = _metadata(params, "metadata", "metadata")
        _expand(params, set())
        intent = self._intents.get(intent_id)
        if intent is None:
            raise _no_such("payment_intent", intent_id, "payment_intent", status=400)
        if intent["status"] != "succeeded":
            raise StripeError(
                400,
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                param="payment_intent",
                replayable=True,
            )
        charge = self._charges[intent["latest_charge"]]
        refund = self._refund_charge(charge, amount, reason, metadata, self._refund_status, ctx)
        return 200, copy.deepcopy(refund)

    def _refund_charge(
        self,
        charge: dict[str, Any],
        amount: int | None,
        reason: str | None,
        metadata: dict[str, str],
        status: str,
        ctx: _Ctx | None,
    ) -> dict[str, Any]:
        # Pending refunds count against the charge at once, as Stripe's amount_refunded does.
        left = charge["amount"] - charge["amount_refunded"]
        if left == 0:
            raise StripeError(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
                replayable=True,
            )
        if amount is None:
            amount = left
        elif amount > left:
            raise StripeError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                param="amount",
                replayable=True,
            )
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        refund_id = _new_id("re_")
        refund: dict[str, Any] = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "balance_transaction": _new_id("txn_"),
            "charge": charge["id"],
            "created": self._now(),
            "currency": charge["currency"],
            "description": None,
            "destination_details": None,
            "failure_balance_transaction": None,
            "failure_reason": None,
            "instructions_email": None,
            "metadata": metadata,
            "next_action": None,
            "payment_intent": charge["payment_intent"],
            "pending_reason": "processing" if status == "pending" else None,
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": status,
            "transfer_reversal": None,
        }
        self._refunds[refund_id] = refund
        self._emit("refund.created", refund, ctx)
        self._emit("charge.refunded", charge, ctx)
        return refund

    def _retrieve_refund(self, params: dict[str, Any], ctx: _Ctx, refund_id: str) -> _Result:
        _reject_unknown(params, {"expand"})
        _expand(params, set())
        if refund_id not in self._refunds:
            raise _no_such("refund", refund_id, "id")
        return 200, copy.deepcopy(self._refunds[refund_id])

    def _list_refunds(self, params: dict[str, Any], ctx: _Ctx) -> _Result:
        _reject_unknown(params, {"payment_intent", "charge", "limit", "expand"})
        intent_id = _string(params, "payment_intent", "payment_intent")
        charge_id = _string(params, "charge", "charge")
        limit = _integer(params, "limit", "limit", minimum=1)
        if limit is not None and limit > 100:
            raise _invalid("Invalid integer: limit must be at most 100", "limit", "parameter_invalid_integer")
        _expand(params, set())
        if intent_id is not None and intent_id not in self._intents:
            raise _no_such("payment_intent", intent_id, "payment_intent", status=400)
        found = [
            r
            for r in self._refunds.values()
            if (intent_id is None or r["payment_intent"] == intent_id)
            and (charge_id is None or r["charge"] == charge_id)
        ]
        found.sort(key=lambda r: r["created"], reverse=True)  # newest first, as Stripe lists
        page = found[: limit or 10]
        return 200, {
            "object": "list",
            "data": copy.deepcopy(page),
            "has_more": len(found) > len(page),
            "url": "/v1/refunds",
        }

    # Test-only controls for refunds (the bank's side, and finance working in Stripe's Dashboard).

    def refund_outcome(self, status: str) -> None:
        """The status new refunds are created with from now on: "succeeded" (the default) or "pending" (then
        `settle_refund` decides), as card refunds can be either."""
        if status not in ("succeeded", "pending"):
            raise ValueError(f"a refund is created succeeded or pending, not {status!r}")
        with self._lock:
            self._refund_status = status

    def refund(self, refund_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._refunds[refund_id])

    def refunds(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._refunds.values()))

    def settle_refund(
        self, refund_id: str, status: str, *, failure_reason: str = "expired_or_canceled_card"
    ) -> list[dict[str, Any]]:
        """The refund moves on as Stripe moves it: pending → requires_action | succeeded | failed | canceled,
        requires_action → pending | succeeded | failed | canceled, and succeeded → failed (a bank returned it).
        Failed and canceled are final; the money goes back to the charge. Returns the events emitted:
        `refund.updated` and `charge.refund.updated`, and `refund.failed` when it failed."""
        allowed = {
            "pending": {"requires_action", "succeeded", "failed", "canceled"},
            "requires_action": {"pending", "succeeded", "failed", "canceled"},
            "succeeded": {"failed"},
        }
        with self._lock:
            refund = self._refunds[refund_id]
            if status not in allowed.get(refund["status"], set()):
                raise ValueError(f"refund {refund_id} cannot go from {refund['status']} to {status}")
            refund["status"] = status
            refund["pending_reason"] = "processing" if status == "pending" else None
            refund["next_action"] = None
            if status in ("failed", "canceled"):
                charge = self._charges[refund["charge"]]
                charge["amount_refunded"] -= refund["amount"]
                charge["refunded"] = False
            if status == "failed":
                refund["failure_reason"] = failure_reason
                refund["failure_balance_transaction"] = _new_id("txn_")
            events = [self._emit("refund.updated", refund), self._emit("charge.refund.updated", refund)]
            if status == "failed":
                events.append(self._emit("refund.failed", refund))
            return copy.deepcopy(events)

    def refund_in_dashboard(self, intent_id: str, amount: int | None = None) -> dict[str, Any]:
        """Someone refunds the payment in Stripe's Dashboard (no metadata of ours); returns the refund."""
        with self._lock:
            charge = self._charges[self._intents[intent_id]["latest_charge"]]
            return copy.deepcopy(
                self._refund_charge(charge, amount, "requested_by_customer", {}, "succeeded", None)
            )

    def _retrieve_intent(self, params: dict[str, Any], ctx: _Ctx, intent_id: str) -> _Result:
        _reject_unknown(params, {"expand"})
        _expand(params, set())
        if intent_id not in self._intents:
            raise _no_such("payment_intent", intent_id, "intent")
        return 200, copy.deepcopy(self._intents[intent_id])

    # -- a stand-in for the hosted payment page, so `session.url` leads somewhere in browser tests --

    def _pay_page(self, method: str, session_id: str, body: str) -> _Response:
        with self._lock:
            self._sweep()
            session = self._sessions.get(session_id)
            if session is None or session["status"] != "open":
                state = "unknown" if session is None else session["status"]
                return _Response(
                    404 if session is None else 410,
                    f"<p>Checkout session is {state}.</p>".encode(),
                    content_type=_HTML,
                )
            if method == "GET":
                amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
                page = (
                    "<!doctype html><title>Fake Stripe Checkout</title>"
                    f'<h1>Pay {html.escape(amount)}</h1><form method="post">'
                    '<button name="outcome" value="paid">Pay</button>'
                    + (CANCEL_BUTTON if session["cancel_url"] else "")
                    + "</form>"
                )
                return _Response(200, page.encode(), content_type=_HTML)
            outcome = dict(parse_qsl(body)).get("outcome", "paid")
            if outcome != "cancel" and outcome not in PAY_OUTCOMES:
                return _Response(
                    400, f"<p>Unknown outcome {html.escape(outcome)}.</p>".encode(), content_type=_HTML
                )
            if outcome == "cancel":
                # Stripe fills in {CHECKOUT_SESSION_ID} in the success_url only; the cancel_url goes as given.
                if not session["cancel_url"]:
                    return _Response(400, b"<p>This page has no way back.</p>", content_type=_HTML)
                target = session["cancel_url"]
            else:
                try:
                    self.pay(session_id, outcome)
                except ValueError as e:
                    return _Response(400, f"<p>{html.escape(str(e))}</p>".encode(), content_type=_HTML)
                target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
            return _Response(303, b"", {"Location": target}, content_type=_HTML)


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # stop() waits for in-flight requests instead of abandoning their threads
    fake: FakeStripe


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    # One request per connection: no idle keep-alive threads for stop() to wait on.
    protocol_version = "HTTP/1.0"
    timeout = 10  # a client that connects and goes quiet cannot hold stop() forever

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        headers = {k.lower(): v for k, v in self.headers.items()}
        response = self.server.fake._handle(method, self.path, body, headers)
        if response.status == 0:  # disconnect_next: close without an answer
            self.close_connection = True
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log lives in FakeStripe.requests; stderr noise would only clutter pytest output
