"""Per-client rate limits for public write endpoints (moving window, in this process's memory).

Each worker counts on its own, so with N workers a client gets at most N times the limit: it is a brake on
scripted abuse, not an exact quota.
"""

from __future__ import annotations

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.requests import Request

from conference.core import errors


class RateLimit:
    def __init__(self, spec: str) -> None:
        self.item: RateLimitItem | None = parse(spec) if spec.strip() else None
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def check(self, request: Request, scope: str) -> None:
        if self.item is None:
            return
        client = request.client.host if request.client else "unknown"
        if not await self.limiter.hit(self.item, scope, client):
            raise errors.RateLimited()
