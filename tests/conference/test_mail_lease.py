"""The mail sender's lease covers one row at a time: a long batch keeps its rows, and a row another sender took over
after our lease ran out is not sent twice (conference/mail/sender.py `renew_leases`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core.db import Database
from conference.core.models import OutboxEmail
from conference.core.settings import Settings
from conference.mail import mailtext, sender


async def _plain(db: AsyncSession, settings: Settings, row: OutboxEmail) -> EmailMessage:
    message = EmailMessage()
    message["To"], message["Subject"], message["Message-ID"] = row.to_address, "Hello", "<x@local>"
    message.set_content("Hello")
    return message


async def _queue(database: Database, count: int) -> list[str]:
    async with database.transaction() as db:
        rows = [OutboxEmail(kind="plain", to_address=f"d{i}@example.org") for i in range(count)]
        db.add_all(rows)
    return [r.to_address for r in rows]


def _lapse(sending: str) -> sa.Update:
    # The leases of the rows still waiting in the batch ran out (a batch slower than its lease, without waiting in
    # the test); the row being sent keeps its own.
    return (
        sa.update(OutboxEmail)
        .where(col(OutboxEmail.to_address) != sending)
        .values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
    )


async def _statuses(database: Database) -> dict[str, tuple[str, int]]:
    async with database.read() as db:
        rows = (await db.execute(sa.select(OutboxEmail))).scalars()
        return {r.to_address: (r.status, r.attempts) for r in rows}


async def test_a_row_taken_over_by_another_sender_is_not_sent_again(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mailtext, "render", _plain)
    await _queue(database, 3)
    taken: list[OutboxEmail] = []

    class SlowTransport:  # while it sends the first row, our lease runs out and another sender claims the rest
        def __init__(self) -> None:
            self.sent: list[str] = []

        async def send(self, message: Any) -> None:
            self.sent.append(message["To"])
            if len(self.sent) == 1:
                async with database.transaction() as db:
                    await db.execute(_lapse(message["To"]))
                taken.extend(await sender.claim_due(database))

    transport = SlowTransport()
    assert await sender.deliver_due(database, settings, transport) == 1  # type: ignore[arg-type]
    assert len(transport.sent) == 1
    assert len(taken) == 2 and transport.sent[0] not in {r.to_address for r in taken}
    statuses = await _statuses(database)
    assert statuses[transport.sent[0]] == ("sent", 1)
    assert all(statuses[r.to_address] == ("sending", 2) for r in taken)  # the other sender's, untouched by us


async def test_a_batch_longer_than_its_lease_keeps_its_rows(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mailtext, "render", _plain)
    addresses = await _queue(database, 3)

    class SlowTransport:  # each send outlasts the lease, but nobody else claimed the rows
        def __init__(self) -> None:
            self.sent: list[str] = []

        async def send(self, message: Any) -> None:
            self.sent.append(message["To"])
            async with database.transaction() as db:
                await db.execute(_lapse(message["To"]))

    transport = SlowTransport()
    assert await sender.deliver_due(database, settings, transport) == 3  # type: ignore[arg-type]
    assert sorted(transport.sent) == sorted(addresses)
    assert set((await _statuses(database)).values()) == {("sent", 1)}
