"""Issue 23: every page, rendered with the demo's data, shows dates the way people write them ("Tue 8 Dec 2026,
09:30"), never an ISO string (2026-12-08, 2026-12-08T09:30) in its visible text. Attributes (a datetime-local
input's value, a <time datetime>) are machine-read and may keep ISO; only the text a reader sees is checked."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from conference.server.app import create_app
from tests import page_walk, support

ISO = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?")
HIDDEN = frozenset({"script", "style", "template", "head"})


class _VisibleText(HTMLParser):
    """The text of a page a reader sees: no script, style or template content, no attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def test_the_visible_text_check_finds_iso_dates() -> None:
    text = visible_text(
        '<p>Paid <time datetime="2026-12-08T09:30">Tue 8 Dec 2026, 09:30</time></p>'
        '<input value="2026-12-08"><p>Made 2026-12-01T10:00:00+00:00</p>'
    )
    assert ISO.findall(text) == ["2026-12-01T10:00:00"]
    assert not ISO.findall(visible_text("<p>Tue 8 Dec 2026, 09:30–10:30</p><script>'2026-12-08'</script>"))


async def test_no_page_shows_an_iso_date(database_url: str) -> None:
    seeded = await page_walk.seed(database_url)
    settings = support.make_settings(database_url)
    paths = page_walk.page_paths(create_app(settings).routes, seeded)
    found: dict[str, list[str]] = {}
    async with support.running_app(database_url) as client:
        for when_signed_in in (False, True):
            if when_signed_in:
                await support.sign_in(client, await _organiser_token(database_url))
            for name, path in paths.items():
                signed_in_page = path.startswith("/console")
                if signed_in_page != when_signed_in:
                    continue
                response = await client.get(path, headers={"accept": "text/html"}, follow_redirects=True)
                assert response.status_code < 500, (name, response.status_code)
                if not response.headers.get("content-type", "").startswith("text/html"):
                    continue
                if hits := ISO.findall(visible_text(response.text)):
                    found[f"{name} ({path})"] = sorted(set(hits))[:5]
    assert not found, "ISO dates in visible text:\n" + "\n".join(f"{k}: {v}" for k, v in found.items())


async def _organiser_token(database_url: str) -> str:
    from conference.core.db import Database

    database = Database.from_settings(support.make_settings(database_url))
    try:
        return await support.organiser_token(database)
    finally:
        await database.dispose()
