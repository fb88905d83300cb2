"""Text from outside (JSON bodies, form posts, query strings) holds no control characters: the one rule, here.

PostgreSQL refuses NUL in text (asyncpg raises, and the request was a 500) where SQLite stores it, so the two
databases differed; other control characters break what the text ends up in (an email's headers, a CSV line, a
badge). So they are refused where text comes in, with a 422 naming the field:

- `Line` (names, titles, emails, references, search terms): no control character at all, no line break;
- `Text` (dietary and access needs, abstracts, addresses, descriptions): tab, line feed and carriage return
  too, nothing else.

Always refused: C0 controls (U+0000-U+001F, NUL first), DEL (U+007F), C1 controls (U+0080-U+009F) and lone
surrogates (a JSON "\\ud800" decodes to one; neither database can store it). Request models use the two types
(`name: Line = Field(max_length=120)`); form posts (`conference.web.templating.form_values`) and query strings
(`conference.web.middleware.QueryText`) use `problem` directly. `one_line` is for text going out: an email's
subject can never carry a line break, whatever is stored.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

_NEVER = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff"  # refused everywhere
# Tab, LF and CR pass in multi-line text; on one line these are refused, and so are U+2028 and U+2029.
_BREAKS = "\t\n\r\u2028\u2029"
_MULTI_LINE = re.compile(f"[{_NEVER}]")
_ONE_LINE = re.compile(f"[{_NEVER}{_BREAKS}]")
_COLLAPSE = re.compile(f"[\\s{_NEVER}]+")

CONTROL = "control_character"  # the validation error's type (errors.from_validation_error shows its message)


def problem(value: str, *, multi_line: bool = False) -> str | None:
    """What is wrong with `value` as text from outside, or None when nothing is."""
    found = (_MULTI_LINE if multi_line else _ONE_LINE).search(value)
    if found is None:
        return None
    char = found.group()
    if char == "\t":
        return "Remove the tab: this field takes one line of text."
    if char in _BREAKS:
        return "Keep this to one line: remove the line break."
    return f"Remove the control character (U+{ord(char):04X}): it cannot be stored."


def _check(multi_line: bool) -> AfterValidator:
    def check(value: str) -> str:
        if (text := problem(value, multi_line=multi_line)) is not None:
            raise PydanticCustomError(CONTROL, text)
        return value

    return AfterValidator(check)


Line = Annotated[str, _check(multi_line=False)]
Text = Annotated[str, _check(multi_line=True)]


def without_controls(value: str) -> str:
    """`value` without what multi-line text may not hold (to show a refused form again as it was typed)."""
    return _MULTI_LINE.sub("", value)


def one_line(value: str) -> str:
    """`value` with every run of whitespace and control characters as one space (for a header or a subject)."""
    return _COLLAPSE.sub(" ", value).strip()
