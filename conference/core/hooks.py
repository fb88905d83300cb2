"""Extension points for the packages built on this one (imports point one way: sessions → conference).

`registration_released` hooks run inside the transaction, under the capacity lock, whenever a registration
stops being confirmed (cancelled, rejected); sessions uses it to give up the delegate's seats.
`registration_details` hooks add fields to a registration's API view (sessions adds the booked `sessions`).
`bearer_tokens` resolve bearer tokens of other kinds by their prefix (sessions: reviewers' and speakers' private
links) from the token's hash to an Actor, or None when no such token exists.
`personal_data` hooks add sections to a delegate's data export (sessions: seats, agenda, choices, stars, talks
proposed), and `registration_erased` hooks remove what a package holds about a registration whose personal data
is being erased (sessions: stars and ranked choices); both run in conference/personal_data.py's transaction.
`dashboard_series` provide named chart series for the organisers' dashboard (sessions: `workshops`, seats booked
against capacity per time slot), from the conference's id and time zone.
`message_segments` are groups of delegates a message can go to, by segment name (sessions: `session`, everyone with
a booked seat in one workshop): a ref resolved to a label, a WHERE clause over Registration, the compose form's
options with their counts.
`checkin_list_titles` name check-in lists other than the door, by their ids (sessions: session titles) for the
attendance export.
`tickets` make a delegate's e-ticket (badges: the signed badge code as a QR, and a one-page PDF): the manage page
shows the QR, and the emails that confirm a place link to the ticket and attach its PDF.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from conference.core.audit import Actor
from conference.core.models import Conference, Registration
from conference.core.settings import Settings

Hook = Callable[[AsyncSession, Settings, Registration], Awaitable[None]]

Details = Callable[[AsyncSession, Registration], Awaitable[dict[str, Any]]]

TokenResolver = Callable[[AsyncSession, str], Awaitable[Actor | None]]

DashboardSeries = Callable[[AsyncSession, int, ZoneInfo], Awaitable[Any]]

ListTitles = Callable[[AsyncSession, set[uuid.UUID]], Awaitable[dict[str, str]]]


@dataclass(frozen=True)
class SegmentOption:
    """One choice in the compose form's list for a segment (a ticket type, a workshop) and how many it reaches."""

    value: str
    label: str
    count: int


@dataclass(frozen=True)
class MessageSegment:
    """A group of delegates that another package knows how to find (conference/broadcasts.py asks it).

    `resolve(db, conference, ref)` gives (label, normalised ref), or raises InvalidInput naming the form field;
    `members(ref)` is the WHERE clause over Registration for a resolved ref (broadcasts adds the conference, that
    the registration holds a place and is not erased); `options(db, conference, holding)` lists the compose form's
    choices, counting the registrations that `holding` (a WHERE clause over Registration) lets through.
    """

    resolve: Callable[[AsyncSession, Conference, str], Awaitable[tuple[str, str]]]
    members: Callable[[str], ColumnElement[bool]]
    options: Callable[[AsyncSession, Conference, ColumnElement[bool]], Awaitable[list[SegmentOption]]]


@dataclass(frozen=True)
class TicketProvider:
    """A delegate's e-ticket, from the package that signs badges. `qr_svg` is the QR as inline SVG markup (built
    from the code alone, no text of the delegate's in it) and `pdf` the ticket as (file name, PDF bytes); both None
    when the registration holds no admitting place. `path` is the ticket page's path for a manage token."""

    qr_svg: Callable[[AsyncSession, Settings, Registration], Awaitable[str | None]]
    pdf: Callable[[AsyncSession, Settings, Registration], Awaitable[tuple[str, bytes] | None]]
    path: Callable[[str], str]


registration_released: list[Hook] = []
registration_details: list[Details] = []
bearer_tokens: dict[str, TokenResolver] = {}
personal_data: list[Details] = []
registration_erased: list[Hook] = []
dashboard_series: dict[str, DashboardSeries] = {}
message_segments: dict[str, MessageSegment] = {}
checkin_list_titles: list[ListTitles] = []
tickets: list[TicketProvider] = []


def on_bearer_token(prefix: str, resolver: TokenResolver) -> None:
    bearer_tokens[prefix] = resolver


def on_registration_released(hook: Hook) -> None:
    if hook not in registration_released:
        registration_released.append(hook)


async def run_registration_released(db: AsyncSession, settings: Settings, registration: Registration) -> None:
    for hook in registration_released:
        await hook(db, settings, registration)


def on_registration_details(hook: Details) -> None:
    if hook not in registration_details:
        registration_details.append(hook)


async def collect_registration_details(db: AsyncSession, registration: Registration) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for hook in registration_details:
        extra.update(await hook(db, registration))
    return extra


def on_personal_data(hook: Details) -> None:
    if hook not in personal_data:
        personal_data.append(hook)


async def collect_personal_data(db: AsyncSession, registration: Registration) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for hook in personal_data:
        extra.update(await hook(db, registration))
    return extra


def on_registration_erased(hook: Hook) -> None:
    if hook not in registration_erased:
        registration_erased.append(hook)


async def run_registration_erased(db: AsyncSession, settings: Settings, registration: Registration) -> None:
    for hook in registration_erased:
        await hook(db, settings, registration)


def on_dashboard_series(name: str, series: DashboardSeries) -> None:
    dashboard_series[name] = series


async def collect_dashboard_series(db: AsyncSession, conference_id: int, zone: ZoneInfo) -> dict[str, Any]:
    """Every provided series by name, in the order they were registered."""
    return {name: await series(db, conference_id, zone) for name, series in dashboard_series.items()}


def on_message_segment(name: str, segment: MessageSegment) -> None:
    message_segments[name] = segment


def on_checkin_list_titles(hook: ListTitles) -> None:
    if hook not in checkin_list_titles:
        checkin_list_titles.append(hook)


async def collect_checkin_list_titles(db: AsyncSession, ids: set[uuid.UUID]) -> dict[str, str]:
    """Titles of the check-in lists with these ids, keyed by the id's text (lists nobody knows are left out)."""
    titles: dict[str, str] = {}
    for hook in checkin_list_titles:
        titles.update(await hook(db, ids))
    return titles


def on_ticket(provider: TicketProvider) -> None:
    """One provider: a second install replaces the first (the app factory may run more than once)."""
    tickets[:] = [provider]


async def ticket_qr(db: AsyncSession, settings: Settings, registration: Registration) -> str | None:
    return await tickets[0].qr_svg(db, settings, registration) if tickets else None


async def ticket_pdf(
    db: AsyncSession, settings: Settings, registration: Registration
) -> tuple[str, bytes] | None:
    return await tickets[0].pdf(db, settings, registration) if tickets else None


def ticket_path(token: str) -> str | None:
    """The ticket page's path for this manage token, or None when no package makes tickets."""
    return tickets[0].path(token) if tickets else None
