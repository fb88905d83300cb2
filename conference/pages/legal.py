"""The event's public texts: the privacy notice (`/privacy`, linked from the registration form's consent box) and the
accessibility statement with the venue's access and travel notes (`/accessibility`); both are in every page's footer.

Organisers write them in the console (conference/console/event.py) as plain text: a blank line starts a paragraph.
Until they do, each page says so, with what the system itself does (how long personal data is kept) and whom to ask.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference import places
from conference.web.request import database
from conference.web.templating import render

_BLANK_LINE = re.compile(r"\r?\n[ \t]*\r?\n")


def paragraphs(text: str) -> list[str]:
    """Plain text as paragraphs (split at blank lines; the lines inside one are kept, shown pre-wrapped)."""
    return [p.strip("\r\n") for p in _BLANK_LINE.split(text.strip()) if p.strip()]


async def privacy(request: Request) -> Response:
    async with database(request).read() as db:
        conference = await places.get_conference(db)
    return render(
        request,
        "conference/privacy.html",
        {"conference": conference, "paragraphs": paragraphs(conference.privacy_notice)},
    )


async def accessibility(request: Request) -> Response:
    async with database(request).read() as db:
        conference = await places.get_conference(db)
    return render(
        request,
        "conference/accessibility.html",
        {
            "conference": conference,
            "paragraphs": paragraphs(conference.accessibility_statement),
            "access": paragraphs(conference.accessibility_notes),
            "travel": paragraphs(conference.travel_notes),
        },
    )


routes = [
    Route("/privacy", privacy, methods=["GET"], name="privacy"),
    Route("/accessibility", accessibility, methods=["GET"], name="accessibility"),
]
