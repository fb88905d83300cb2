"""uvicorn's httptools protocol with two limits it lacks: a time limit and a size limit on a request's head.

Measured on uvicorn 0.54 with httptools (what `uvicorn[standard]` picks): a connection that sends nothing, or
sends its headers one byte at a time, stays open for as long as the client likes, and a 2 MB header is read
in full (`h11_max_incomplete_event_size` applies only to the h11 parser). A few hundred such connections hold
every slot of `--limit-concurrency`: the classic slowloris. Here the request line and headers must arrive
within CONFERENCE_HEADER_TIMEOUT_SECONDS (default 10) of the connection opening or the request's first byte,
else the connection is closed; and a head over CONFERENCE_MAX_HEADER_BYTES (default 16 KiB, h11's own limit)
is answered 431 and closed. Bodies have their own time and size limits (conference/web/middleware.py BodyLimit);
idle keep-alive connections uvicorn's `timeout_keep_alive`.

`conference serve` passes this class as uvicorn's `http` protocol. It overrides only httptools parser callbacks
(on_message_begin, on_url, on_header, on_headers_complete) and the connection's start and end.
"""

from __future__ import annotations

import asyncio
import os

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT_SECONDS = float(os.environ.get("CONFERENCE_HEADER_TIMEOUT_SECONDS", "10"))
MAX_HEADER_BYTES = int(os.environ.get("CONFERENCE_MAX_HEADER_BYTES", str(16 * 1024)))

_MESSAGE = b"The request's headers are too large."
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: " + str(len(_MESSAGE)).encode() + b"\r\n\r\n" + _MESSAGE
)


class _HeadTooLarge(Exception):
    pass


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _head_too_large = False

    # uvicorn's HttpToolsProtocol takes an asyncio.Transport where asyncio's protocol says BaseTransport (and marks
    # its own override the same way).
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._arm()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._head_too_large:
            super().send_400_response(msg)
            return
        self.transport.write(_TOO_LARGE)
        self.transport.close()

    def _count(self, n: int) -> None:
        self._head_bytes += n
        if self._head_bytes > MAX_HEADER_BYTES:
            self._head_too_large = True
            raise _HeadTooLarge()  # httptools stops parsing; uvicorn answers through send_400_response

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(HEADER_TIMEOUT_SECONDS, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm()  # the previous request's answer is still going out: don't cut it; look again later
            return
        self.transport.close()
