"""Plain ASGI middleware (no BaseHTTPMiddleware: it breaks contextvars and streams)."""

from __future__ import annotations

import json
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send


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
            b"frame-ancestors 'none'; form-action " + form_action.encode() + b"; base-uri 'none'; object-src 'none'",
        ),
        (b"permissions-policy", b"geolocation=(), microphone=()"),
    ]


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool = False, form_targets: tuple[str, ...] = (),
                 wasm_paths: tuple[str, ...] = ()) -> None:
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
        request_id = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for key, value in (self.wasm_headers if scope["path"] in self.wasm_paths else self.headers):
                    if key not in present:
                        headers.append((key, value))
                headers.append((b"x-request-id", request_id.encode()))
                if self.hsts and scope.get("scheme") == "https":
                    headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuse bodies over `max_bytes` with 413 before the app reads them (declared or streamed)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._too_large(send)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge()
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
                await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps(
            {"error": {"code": "payload_too_large", "message": f"The request body is over {self.max_bytes} bytes."}}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass
