"""Issue 16, "Done means": random interleavings of a card booking's news, and the invariants that must hold.

Hypothesis draws, for each example, one delegate's story as a list of steps: the customer pays; Stripe's events
(the session's and its refunds') are delivered in any order, some twice, some late; the delegate cancels; the
hold runs out (the worker releases it, or a release wins the race against the card clearing); the delegate lands
on the return page; the bank moves a refund on (pending → requires_action | succeeded | failed | canceled, a
succeeded one returned as failed); Stripe fails for a few requests (500s, stored under their idempotency keys);
the payment worker ticks. Then everything still outstanding is delivered and settled, with Stripe well again.

Checked after every step: no registration is confirmed unless Stripe says its session is paid, and the webhook
never answers 500. Checked at the end: a paid place is confirmed or refunded in full, never both and never
neither (refunds decided for the whole amount, each in a final state); nothing is refunded that was not paid;
what Stripe holds as refunded is what our succeeded refunds add up to; every refund is final, and each one that
failed or was canceled is on the dashboard, flagged on the registration's console page, and emailed to the
organisers.

Bounded: CONFERENCE_PROPERTY_EXAMPLES examples (25 by default), derandomised so a run is repeatable.
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import stripe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conference import dashboard
from conference.core.db import Database
from conference.core.models import OutboxEmail, Payment, Refund, Registration, Status, TicketType, utcnow
from conference.payments import fulfilment, records
from tests import support
from tests.factories import make_conference
from tests.stripe_fake import FakeStripe

EXAMPLES = int(os.environ.get("CONFERENCE_PROPERTY_EXAMPLES", "25"))
# Weighted by repetition: news arrives more often than a delegate changes their mind.
STEPS = (
    *["pay"] * 3,
    *["deliver"] * 5,
    "again",
    *["tick"] * 2,
    "cancel",
    "expire",
    "release",
    "return_page",
    *["bank"] * 3,
    "stripe_fails",
)
REFUND_MOVES = {
    "pending": ("requires_action", "succeeded", "failed", "canceled"),
    "requires_action": ("pending", "succeeded", "failed", "canceled"),
    "succeeded": ("failed",),
}
FINAL = {"succeeded", "failed", "canceled"}


@pytest.fixture
async def ticket(paid: tuple[httpx.AsyncClient, Any], database: Database) -> uuid.UUID:
    """A priced ticket type with no cap of its own, in a conference that never fills: every example's story is
    its own, whatever the earlier examples left behind. The client is signed in to the console."""
    tickets = await make_conference(database, capacity=100_000)
    async with database.transaction() as db:
        await db.execute(sa.update(TicketType).where(TicketType.id == tickets["exhibitor"]).values(cap=None))
    await support.sign_in(paid[0], await support.organiser_token(database))
    return tickets["exhibitor"]


class Story:
    """One delegate's booking, the events Stripe has sent about it, and what the steps do to it."""

    def __init__(self, client: httpx.AsyncClient, app: Any, database: Database, fake: FakeStripe) -> None:
        self.client, self.app, self.database, self.fake = client, app, database, fake
        self.registration: dict[str, Any] = {}
        self.session_id = ""
        self.seen = len(fake.events)
        self.queue: list[dict[str, Any]] = []  # emitted, not yet delivered (or answered 503: Stripe retries)
        self.delivered: list[dict[str, Any]] = []

    async def start(self, ticket: uuid.UUID) -> None:
        self.registration = await support.register_card(self.client, ticket)
        assert self.registration["checkout_url"], "the Checkout page opened"
        self.session_id = support.checkout_session_id(self.registration["checkout_url"])

    def collect(self) -> None:
        events = self.fake.events
        self.queue.extend(events[self.seen :])
        self.seen = len(events)

    async def deliver(self, index: int) -> None:
        if not self.queue:
            return
        event = self.queue.pop(index % len(self.queue))
        await self._post(event)

    async def again(self, index: int) -> None:
        if self.delivered:
            await self._post(self.delivered[index % len(self.delivered)])

    async def _post(self, event: dict[str, Any]) -> None:
        answer = await support.deliver_stripe_event(self.client, self.fake, event)
        assert answer.status_code in (200, 503), answer.text  # 503: Stripe could not be asked; it retries
        (self.delivered if answer.status_code == 200 else self.queue).append(event)

    async def tick(self) -> None:
        # The worker's next runs, whenever they fall due: backoffs and the re-reading of pending refunds.
        async with self.database.transaction() as db:
            await db.execute(
                sa.update(Refund)
                .where(Refund.registration_id == self.id)
                .values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
        await self.app.state.payments.tick()

    async def expire(self) -> None:
        """The hold runs out and the worker deals with it (closing the page, or finding it paid)."""
        async with self.database.transaction() as db:
            await db.execute(
                sa.update(Registration)
                .where(Registration.id == self.id, Registration.status == Status.pending_payment)
                .values(hold_expires_at=utcnow() - timedelta(seconds=1))
            )
        await self.app.state.payments.tick()

    async def release(self) -> None:
        """A release wins the race against the card clearing (Stripe's clock said expired a moment early)."""
        async with self.database.transaction() as db:
            conference = await records.lock_conference(db)
            registration = await db.get(Registration, self.id)
            assert registration is not None
            if registration.status == Status.pending_payment:
                settings_ = self.app.state.settings
                await fulfilment.release_hold(db, settings_, conference, registration, reason="hold_expired")

    async def cancel(self) -> None:
        answer = await self.client.delete(
            f"/api/v1/registrations/{self.id}", headers=support.bearer(self.registration["manage_token"])
        )
        assert answer.status_code in (200, 409, 503), answer.text

    async def return_page(self) -> None:
        answer = await self.client.get(f"/payment/return?session_id={self.session_id}")
        assert answer.status_code in (200, 404, 503), answer.text

    def pay(self) -> None:
        if self.fake.session(self.session_id)["status"] == "open":
            self.fake.pay(self.session_id)

    def bank(self, choice: int) -> None:
        """The bank moves one of this payment's refunds on, as Stripe allows."""
        intent = self.fake.session(self.session_id)["payment_intent"]
        movable = [
            r for r in self.fake.refunds() if r["payment_intent"] == intent and r["status"] in REFUND_MOVES
        ]
        if intent is None or not movable:
            return
        refund = movable[choice % len(movable)]
        moves = REFUND_MOVES[refund["status"]]
        self.fake.settle_refund(refund["id"], moves[choice % len(moves)])

    @property
    def id(self) -> uuid.UUID:
        return uuid.UUID(self.registration["id"])

    def stripe_says_paid(self) -> bool:
        return bool(self.fake.session(self.session_id)["payment_status"] == "paid")

    async def state(self) -> tuple[Registration, list[Payment], list[Refund]]:
        async with self.database.read() as db:
            registration = await db.get(Registration, self.id)
            assert registration is not None
            payments = await records.payments_of(db, self.id)
            refunds = list(
                (await db.execute(sa.select(Refund).where(Refund.registration_id == self.id))).scalars()
            )
        return registration, payments, refunds

    async def settle_everything(self, final_moves: list[str]) -> None:
        """Stripe is well again; everything outstanding is delivered, sent, decided by the bank and re-read."""
        for round_ in range(40):
            self.collect()
            while self.queue:
                await self.deliver(0)
                self.collect()
            registration, _, refunds = await self.state()
            open_refunds = [r for r in refunds if r.status not in FINAL]
            intent = self.fake.session(self.session_id)["payment_intent"]
            at_stripe = [
                r
                for r in self.fake.refunds()
                if r["payment_intent"] == intent and r["status"] in ("pending", "requires_action")
            ]
            settled = registration.status != Status.pending_payment and not open_refunds and not at_stripe
            if settled and not self.queue:
                return
            for refund in at_stripe:  # the bank decides in the end
                self.fake.settle_refund(refund["id"], final_moves[round_ % len(final_moves)])
            if registration.status == Status.pending_payment:
                await self.expire()
            await self.tick()
        raise AssertionError("the story did not settle")

    async def stripe_well_again(self) -> None:
        """Use up any injected failure nothing asked for yet, so the next story starts with Stripe well."""
        gateway = self.app.state.payments.gateway
        for _ in range(10):
            try:
                await gateway.retrieve(self.session_id)
            except stripe.StripeError:
                continue
            return
        raise AssertionError("Stripe stayed down")


async def check_no_unpaid_confirmation(story: Story) -> None:
    registration, _, _ = await story.state()
    if registration.status == Status.confirmed:
        assert story.stripe_says_paid(), "a registration was confirmed without Stripe saying it was paid"


async def check_the_end(story: Story) -> None:
    registration, payments, refunds = await story.state()
    paid = story.stripe_says_paid()
    confirmed = registration.status == Status.confirmed
    assert all(r.status in FINAL for r in refunds), [(r.status, r.last_error) for r in refunds]
    if not paid:
        assert not confirmed and not refunds
        return
    (payment,) = [p for p in payments if p.status == "paid"]
    decided = sum(r.amount_pence for r in refunds)
    if confirmed:
        assert not refunds, "a confirmed place was also refunded"
    else:
        assert decided == payment.amount_pence, "a paid place was neither confirmed nor refunded in full"
    # What Stripe holds as refunded is what our succeeded refunds add up to.
    intent = story.fake.payment_intent(str(payment.payment_intent_id))
    at_stripe = sum(r["amount"] for r in story.fake.refunds() if r["payment_intent"] == intent["id"])
    returned = sum(
        r["amount"]
        for r in story.fake.refunds()
        if r["payment_intent"] == intent["id"] and r["status"] in ("failed", "canceled")
    )
    ours = sum(r.amount_pence for r in refunds if r.status == "succeeded")
    assert at_stripe - returned == ours
    # Each refund that did not reach the delegate is in front of the organisers.
    failed = [r for r in refunds if r.status in ("failed", "canceled")]
    if failed:
        async with story.database.read() as db:
            alerted = {
                row.context.get("refund_id")
                for row in (
                    await db.execute(sa.select(OutboxEmail).where(OutboxEmail.kind == "refund_failed"))
                ).scalars()
            }
            counted = (await dashboard.dashboard(db))["refunds"]["failed"]
            in_db = (
                await db.execute(
                    sa.select(sa.func.count())
                    .select_from(Refund)
                    .where(Refund.status.in_(("failed", "canceled")))
                )
            ).scalar_one()
        assert {str(r.id) for r in failed} <= alerted
        assert counted == in_db
        page = await story.client.get(f"/console/registrations/{story.id}")
        assert page.status_code == 200 and 'id="refund-failed"' in page.text


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    refunds_start=st.sampled_from(["succeeded", "pending"]),
    steps=st.lists(st.tuples(st.sampled_from(STEPS), st.integers(0, 7)), min_size=6, max_size=30),
    # The turns a story hinges on, put in at drawn places so that most stories take some of them: most
    # customers pay, at some point.
    pays_at=st.one_of(st.none(), st.integers(0, 40), st.integers(0, 40), st.integers(0, 40)),
    turns=st.lists(
        st.tuples(
            st.sampled_from(("pay", "cancel", "release", "bank")), st.integers(0, 7), st.integers(0, 40)
        ),
        max_size=4,
    ),
    final_moves=st.lists(st.sampled_from(["succeeded", "failed", "canceled"]), min_size=1, max_size=3),
)
async def test_any_interleaving_keeps_the_money_and_the_places_straight(
    paid: tuple[httpx.AsyncClient, Any],
    database: Database,
    fake: FakeStripe,
    ticket: uuid.UUID,
    refunds_start: str,
    steps: list[tuple[str, int]],
    final_moves: list[str],
    turns: list[tuple[str, int, int]],
    pays_at: int | None,
) -> None:
    client, app = paid
    if pays_at is not None:
        steps.insert(pays_at % (len(steps) + 1), ("pay", 0))
    for step, n, where in turns:
        steps.insert(where % (len(steps) + 1), (step, n))
    fake.refund_outcome(refunds_start)
    story = Story(client, app, database, fake)
    await story.start(ticket)
    for step, n in steps:
        if step == "pay":
            story.pay()
        elif step == "deliver":
            await story.deliver(n)
        elif step == "again":
            await story.again(n)
        elif step == "tick":
            await story.tick()
        elif step == "cancel":
            await story.cancel()
        elif step == "expire":
            await story.expire()
        elif step == "release":
            await story.release()
        elif step == "return_page":
            await story.return_page()
        elif step == "bank":
            story.bank(n)
        elif step == "stripe_fails":
            fake.fail_next(1 + n % 3, 500)
        story.collect()
        await check_no_unpaid_confirmation(story)
    await story.stripe_well_again()
    await story.settle_everything(final_moves)
    await check_no_unpaid_confirmation(story)
    await check_the_end(story)
