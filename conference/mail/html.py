"""The HTML part of every email, made from its plain-text part: the same words, so the two never disagree.

Every piece of text is escaped (a delegate's name, an organiser's message, a title: anything may hold markup);
links become links; paragraphs are the text's blank-line-separated blocks and its "- " lines become lists.
Styles are inline (mail clients drop <style> blocks) and the layout is one column at most 600 px wide, so it reads
on a phone without zooming or scrolling sideways; long links wrap instead of widening the page.
"""

from __future__ import annotations

import re
from html import escape

_LINK = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}'\""

_BODY = (
    "margin:0;padding:0;background:#f3f2f1;color:#0b0c0c;"
    "font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5"
)
_BOX = "max-width:600px;margin:0 auto;padding:16px;background:#ffffff"
_HEADING = "margin:0 0 16px;padding:0 0 8px;font-size:20px;line-height:1.3;border-bottom:4px solid #1d70b8"
_P = "margin:0 0 16px"
_UL = "margin:0 0 16px;padding-left:20px"
_A = "color:#1d70b8;text-decoration:underline;word-break:break-all;overflow-wrap:anywhere"


def _inline(text: str) -> str:
    """One line: escaped, with its http(s) links made links (a sentence's closing punctuation left outside)."""
    out, at = [], 0
    for match in _LINK.finditer(text):
        link = match.group(0).rstrip(_TRAILING)
        if not link.split("://", 1)[1]:
            continue
        out.append(escape(text[at : match.start()]))
        out.append(f'<a href="{escape(link, quote=True)}" style="{_A}">{escape(link)}</a>')
        at = match.start() + len(link)
    out.append(escape(text[at:]))
    return "".join(out)


def _block(lines: list[str]) -> str:
    if all(line.startswith("- ") for line in lines):
        items = "".join(f"<li>{_inline(line[2:])}</li>" for line in lines)
        return f'<ul style="{_UL}">{items}</ul>'
    return f'<p style="{_P}">' + "<br>\n".join(_inline(line) for line in lines) + "</p>"


def from_text(text: str, *, heading: str) -> str:
    """A whole HTML document for `text`, under `heading` (the event's name)."""
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip():
            blocks[-1].append(line.rstrip())
        elif blocks[-1]:
            blocks.append([])
    body = "\n".join(_block(lines) for lines in blocks if lines)
    title = escape(heading)
    top = f'<h1 style="{_HEADING}">{title}</h1>\n' if title else ""
    return (
        '<!doctype html>\n<html lang="en-GB">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n</head>\n"
        f'<body style="{_BODY}">\n<div style="{_BOX}">\n'
        f"{top}{body}\n</div>\n</body>\n</html>\n"
    )
