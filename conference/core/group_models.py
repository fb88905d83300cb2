"""The tables of group bookings (conference/groups.py): the booking a lead makes for several colleagues, and the lines
of a group's invoice (one per member, each with its own VAT, so a member's credit note carries exactly their line).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from conference.core.models import UTCDateTime, utcnow


class GroupBooking(SQLModel, table=True):
    """A lead booker's booking for several colleagues: each member is a Registration with `group_id` set (own manage
    link, e-ticket and emails); the group has one payment (a card Checkout or one invoice to the organisation)."""

    __tablename__ = "group_booking"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id", index=True)
    reference: str = Field(max_length=16, unique=True)  # "G-" + a short code
    lead_name: str = Field(max_length=120)
    lead_email: str = Field(max_length=254)
    lead_email_key: str = Field(max_length=254, index=True)  # lower-cased
    organisation: str = Field(max_length=200)
    sector: str = Field(max_length=40)
    lead_attends: bool = False  # the lead is one of the members
    payment_method: str = Field(max_length=16)  # none | card | invoice
    # Invoice payers: organisation, contact, email, address, purchase_order, buyer_reference (None: not invoiced).
    billing: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    # The lead's private link, like a member's manage link but its own ("g_" prefix); a reissue bumps the version.
    manage_token_hash: str = Field(max_length=64, unique=True)
    token_version: int = 1
    ticket_type_id: uuid.UUID = Field(foreign_key="ticket_type.id", index=True)
    code_id: uuid.UUID | None = Field(default=None, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    cancelled_at: datetime | None = Field(sa_type=UTCDateTime, nullable=True, default=None)


class InvoiceLine(SQLModel, table=True):
    """One line of a group invoice (a member's place) or of the credit note that cancels that line."""

    __tablename__ = "invoice_line"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    invoice_id: uuid.UUID = Field(foreign_key="invoice.id", index=True)
    registration_id: uuid.UUID = Field(foreign_key="registration.id", index=True)
    position: int = 0
    description: str = Field(max_length=300)
    # The member as named when the line was issued: the document prints the same ever after.
    delegate_name: str = Field(max_length=120)
    delegate_reference: str = Field(default="", max_length=16)
    net_pence: int
    vat_rate_percent: int
    vat_pence: int
    gross_pence: int
    # On an invoice's line: the credit note that cancelled it (None: still charged).
    credited_by_id: uuid.UUID | None = Field(default=None, foreign_key="invoice.id")
