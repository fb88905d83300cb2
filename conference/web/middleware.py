"""Plain ASGI middleware (no BaseHTTPMiddleware: it breaks contextvars and streams)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conference.core import errors, logs, metrics, text

request_log = logging.getLogger("conference.request")

# A request id a proxy or client may hand us: short, and nothing that could break a log line or a header.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
UNMATCHED = "unmatched"  # the route label of a path no route matched (never the raw path)
_templates: weakref.WeakKeyDictionary[Any, dict[int, str]] = weakref.WeakKeyDictionary()


def _walk(routes: list[BaseRoute], prefix: str, table: dict[int, str]) -> None:
    for route in routes:
        if isinstance(route, Mount):
            if route.routes:
                _walk(route.routes, prefix + route.path, table)
            else:  # a mounted app (static files): one label for everything under it
                table[id(route)] = prefix + route.path + "/{path}"
        elif isinstance(route, Route):
            table[id(route)] = prefix + route.path


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/manage/{token}`), never the path itself; "unmatched" for none."""
    route = scope.get("route")
    if route is None:
        return UNMATCHED
    app = scope.get("app")
    table = _templates.get(app) if app is not None else None
    if table is None and app is not None:
        table = {}
        _walk(getattr(app, "routes", []), "", table)
        _templates[app] = table
    return (table or {}).get(id(route)) or str(getattr(route, "path", UNMATCHED))


class RequestContext:
    """Request id, request log and HTTP metrics: the outermost of our middleware, so it sees every answer.

    The id comes from a valid incoming X-Request-ID (a proxy's) or is made here; it is in `logs.request_id`
    for every log record made while the request is answered, and goes back as X-Request-ID. One JSON log line
    per request: method, route template, status, duration. Never the query string, body, headers or client
    address (they can carry tokens and personal data).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = logs.request_id.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        metrics.HTTP_IN_PROGRESS.inc()
        failed: BaseException | None = None
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException as exc:
            failed = exc  # answered 500 by Starlette's error middleware, outside this one
            raise
        finally:
            metrics.HTTP_IN_PROGRESS.dec()
            seconds = time.perf_counter() - start
            method, route = scope["method"], route_template(scope)
            metrics.observe_request(method, route, status, seconds)
            if request_log.isEnabledFor(logging.INFO):
                extra: dict[str, Any] = {
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                }
                if failed is not None:
                    extra["error"] = type(failed).__name__
                request_log.info("%s %s %d", method, route, status, extra=extra)
            if failed is None:
                # Left set after a failure, so the error handler's log line (outside) still carries the id;
                # each request runs in its own task under uvicorn, so it goes no further.
                logs.request_id.reset(token)


def security_headers(
    form_targets: tuple[str, ...] = (), script_sources: tuple[str, ...] = ()
) -> list[tuple[bytes, bytes]]:
    # form-action also governs where a form's redirect may go: the registration form and "Pay now" answer with
    # a redirect to Stripe Checkout, so its origin is allowed there (and nowhere else).
    form_action = " ".join(("'self'", *form_targets))
    script_src = " ".join(("'self'", *script_sources))
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        # Manage links carry a token in the path: never leak it to another site.
        (b"referrer-policy", b"no-referrer"),
        (
            b"content-security-policy",
            b"default-src 'self'; img-src 'self' data:; style-src 'self'; "
            b"script-src " + script_src.encode() + b"; "
            b"frame-ancestors 'none'; form-action "
            + form_action.encode()
            + b"; base-uri 'none'; object-src 'none'",
        ),
        (b"permissions-policy", b"geolocation=(), microphone=()"),
    ]


class SecurityHeaders:
    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts: bool = False,
        form_targets: tuple[str, ...] = (),
        wasm_paths: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.hsts = hsts
        self.headers = security_headers(form_targets)
        # Pages that compile WebAssembly (the scanner's QR reader) need 'wasm-unsafe-eval' in script-src. It
        # allows WebAssembly compilation only (not JavaScript eval), and only on these exact paths.
        self.wasm_paths = frozenset(wasm_paths)
        self.wasm_headers = security_headers(form_targets, ("'wasm-unsafe-eval'",))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for key, value in self.wasm_headers if scope["path"] in self.wasm_paths else self.headers:
                    if key not in present:
                        headers.append((key, value))
                if self.hsts and scope.get("scheme") == "https":
                    headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass(frozen=True)
class LargerBody:
    """Paths `prefix` + one path segment + `suffix` (/proposal/{token}/resources) take bodies up to
    `max_bytes`; `message`, when given, is the 413's sentence (how large a file may be, in words)."""

    prefix: str
    suffix: str
    max_bytes: int
    message: str = ""

    def matches(self, path: str) -> bool:
        return (
            path.startswith(self.prefix)
            and path.endswith(self.suffix)
            and len(path) > len(self.prefix) + len(self.suffix)
            and "/" not in path[len(self.prefix) : len(path) - len(self.suffix)]
        )


class BodyLimit:
    """Refuse bodies over `max_bytes` with 413 before the app reads them (declared or streamed), and bodies
    that take over `timeout` seconds to arrive with 408 (a slow trickle otherwise holds the request open for
    as long as the client likes: uvicorn has no body timeout of its own).

    With `refuse`, the 413 is answered as the app answers any refusal (JSON for the API, the error page for a
    browser), saying the limit; without it, JSON."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        timeout: float | None = None,
        larger: Mapping[str, int] | None = None,
        larger_patterns: Sequence[LargerBody] = (),
        refuse: Callable[[Request, errors.DomainError], Response] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        # Paths (exactly) that take larger bodies: a file upload (the group form's spreadsheet).
        self.larger = dict(larger or {})
        # Paths with a token in them that take larger bodies (a speaker's slides). Only POSTs are looked at, and
        # another path fails the prefix at its first characters: a door scan (POST /api/v1/checkins) pays one
        # failed startswith per pattern, a GET nothing.
        self.patterns = tuple(larger_patterns)
        self.refuse = refuse

    def _limit(self, scope: Scope) -> tuple[int, str]:
        path = scope.get("path", "")
        exact = self.larger.get(path)
        if exact is not None:
            return exact, ""
        if self.patterns and scope.get("method") == "POST":
            for pattern in self.patterns:
                if pattern.matches(path):
                    return pattern.max_bytes, pattern.message
        return self.max_bytes, ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes, message = self._limit(scope)
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > max_bytes:
                await self._too_large(scope, receive, send, max_bytes, message)
                return
        received = 0
        started = False
        body_done = False
        deadline = None if self.timeout is None else asyncio.get_running_loop().time() + self.timeout

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done or deadline is None:
                # After the body, receive() waits for the client to go away (streamed answers listen for it).
                message = await receive()
            else:
                try:
                    async with asyncio.timeout_at(deadline):
                        message = await receive()
                except TimeoutError:
                    raise _BodyTimeout() from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _BodyTooLarge()
                body_done = body_done or not message.get("more_body", False)
            else:
                body_done = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._too_large(scope, receive, send, max_bytes, message)
        except _BodyTimeout:
            if not started:
                await _error(
                    send,
                    408,
                    "request_timeout",
                    f"The request body did not arrive within {self.timeout:g} seconds.",
                    close=True,
                )

    async def _too_large(
        self, scope: Scope, receive: Receive, send: Send, max_bytes: int, message: str
    ) -> None:
        message = message or f"The request body is over {max_bytes} bytes."
        if self.refuse is None:
            await _error(send, 413, "payload_too_large", message)
            return
        response = self.refuse(Request(scope, receive), errors.PayloadTooLarge(message))
        response.headers["connection"] = "close"  # the rest of the body may still be on its way
        await response(scope, receive, send)


async def _error(send: Send, status: int, code: str, message: str, *, close: bool = False) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:  # the rest of the body may still be on its way: don't read it as the next request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class QueryText:
    """A query string holds no control characters (conference/core/text.py: one line, none at all), whichever
    endpoint reads it: a parameter with one is refused with a 422 naming it, before the endpoint runs (a search
    term with NUL in it was a 500 on PostgreSQL). A path with one (%00 in a token, an id) is no address of ours:
    404. `refuse` answers as the app answers any refusal (JSON for the API, the error page for a browser)."""

    def __init__(self, app: ASGIApp, *, refuse: Callable[[Request, errors.DomainError], Response]) -> None:
        self.app = app
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and text.problem(scope["path"]) is not None:
            await self.refuse(Request(scope, receive), errors.NotFound())(scope, receive, send)
            return
        if scope["type"] == "http" and scope.get("query_string"):
            problems: dict[str, str] = {}
            # Decoded as the endpoints will read them (request.query_params).
            for name, value in QueryParams(scope["query_string"]).multi_items():
                if text.problem(name) is not None:
                    problems.setdefault("query", "Remove the control character from the address.")
                elif (problem := text.problem(value)) is not None:
                    problems.setdefault(name, problem)
            if problems:
                response = self.refuse(Request(scope, receive), errors.InvalidInput(fields=problems))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


class _BodyTimeout(Exception):
    pass
