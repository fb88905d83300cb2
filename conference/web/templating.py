"""Rendering HTML pages: one Jinja environment for every package's templates, and the CSRF-protected forms.

The environment has the house's formats as filters, registered here once for every page: `{{ pence|money }}`
(`{{ pence|money(currency) }}`), `{{ moment|when }}` (in the time zone of the page's `conference`, or of a
`zone` it passes), `{{ d|day }}`, `{{ moment|clock }}` (09:30), `{{ start|span(end) }}` (Tue 8 Dec 2026,
09:30–10:30), `{{ start|times(end) }}` (09:30–10:30, beside a day shown already), `{{ ticket|gross }}` (its price with VAT), and the labels beside their enums:
`{{ r.status|status_label }}`, `{{ r.payment_method|method_label }}`, `{{ r.sector|sector_label }}`, with the
whole `status_labels` table as a global for lists of them.

Forms carry a CSRF token (a signed double submit: a random cookie, and a hidden field that is the HMAC of it);
`form_values` refuses a post whose token does not match, and one with a control character in any field (422, the
field named; line breaks and tabs pass, for textareas: a single-line field's model refuses them).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, FileSystemLoader, pass_context
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from conference.core import errors, formats, text
from conference.core.models import METHOD_LABELS, SECTOR_LABELS, STATUS_LABELS, Sector
from conference.core.security import CSRF_COOKIE, csrf_token_for, csrf_valid
from conference.payments.checkout import gross_pence
from conference.web.request import settings

_OWN_TEMPLATES = str(Path(__file__).parent.parent / "templates")

templates = Jinja2Templates(directory=_OWN_TEMPLATES)
# The packages built on this one add their template folders (add_template_folder, called by their install()).
template_loader = ChoiceLoader([FileSystemLoader(_OWN_TEMPLATES)])
templates.env.loader = template_loader


def _zone(context: Context) -> ZoneInfo:
    # A page passes its conference, or the zone itself (as `zone`; the sessions pages call theirs `tz`/`local`).
    for name in ("zone", "tz", "local"):
        if isinstance(zone := context.get(name), ZoneInfo):
            return zone
    return formats.conference_zone(context.get("conference"))


@pass_context
def _when(context: Context, value: Any) -> str:
    return formats.when(value, _zone(context))


@pass_context
def _day(context: Context, value: Any) -> str:
    return formats.day(value, _zone(context))


@pass_context
def _clock(context: Context, value: Any) -> str:
    return formats.clock(value, _zone(context))


@pass_context
def _span(context: Context, start: Any, end: Any) -> str:
    return formats.span(start, end, _zone(context))


@pass_context
def _times(context: Context, start: Any, end: Any) -> str:
    return formats.times(start, end, _zone(context))


def _value(member: Any) -> str:
    return str(getattr(member, "value", member))


def _sector_label(sector: Any) -> str:
    try:
        return SECTOR_LABELS[Sector(_value(sector))]
    except (ValueError, KeyError):
        return _value(sector)


templates.env.filters.update(
    money=formats.money,
    when=_when,
    day=_day,
    clock=_clock,
    span=_span,
    times=_times,
    gross=gross_pence,
    status_label=lambda status: STATUS_LABELS.get(_value(status), _value(status)),
    method_label=lambda method: METHOD_LABELS.get(_value(method), _value(method)),
    sector_label=_sector_label,
)
templates.env.globals["status_labels"] = STATUS_LABELS


def add_template_folder(folder: str | Path) -> None:
    """Let pages render templates from `folder` too (idempotent: app factories run more than once in tests)."""
    folder = str(folder)
    if not any(getattr(loader, "searchpath", None) == [folder] for loader in template_loader.loaders):
        template_loader.loaders = [*template_loader.loaders, FileSystemLoader(folder)]


def _csrf_nonce(request: Request) -> tuple[str, bool]:
    nonce = request.cookies.get(CSRF_COOKIE)
    if nonce and 16 <= len(nonce) <= 64:
        return nonce, False
    return secrets.token_urlsafe(24), True


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    nonce, fresh = _csrf_nonce(request)
    context = {**context, "csrf_token": csrf_token_for(str(settings(request).secret_key), nonce)}
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["cache-control"] = "no-store"
    if fresh:
        response.set_cookie(
            CSRF_COOKIE,
            nonce,
            httponly=True,
            samesite="strict",
            secure=settings(request).base_url.startswith("https"),
        )
    return response


class FormRefused(errors.InvalidInput):
    """A form post with a control character in a field: `fields` names them, `values` is the form without them
    (so a page can show the form again as it was typed; `forms.act` does for every console form)."""

    def __init__(self, fields: dict[str, str], values: dict[str, str]) -> None:
        super().__init__(fields=fields)
        self.values = values


async def form_values(request: Request) -> dict[str, str]:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if not csrf_valid(
        str(settings(request).secret_key), request.cookies.get(CSRF_COOKIE), values.get("csrf_token")
    ):
        raise errors.Forbidden("This form has expired. Go back, reload the page and try again.")
    problems: dict[str, str] = {}
    for name, value in form.multi_items():  # every value, so a page reading form.getlist() is covered too
        if text.problem(name) is not None:
            problems.setdefault("form", "This form has a field the page does not have; reload the page.")
        elif isinstance(value, str) and (problem := text.problem(value, multi_line=True)) is not None:
            problems.setdefault(name, problem)
    if problems:
        cleaned = {k: text.without_controls(v) for k, v in values.items() if text.problem(k) is None}
        raise FormRefused(problems, cleaned)
    return values
