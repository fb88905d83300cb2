"""Group commit for registrations: those that arrive together are written in one transaction.

Every registration takes the capacity lock (one row, or SQLite's one write lock), so in a rush they queue for
it one at a time, and each pays for its own transaction: a connection, BEGIN, the lock, a count of places,
its rows, and a COMMIT that waits for the disk. Here the registrations that arrive while one transaction is
being written wait in memory and then go into the next transaction together (`register_many`): one lock,
one count and one commit for all of them. Nobody waits longer than one transaction before theirs starts.

Each caller still gets its own answer: a refusal of its own (already registered, full ticket type...) does
not touch the others. If the database refuses the batch (an email registered a moment ago through a path
that doesn't queue here, or the database going away), nothing of it was written, and the registrations are
written again one by one so that only the one at fault fails.

A caller that goes away (client disconnected) while waiting doesn't take its registration back: it is written
with the others and confirmed by email, like a request whose answer was lost on the way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from conference.core import metrics
from conference.core.db import Database
from conference.core.settings import Settings
from conference.registration import Registered, RegistrationRequest, register_many

MAX_BATCH = 64  # bounds one transaction's time holding the lock (about 0.3 ms per registration here)


class RegistrationQueue:
    def __init__(self, database: Database, settings: Settings, *, max_batch: int = MAX_BATCH) -> None:
        self._database = database
        self._settings = settings
        self._max_batch = max_batch
        self._pending: list[tuple[RegistrationRequest, asyncio.Future[Registered]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def register(self, request: RegistrationRequest) -> Registered:
        future: asyncio.Future[Registered] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending(), name="registration-group-commit")
        return await future

    async def _write_pending(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            outcomes = await self._write([request for request, _ in batch])
            # Committed, whether or not their callers are still there; new ones only, not replays or refusals.
            metrics.count_registrations(
                o.row["status"].value for o in outcomes if isinstance(o, Registered) and not o.replayed
            )
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # its caller went away
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    async def _write(self, requests: Sequence[RegistrationRequest]) -> list[Registered | BaseException]:
        try:
            return list(await self._transaction(list(requests)))
        except Exception as exc:  # noqa: BLE001  (each request gets its own answer, even an error)
            if len(requests) == 1:
                return [exc]
        outcomes: list[Registered | BaseException] = []
        for request in requests:
            try:
                outcomes.extend(await self._transaction([request]))
            except Exception as exc:  # noqa: BLE001  (handed to that request alone)
                outcomes.append(exc)
        return outcomes

    async def _transaction(self, requests: list[RegistrationRequest]) -> list[Registered | BaseException]:
        async with self._database.transaction() as db:
            return list(await register_many(db, settings=self._settings, requests=requests))
