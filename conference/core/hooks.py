"""Extension points for the packages built on this one (imports point one way: sessions → conference).

`registration_released` hooks run inside the transaction, under the capacity lock, whenever a registration
stops being confirmed (cancelled, rejected); sessions uses it to give up the delegate's seats.
`registration_details` hooks add fields to a registration's API view (sessions adds the booked `sessions`).
`bearer_tokens` resolve bearer tokens of other kinds by their prefix (sessions: reviewers' and speakers' private
links) from the token's hash to an Actor, or None when no such token exists.
`personal_data` hooks add sections to a delegate's data export (sessions: seats, agenda, choices, stars, talks
proposed), and `registration_erased` hooks remove what a package holds about a registration whose personal data
is being erased (sessions: stars and ranked choices); both run in conference/personal_data.py's transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from conference.core.audit import Actor
from conference.core.models import Registration
from conference.core.settings import Settings

Hook = Callable[[AsyncSession, Settings, Registration], Awaitable[None]]

Details = Callable[[AsyncSession, Registration], Awaitable[dict[str, Any]]]

TokenResolver = Callable[[AsyncSession, str], Awaitable[Actor | None]]

registration_released: list[Hook] = []
registration_details: list[Details] = []
bearer_tokens: dict[str, TokenResolver] = {}
personal_data: list[Details] = []
registration_erased: list[Hook] = []


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
