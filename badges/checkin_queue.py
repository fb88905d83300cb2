"""Group commit for scans: the scans that arrive together are judged and written in one transaction.

At opening time twenty doors scan at once, and each scan on its own paid for a whole write transaction (a
connection, BEGIN, and a COMMIT that waits for the disk) around two statements. Here, as registrations do
(conference/group_commit.py), the scans that arrive while one transaction is being written wait in memory and
go into the next one together: one BEGIN and one COMMIT for all of them. Nobody waits longer than one
transaction before theirs starts.

The answers and their guarantees are those of `checkin.scan_in`, scan by scan: one `ok` per delegate and list
(the unique index on admissions decides, whichever worker or batch the racing scans are in), every scan
recorded, a repeated scan id answered from its first record. Inside a batch the scans are written in the
order of their badge's reference, so two workers' batches take the admissions index's entries in the same
order and cannot deadlock on PostgreSQL. A refusal of one scan (an unknown list, a reused scan id) goes to its
caller alone. If the database refuses the batch (the same scan id written a moment ago by another worker, the
database going away), nothing of it was written, and its scans are written again one by one, so that only the
one at fault fails.

A scanner that goes away while waiting doesn't take its scan back: it is recorded with the others, like a scan
whose answer was lost on the way (the device's retry with the same scan id is answered from that record).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from badges import admissions, checkin
from badges.checkin import Scan, ScanResult
from badges.codes import BadgeSigner
from conference.core import errors, metrics
from conference.core.audit import Actor
from conference.core.db import Database

__all__ = ["MAX_BATCH", "CheckinQueue"]

MAX_BATCH = 64  # bounds one transaction's time holding the write lock (well under 0.3 ms per scan here)

Outcome = ScanResult | BaseException
_counted: dict[str, Any] = {}  # checkins_total's series by result, looked up once


def _count(result: str) -> None:
    series = _counted.get(result)
    if series is None:
        series = _counted[result] = metrics.CHECKINS.labels(result)
    series.inc()


def _order_key(scan: Scan) -> str:
    """The badge's reference as far as it can be read without verifying (a valid code starts with it)."""
    return scan.reference.strip().upper() or scan.code.split(".", 1)[0][:16]


class CheckinQueue:
    def __init__(self, database: Database, signer: BadgeSigner, *, max_batch: int = MAX_BATCH) -> None:
        self.database = database
        self._signer = signer
        self._max_batch = max_batch
        self._pending: list[tuple[Scan, Actor, asyncio.Future[ScanResult]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def check_in(self, scan: Scan, *, actor: Actor) -> ScanResult:
        """Answer and record one scan; `scan.list` as the device sent it (resolved in the transaction)."""
        future: asyncio.Future[ScanResult] = asyncio.get_running_loop().create_future()
        self._pending.append((scan, actor, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending(), name="checkin-group-commit")
        return await future

    async def _write_pending(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            outcomes = await self._write([(scan, actor) for scan, actor, _ in batch])
            for (_scan, _actor, future), outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, ScanResult):
                    _count(outcome.result)  # committed, whether or not its caller is still there
                if future.done():  # its caller went away
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    async def _write(self, items: Sequence[tuple[Scan, Actor]]) -> list[Outcome]:
        try:
            return await self._transaction(items)
        except Exception as exc:  # noqa: BLE001  (each scan gets its own answer, even an error)
            if len(items) == 1 and not isinstance(exc, IntegrityError):
                return [exc]
        outcomes: list[Outcome] = []
        for item in items:
            for attempt in (1, 2):
                try:
                    outcomes.extend(await self._transaction([item]))
                    break
                except IntegrityError as exc:
                    # The same scan id written at this moment by another worker: the retry answers as the
                    # first record did (a scan without an id cannot collide: that is a bug, not a race).
                    if attempt == 2 or not item[0].scan_id:
                        outcomes.append(exc)
                        break
                except Exception as exc:  # noqa: BLE001  (handed to that scan alone)
                    outcomes.append(exc)
                    break
        return outcomes

    async def _transaction(self, items: Sequence[tuple[Scan, Actor]]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(items)
        lists: dict[str, str] = {}
        order = sorted(range(len(items)), key=lambda i: _order_key(items[i][0]))
        async with self.database.transaction() as db:
            conn = await db.connection()
            made: dict[int, Scan] = {}
            for i in order:
                scan = items[i][0]
                try:
                    if scan.list not in lists:
                        lists[scan.list] = await checkin.resolve_list(db, scan.list)
                except errors.DomainError as exc:  # refused before it wrote anything
                    outcomes[i] = exc
                    continue
                made[i] = dataclasses.replace(scan, list=lists[scan.list])
            # A scan id recorded before, or twice in this batch: answered one by one, after the others, from
            # its first record (`scan_in`). Everything else in a few statements (badges/admissions.py).
            ids = Counter(s.scan_id for s in made.values() if s.scan_id)
            seen = await admissions.scan_ids_seen(conn, list(ids))
            alone = [
                i for i in made if made[i].scan_id and (made[i].scan_id in seen or ids[made[i].scan_id] > 1)
            ]
            together = [i for i in made if i not in alone]
            if together:
                answers = await admissions.admit_many(
                    conn, self._signer, [(made[i], items[i][1]) for i in together]
                )
                for i, answer in zip(together, answers, strict=True):
                    outcomes[i] = answer
            for i in alone:
                try:
                    outcomes[i] = await checkin.scan_in(db, self._signer, made[i], actor=items[i][1])
                except errors.DomainError as exc:  # refused before it wrote anything (a reused scan id)
                    outcomes[i] = exc
        done = [o for o in outcomes if o is not None]
        assert len(done) == len(items)
        return done
