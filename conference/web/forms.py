"""The one way a console form's change is run and answered (post, redirect, get).

`act` reads the CSRF-checked form, runs the change in one write transaction, and answers 303 back to the page it
came from with `?done=<what>` (and any more of that page's own query the change names, as `Done(what, ...)`).
The page turns <what> into a sentence from its own table (`done_message`): a link can name a sentence, never
put words of its own on the page. `act_alone` is the same for a change that opens its own transactions (a long
solver run between them).

A refusal (errors.DomainError) changes nothing and goes to `on_error(exc, values)`, which shows the page again
with the problem and what was typed, and the refusal's status code (a control character in a field, refused by
`form_values`, goes there too, with what was typed less that character); `show_again` makes the usual one. Refusals
that are not the form's fault (not signed in, not allowed, too many requests, the service unavailable) are
raised on to the app's own error pages. The mail sender needs no waking: it wakes when the transaction that
queued mail commits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from conference.core import errors
from conference.core.audit import Actor
from conference.web.request import database
from conference.web.templating import FormRefused, form_values

FLASH = "done"  # the query parameter that names what was done
# Raised on to the app's error pages: signing in, or trying later, is the answer, not correcting the form.
NOT_THE_FORMS_FAULT = (errors.Unauthorised, errors.Forbidden, errors.RateLimited, errors.ServiceUnavailable)


@dataclass(frozen=True)
class Done:
    """What a change did (`what`, a key of the page's sentences), and more of the page's query to go back with."""

    what: str
    query: Mapping[str, str] = field(default_factory=dict)


Action = Callable[[AsyncSession, dict[str, str], Actor], Awaitable[str | Done]]
Change = Callable[[dict[str, str], Actor], Awaitable[str | Done]]
OnError = Callable[[errors.DomainError, dict[str, str]], Awaitable[Response]]


class FormPage(Protocol):
    """A page that can show its form again with problems by field and what was typed."""

    def __call__(
        self, request: Request, *, problems: dict[str, str], values: dict[str, str], status_code: int
    ) -> Awaitable[Response]: ...


async def act(
    request: Request, action: Action, *, actor: Actor, back: str | URL, on_error: OnError
) -> Response:
    """Run `action(db, values, actor)` in one write transaction; then 303 to `back` with `?done=<what>`."""

    async def in_transaction(values: dict[str, str], actor: Actor) -> str | Done:
        async with database(request).transaction() as db:
            return await action(db, values, actor)

    return await act_alone(request, in_transaction, actor=actor, back=back, on_error=on_error)


async def act_alone(
    request: Request, change: Change, *, actor: Actor, back: str | URL, on_error: OnError
) -> Response:
    """`act` for a change that opens its own transactions: `change(values, actor)`."""
    try:
        values = await form_values(request)
    except FormRefused as exc:  # a control character in a field: the page again, saying which
        return await on_error(exc, exc.values)
    try:
        done = await change(values, actor)
    except NOT_THE_FORMS_FAULT:
        raise
    except errors.DomainError as exc:
        return await on_error(exc, values)
    return done_redirect(back, done)


def done_redirect(back: str | URL, done: str | Done) -> RedirectResponse:
    """303 to `back` with `?done=<what>` (and the Done's query)."""
    if isinstance(done, str):
        done = Done(done)
    url = URL(str(back)).include_query_params(**{FLASH: done.what, **done.query})
    return RedirectResponse(str(url), 303)


def done_message(request: Request, sentences: Mapping[str, str]) -> str:
    """The sentence for the `done` in the page's query ("" when there is none, or none by that name). A
    sentence may say "{count}": the `count` in the query, a whole number."""
    sentence = sentences.get(request.query_params.get(FLASH, ""), "")
    if "{count}" in sentence:
        raw = request.query_params.get("count", "")
        sentence = sentence.format(count=int(raw) if raw.isdigit() and len(raw) < 10 else 0)
    return sentence


def field_problems(exc: errors.DomainError) -> dict[str, str]:
    """A refusal as problems by field: a validation error names each field's problem; another refusal's own
    sentence says more than a field note, so it stands beside each field it names (or the form as a whole)."""
    problems = dict(exc.fields or {"form": exc.message})
    if not isinstance(exc, errors.InvalidInput):
        problems = {name: exc.message for name in problems}
    return problems


def show_again(request: Request, page: FormPage) -> OnError:
    """The usual on_error: `page` again with the refusal's problems by field, what was typed, and its status."""

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        return await page(request, problems=field_problems(exc), values=values, status_code=exc.status_code)

    return on_error
