"""Card payments with Stripe Checkout: holds that expire, signed webhooks, one idempotent fulfilment, refunds.

The rules (../shared/notes/stripe.md):
- A paid place is held as `pending_payment` until `hold_expires_at`; the Checkout Session expires then too
  (`checkout`).
- Stripe is called outside our transactions (`gateway`); every state change happens in one transaction that
  takes the capacity lock (conference) and then the registration's, so the expiry task, webhooks and the landing
  page can race without selling a place twice.
- `fulfilment.fulfil` re-reads the session from Stripe (the payload may be stale or out of order) and changes
  nothing twice. A payment that lands after its hold was released confirms the place if one is free, and is
  refunded automatically otherwise.
- Refunds are decided inside the transaction (a `refund` row) and sent to Stripe after it, with an idempotency
  key per row (`refunds`), retried by the payment worker (`worker`) until Stripe answers.
"""
