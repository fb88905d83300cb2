"""Group commit: registrations that arrive together share a transaction, yet each gets the answer it would have
got alone, in arrival order; a refusal touches nobody else; a batch the database refuses is written again one
by one; nothing is half-written."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from conference.core import errors
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import AuditEntry, OutboxEmail, Registration, Status
from conference.core.schemas import RegistrationCreate
from conference.core.settings import Settings
from conference.group_commit import RegistrationQueue
from conference.registration import Registered, RegistrationRequest
from tests.factories import registration_body
from tests.support import eventually


def request(
    ticket: Any, key: str | None = None, fingerprint: str = "", **overrides: Any
) -> RegistrationRequest:
    return RegistrationRequest(
        RegistrationCreate(**registration_body(ticket, **overrides)), Actor("anonymous"), key, fingerprint
    )


async def together(
    queue: RegistrationQueue, requests: list[RegistrationRequest]
) -> list[Registered | BaseException]:
    """Submit all at once: they are all pending when the writer starts, so they share one transaction."""
    return list(await asyncio.gather(*(queue.register(r) for r in requests), return_exceptions=True))


async def rows(database: Database) -> tuple[list[Any], int, int]:
    async with database.read() as db:
        regs = (
            await db.execute(
                sa.select(Registration.email_key, Registration.status, Registration.number).order_by(
                    Registration.number
                )
            )
        ).all()
        mails = (await db.execute(sa.select(sa.func.count()).select_from(OutboxEmail))).scalar_one()
        audits = (
            await db.execute(
                sa.select(sa.func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "conference.registration.created")
            )
        ).scalar_one()
    return list(regs), mails, audits


async def test_a_batch_fills_the_last_places_in_order_and_waitlists_the_rest(
    database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    queue = RegistrationQueue(database, settings)
    commits: list[object] = []
    sa.event.listen(database.writer.sync_engine, "commit", commits.append)
    results = await together(
        queue, [request(tickets["delegate"], email=f"p{i}@leeds.gov.uk") for i in range(9)]
    )
    assert len(commits) == 1  # nine registrations, one transaction
    assert all(isinstance(r, Registered) for r in results)
    statuses = [r.row["status"] for r in results if isinstance(r, Registered)]
    positions = [r.waitlist_position for r in results if isinstance(r, Registered)]
    assert statuses == [Status.confirmed] * 5 + [Status.waitlisted] * 4  # capacity 5, in arrival order
    assert positions == [None] * 5 + [1, 2, 3, 4]
    regs, mails, audits = await rows(database)
    assert [r.email_key for r in regs] == [
        f"p{i}@leeds.gov.uk" for i in range(9)
    ]  # numbered in arrival order
    assert mails == audits == 9


async def test_refusals_in_a_batch_touch_nobody_else(
    database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    async with database.transaction() as db:  # room for everyone, so only the Press type's own cap can refuse
        await db.execute(sa.text("UPDATE conference SET capacity = 100"))
    queue = RegistrationQueue(database, settings)
    first = await queue.register(request(tickets["delegate"], email="taken@leeds.gov.uk"))
    assert isinstance(first, Registered)
    batch = [
        request(tickets["delegate"], email="a@leeds.gov.uk"),
        request(tickets["delegate"], email="TAKEN@leeds.gov.uk"),  # registered before
        request(tickets["delegate"], email="b@leeds.gov.uk"),
        request(tickets["delegate"], email="b@leeds.gov.uk"),  # twice in the same batch
        request(tickets["speaker"], email="c@leeds.gov.uk"),  # not a public ticket type
        request(tickets["press"], email="p1@bbc.co.uk"),
        request(tickets["press"], email="p2@bbc.co.uk"),
        request(tickets["press"], email="p3@bbc.co.uk"),  # the Press type's cap is 2
    ]
    results = await together(queue, [request(tickets["delegate"], email="opener@leeds.gov.uk"), *batch])
    kinds = [type(r).__name__ for r in results[1:]]
    assert kinds == [
        "Registered",
        "AlreadyRegistered",
        "Registered",
        "AlreadyRegistered",
        "InvalidInput",
        "Registered",
        "Registered",
        "TicketTypeUnavailable",
    ]
    invalid = results[5]
    assert isinstance(invalid, errors.InvalidInput) and "ticket_type_id" in invalid.fields
    regs, mails, audits = await rows(database)
    emails = [r.email_key for r in regs]
    assert sorted(emails) == sorted(
        [
            "taken@leeds.gov.uk",
            "opener@leeds.gov.uk",
            "a@leeds.gov.uk",
            "b@leeds.gov.uk",
            "p1@bbc.co.uk",
            "p2@bbc.co.uk",
        ]
    )
    assert mails == audits == len(emails)  # a refused request left no email and no audit entry behind


async def test_a_retried_request_in_the_same_batch_replays_the_first_answer(
    database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    queue = RegistrationQueue(database, settings)
    body = registration_body(tickets["delegate"], email="retry@leeds.gov.uk")
    same = RegistrationRequest(RegistrationCreate(**body), Actor("anonymous"), "registrations:k1", "fp-1")
    other_body = RegistrationRequest(
        RegistrationCreate(**body), Actor("anonymous"), "registrations:k1", "fp-2"
    )
    results = await together(queue, [request(tickets["delegate"]), same, same, other_body])
    first, again, reused = results[1], results[2], results[3]
    assert isinstance(first, Registered) and isinstance(again, Registered)
    assert again.replayed and again.row["id"] == first.row["id"]
    assert isinstance(reused, errors.IdempotencyKeyReused)
    regs, _, _ = await rows(database)
    assert [r.email_key for r in regs].count("retry@leeds.gov.uk") == 1


async def _fail_inserts_for(database: Database, email_key: str) -> None:
    """Make the database itself refuse one registration (as a constraint or a lost connection would)."""
    async with database.transaction() as db:
        if database.is_sqlite:
            await db.execute(
                sa.text(
                    f"CREATE TRIGGER refuse BEFORE INSERT ON registration WHEN NEW.email_key = '{email_key}' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END"
                )
            )
        else:
            await db.execute(
                sa.text(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"IF NEW.email_key = '{email_key}' THEN RAISE EXCEPTION 'refused by test trigger'; END IF; "
                    "RETURN NEW; END $$"
                )
            )
            await db.execute(
                sa.text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON registration FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )


async def test_a_batch_the_database_refuses_is_written_again_one_by_one(
    database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    await _fail_inserts_for(database, "boom@leeds.gov.uk")
    queue = RegistrationQueue(database, settings)
    emails = ["opener@leeds.gov.uk", "a@leeds.gov.uk", "boom@leeds.gov.uk", "b@leeds.gov.uk"]
    results = await together(queue, [request(tickets["delegate"], email=e) for e in emails])
    assert [isinstance(r, Registered) for r in results] == [True, True, False, True]
    assert isinstance(results[2], sa.exc.DBAPIError)
    regs, mails, audits = await rows(database)
    assert sorted(r.email_key for r in regs) == sorted(e for e in emails if not e.startswith("boom"))
    assert mails == audits == 3  # nothing of the refused one, nothing twice of the others
    numbers = [r.number for r in regs]
    assert numbers == sorted(set(numbers))  # still in arrival order, no number used twice


async def test_a_caller_that_goes_away_still_gets_its_place(
    database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    queue = RegistrationQueue(database, settings)
    opener = asyncio.create_task(queue.register(request(tickets["delegate"])))
    leaver = asyncio.create_task(queue.register(request(tickets["delegate"], email="gone@leeds.gov.uk")))
    await asyncio.sleep(0)
    leaver.cancel()
    assert isinstance(await opener, Registered)
    with pytest.raises(asyncio.CancelledError):
        await leaver

    async def both_written() -> bool:
        regs, _, _ = await rows(database)
        return len(regs) == 2

    await eventually(both_written, what="the batch it joined to be written")  # the batch is still written
    regs, _, _ = await rows(database)
    assert "gone@leeds.gov.uk" in [r.email_key for r in regs]


async def test_a_refusal_after_its_rows_were_written_rolls_them_back(
    database: Database, settings: Settings, tickets: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refusals are meant to come before any row is written; if one ever comes after (here: invoicing fails),
    the batch is rolled back and rewritten one by one, so that request leaves nothing behind."""
    from conference.invoices import invoicing
    from tests.factories import invoice_body

    async def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise errors.DomainError("Invoicing is switched off in this test.")

    monkeypatch.setattr(invoicing, "issue_invoice", refuse)
    invoiced = RegistrationRequest(
        RegistrationCreate(**invoice_body(tickets["exhibitor"], email="inv@leeds.gov.uk")), Actor("anonymous")
    )
    queue = RegistrationQueue(database, settings)
    results = await together(
        queue,
        [
            request(tickets["delegate"], email="a@leeds.gov.uk"),
            invoiced,
            request(tickets["delegate"], email="c@leeds.gov.uk"),
        ],
    )
    assert [type(r).__name__ for r in results] == ["Registered", "DomainError", "Registered"]
    regs, mails, audits = await rows(database)
    assert sorted(r.email_key for r in regs) == ["a@leeds.gov.uk", "c@leeds.gov.uk"]
    assert mails == audits == 2
