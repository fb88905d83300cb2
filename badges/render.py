"""Badges as print-ready A4 sheets, and the badge QR code alone as a PNG: pure rendering, no database.

The QR code: error correction level M (15% of the symbol can be lost: badges get bent, scratched and half
hidden behind lanyard clips, and level M still keeps a 115-character code at version 5, 37×37 modules, where
Q or H would need version 7 or 8 and smaller modules on the same badge), one alphanumeric segment (our codes
use only that set, badges/codes.py), and a FIXED mask pattern. qrcode's default tries all eight masks and
scores each, which is most of its cost (9.4 ms against 1.2-1.4 ms per code, ../shared/notes/limits.md); the
mask only evens out the pattern for old readers, and every decoder reads all eight. The QR is drawn into the
PDF as filled rectangles (vectors: sharp at any print resolution, and ~3x faster than embedding PNGs).

Layouts (`LAYOUTS`):
- "a4-8": 8 business-card badges of 90×55 mm on A4 (2 across, 4 down, centred with 10 mm gutters and a light
  border to cut along): for badge-holder inserts and 2×4 label sheets of that size.
- "a6-4": 4 A6 badges of 105×148 mm on A4 (the page quartered, dashed cut lines), for A6 lanyard pouches.
"""

from __future__ import annotations

import io
import unicodedata
import uuid
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import qrcode  # type: ignore[import-untyped]  # qrcode has no py.typed; types-qrcode is not in the lock
from fpdf import FPDF
from qrcode.constants import ERROR_CORRECT_M  # type: ignore[import-untyped]  # qrcode has no py.typed; types-qrcode is not in the lock
from qrcode.image.pil import PilImage  # type: ignore[import-untyped]  # qrcode has no py.typed; types-qrcode is not in the lock
from qrcode.util import BIT_LIMIT_TABLE, MODE_ALPHA_NUM, QRData  # type: ignore[import-untyped]  # qrcode has no py.typed; types-qrcode is not in the lock

from conference.core import pdf_qr
from conference.core.pdf_fonts import add_body_font

__all__ = [
    "LAYOUTS",
    "QR_BORDER",
    "QR_MASK",
    "BadgeData",
    "Layout",
    "draw_qr",
    "qr_matrix",
    "qr_png",
    "render_badges",
]

QR_MASK = 0  # any fixed mask reads everywhere; see the module docstring for why we do not search
QR_BORDER = 4  # the quiet zone ISO/IEC 18004 asks for, in modules

_PT = 25.4 / 72  # millimetres per point


# What one badge shows.
@dataclass
class BadgeData:
    reference: str
    name: str
    organisation: str
    ticket_type: str
    code: str  # the signed QR text (badges/codes.py)
    registration_id: uuid.UUID | None = None  # not printed: lets the caller mark what it printed
    # Answers the organisers print on badges ("Table number: 12", conference/answers.py), a line each.
    details: list[str] = field(default_factory=list)


# Where badges sit on an A4 sheet (millimetres).
@dataclass(frozen=True)
class Layout:
    name: str
    width: float
    height: float
    columns: int
    rows: int
    left: float
    top: float
    gap_x: float
    gap_y: float

    @property
    def per_page(self) -> int:
        return self.columns * self.rows


LAYOUTS: dict[str, Layout] = {
    "a4-8": Layout("a4-8", 90, 55, 2, 4, left=10, top=23.5, gap_x=10, gap_y=10),
    "a6-4": Layout("a6-4", 105, 148, 2, 2, left=0, top=0, gap_x=0, gap_y=0),
}

# Band colours by what the ticket type's name says (the name is printed on the band too: never colour alone).
# Each is dark enough for white text (contrast of 4.5:1 or more).
_BANDS: list[tuple[tuple[str, ...], tuple[int, int, int]]] = [
    (("speaker", "chair", "panel"), (176, 30, 48)),  # red
    (("organiser", "organizer", "staff", "crew", "volunteer"), (88, 44, 131)),  # purple
    (("press", "media", "journalist"), (0, 84, 150)),  # blue
    (("exhibitor", "sponsor", "partner"), (170, 65, 0)),  # burnt orange
    (("vip", "guest", "minister"), (110, 85, 0)),  # dark gold
    (("delegate", "public", "attendee", "student"), (0, 103, 71)),  # green
]
_DEFAULT_BAND = (55, 65, 81)  # slate


def band_colour(ticket_type: str) -> tuple[int, int, int]:
    words = ticket_type.casefold()
    for keys, colour in _BANDS:
        if any(key in words for key in keys):
            return colour
    return _DEFAULT_BAND


# --- QR ----------------------------------------------------------------------------------------------------


def _version(length: int) -> int | None:
    """The smallest version that holds `length` alphanumeric characters at level M, up to version 9 (where
    the character count takes 9 bits); None beyond, for qrcode to work out. Saves qrcode's trial encoding."""
    bits = 4 + 9 + 11 * (length // 2) + 6 * (length % 2)
    version = bisect_left(BIT_LIMIT_TABLE[ERROR_CORRECT_M], bits, 1)
    return version if version <= 9 else None


def _qr(code: str) -> qrcode.QRCode:
    version = _version(len(code))
    qr = qrcode.QRCode(
        version=version, error_correction=ERROR_CORRECT_M, mask_pattern=QR_MASK, border=QR_BORDER
    )
    # One alphanumeric segment; QRData refuses text outside that set (lowercase, say) with ValueError.
    qr.add_data(QRData(code.encode("ascii"), mode=MODE_ALPHA_NUM))
    qr.make(fit=version is None)
    return qr


def qr_matrix(code: str) -> list[list[bool]]:
    """The symbol's modules, True for dark, without the quiet zone."""
    return [[bool(m) for m in row] for row in _qr(code).modules]


def qr_png(code: str, *, box_size: int = 8) -> bytes:
    """The QR alone, `box_size` pixels per module, with the 4-module quiet zone; a 1-bit PNG."""
    if not 1 <= box_size <= 40:
        raise ValueError("box_size is 1 to 40 pixels per module")
    qr = _qr(code)
    qr.box_size = box_size
    image = qr.make_image(image_factory=PilImage)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def draw_qr(pdf: FPDF, code: str, x: float, y: float, size: float) -> None:
    """Draw the QR as filled rectangles in a `size`×`size` square at (x, y), quiet zone included
    (conference/core/pdf_qr.py: merged runs, one path)."""
    pdf_qr.draw_modules(pdf, _qr(code).modules, x, y, size, border=QR_BORDER)


# --- text --------------------------------------------------------------------------------------------------


class _Fonts:
    def __init__(self, pdf: FPDF) -> None:
        self.pdf = pdf
        self.family, self.unicode = add_body_font(pdf)
        self.ellipsis = "…" if self.unicode else "..."
        self._widths: dict[tuple[str, str], float] = {}

    def text(self, value: str) -> str:
        value = unicodedata.normalize("NFC", " ".join(value.split()))
        return value if self.unicode else value.encode("latin-1", "replace").decode("latin-1")

    def width(self, value: str, style: str, size: float) -> float:
        """Width in mm at `size` points (widths scale linearly, so each string is measured once)."""
        key = (value, style)
        if key not in self._widths:
            self.pdf.set_font(self.family, style, 100)
            self._widths[key] = self.pdf.get_string_width(value)
        return self._widths[key] * size / 100

    def forget(self) -> None:
        self._widths.clear()


def _two_lines(value: str) -> list[tuple[str, str]]:
    """Ways to break `value` in two: at a space, or after a hyphen (Montgomery-|Smith)."""
    out = []
    for i, ch in enumerate(value):
        if ch == " " and 0 < i < len(value) - 1:
            out.append((value[:i], value[i + 1 :]))
        elif ch == "-" and 0 < i < len(value) - 1 and value[i + 1] != " ":
            out.append((value[: i + 1], value[i + 1 :]))
    return out


def fit_text(
    fonts: _Fonts,
    value: str,
    *,
    style: str,
    width: float,
    height: float,
    max_size: float,
    min_size: float,
    max_lines: int = 2,
    leading: float = 1.15,
) -> tuple[float, list[str]]:
    """The largest size from max_size down to min_size (half points) at which `value` fits the box on one
    line or, breaking at a space or hyphen, on two; else min_size with each line cut short with an ellipsis."""
    splits = _two_lines(value) if max_lines >= 2 else []
    size = max_size
    while size >= min_size - 1e-9:
        line_height = size * _PT * leading
        if line_height <= height and fonts.width(value, style, size) <= width:
            return size, [value]
        if splits and 2 * line_height <= height:
            widest, best = _best_split(fonts, splits, style, size)
            if widest <= width:
                return size, list(best)
        size -= 0.5
    size = min_size
    lines = [value]
    if splits and 2 * size * _PT * leading <= height:
        lines = list(_best_split(fonts, splits, style, size)[1])
    return size, [_cut(fonts, line, style, size, width) for line in lines]


def _best_split(
    fonts: _Fonts, splits: list[tuple[str, str]], style: str, size: float
) -> tuple[float, tuple[str, str]]:
    """The break that makes the wider of the two lines narrowest, and that width."""
    return min((max(fonts.width(a, style, size), fonts.width(b, style, size)), (a, b)) for a, b in splits)


def _cut(fonts: _Fonts, value: str, style: str, size: float, width: float) -> str:
    if fonts.width(value, style, size) <= width:
        return value
    while value and fonts.width(value + fonts.ellipsis, style, size) > width:
        value = value[:-1].rstrip()
    return value + fonts.ellipsis


def _lines(
    fonts: _Fonts,
    lines: list[str],
    *,
    style: str,
    size: float,
    x: float,
    top: float,
    width: float,
    align: str = "L",
    leading: float = 1.15,
) -> float:
    """Draw lines from `top` down; returns the y below the last one."""
    pdf = fonts.pdf
    offsets = [(width - fonts.width(line, style, size)) / 2 if align == "C" else 0.0 for line in lines]
    pdf.set_font(fonts.family, style, size)  # after measuring, which sets its own size
    step = size * _PT * leading
    for i, (line, offset) in enumerate(zip(lines, offsets)):
        pdf.text(x + offset, top + i * step + size * _PT * 0.95, line)
    return top + len(lines) * step


# --- badges ------------------------------------------------------------------------------------------------


def _band(fonts: _Fonts, ticket_type: str, x: float, y: float, w: float, h: float, max_size: float) -> None:
    pdf = fonts.pdf
    pdf.set_fill_color(*band_colour(ticket_type))
    pdf.rect(x, y, w, h, style="F")
    label = fonts.text(ticket_type).upper() or "DELEGATE"
    size, lines = fit_text(
        fonts,
        label,
        style="B",
        width=w - 6,
        height=h * 0.8,
        max_size=max_size,
        min_size=6,
        max_lines=1,
        leading=1.0,
    )
    pdf.set_text_color(255)
    _lines(
        fonts,
        lines,
        style="B",
        size=size,
        x=x + 3,
        top=y + (h - size * _PT) / 2,
        width=w - 6,
        align="C",
        leading=1.0,
    )
    pdf.set_text_color(0)


def _card(fonts: _Fonts, badge: BadgeData, x: float, y: float) -> None:
    """90×55 mm: the band across the top, name and organisation on the left, the QR on the right."""
    pdf = fonts.pdf
    pdf.set_draw_color(190)
    pdf.set_line_width(0.2)
    pdf.rect(x, y, 90, 55)
    _band(fonts, badge.ticket_type, x, y, 90, 11, max_size=14)
    qr_size = 34.0
    qr_x, qr_y = x + 90 - qr_size - 0.5, y + 14
    draw_qr(pdf, badge.code, qr_x, qr_y, qr_size)
    ref = fonts.text(badge.reference)
    _lines(fonts, [ref], style="", size=7, x=qr_x, top=qr_y + qr_size - 2.2, width=qr_size, align="C")

    text_x, text_w = x + 4, qr_x + 0.5 - (x + 4)  # at most 0.5 mm into the QR's 3 mm quiet zone
    # The printed answers (two at most) take the foot of the text column; the organisation what is left above.
    foot = _details(fonts, badge.details[:2], x=text_x, bottom=y + 53, width=text_w, size=8)
    size, lines = fit_text(
        fonts, fonts.text(badge.name), style="B", width=text_w, height=22, max_size=20, min_size=9
    )
    below = _lines(fonts, lines, style="B", size=size, x=text_x, top=y + 15, width=text_w)
    org = fonts.text(badge.organisation)
    if org and foot - 0.5 - (below + 1.5) >= 7 * _PT:
        size, lines = fit_text(
            fonts, org, style="", width=text_w, height=foot - 0.5 - (below + 1.5), max_size=10, min_size=7
        )
        pdf.set_text_color(60)
        _lines(fonts, lines, style="", size=size, x=text_x, top=below + 1.5, width=text_w)
        pdf.set_text_color(0)


def _details(
    fonts: _Fonts, details: list[str], *, x: float, bottom: float, width: float, size: float, align: str = "L"
) -> float:
    """Draw the printed answers, one line each (cut short with an ellipsis), ending at `bottom`; returns their
    top (`bottom` when there are none)."""
    if not details:
        return bottom
    lines = [_cut(fonts, fonts.text(d), "B", size, width) for d in details]
    top = bottom - len(lines) * size * _PT * 1.15
    _lines(fonts, lines, style="B", size=size, x=x, top=top, width=width, align=align)
    return top


def _a6(fonts: _Fonts, badge: BadgeData, x: float, y: float) -> None:
    """105×148 mm portrait: the band, then name and organisation centred, the QR centred at the foot.
    Everything stays 7 mm inside the edges, beyond the unprintable margin of office printers."""
    pdf = fonts.pdf
    m = 7.0
    inner_w = 105 - 2 * m
    _band(fonts, badge.ticket_type, x + m, y + m, inner_w, 20, max_size=26)
    # With printed answers (three at most, above the QR), the name and organisation get a little less room.
    details = badge.details[:3]
    name_h, org_h = (22.0, 10.0) if details else (30.0, 16.0)
    size, lines = fit_text(
        fonts, fonts.text(badge.name), style="B", width=inner_w - 4, height=name_h, max_size=34, min_size=14
    )
    below = _lines(
        fonts, lines, style="B", size=size, x=x + m + 2, top=y + m + 28, width=inner_w - 4, align="C"
    )
    if details:
        _details(
            fonts,
            details,
            x=x + m + 2,
            bottom=y + 148 - m - 5 - 52 - 1,
            width=inner_w - 4,
            size=10,
            align="C",
        )
    org = fonts.text(badge.organisation)
    if org:
        size, lines = fit_text(
            fonts, org, style="", width=inner_w - 4, height=org_h, max_size=15, min_size=10
        )
        pdf.set_text_color(60)
        _lines(fonts, lines, style="", size=size, x=x + m + 2, top=below + 2, width=inner_w - 4, align="C")
        pdf.set_text_color(0)
    qr_size = 52.0
    qr_x, qr_y = x + (105 - qr_size) / 2, y + 148 - m - 5 - qr_size
    draw_qr(pdf, badge.code, qr_x, qr_y, qr_size)
    _lines(
        fonts,
        [fonts.text(badge.reference)],
        style="",
        size=10,
        x=qr_x,
        top=qr_y + qr_size - 2.5,
        width=qr_size,
        align="C",
    )


def _cut_lines(pdf: FPDF, layout: Layout) -> None:
    """Dashed light lines where the A6 badges meet (the sheet is quartered edge to edge)."""
    pdf.set_draw_color(170)
    pdf.set_line_width(0.2)
    pdf.set_dash_pattern(dash=2, gap=2)
    for c in range(1, layout.columns):
        pdf.line(c * layout.width, 0, c * layout.width, 297)
    for r in range(1, layout.rows):
        pdf.line(0, r * layout.height, 210, r * layout.height)
    pdf.set_dash_pattern()


def render_badges(
    badges: Sequence[BadgeData], *, layout: str = "a4-8", progress: Callable[[int], None] | None = None
) -> bytes:
    """The badges, in the order given, as an A4 PDF. `progress` is called with 1 after each badge is drawn
    (tqdm's `update` fits)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}")
    if not badges:
        raise ValueError("no badges to render")
    spec = LAYOUTS[layout]
    draw = _card if layout == "a4-8" else _a6
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.set_title("Badges")
    pdf.set_creator("conference")
    fonts = _Fonts(pdf)
    for i, badge in enumerate(badges):
        slot = i % spec.per_page
        if slot == 0:
            pdf.add_page()
            fonts.forget()  # names do not repeat, so keep the width cache to one page
            if spec.gap_x == 0 and spec.gap_y == 0:
                _cut_lines(pdf, spec)
        col, row = slot % spec.columns, slot // spec.columns
        x = spec.left + col * (spec.width + spec.gap_x)
        y = spec.top + row * (spec.height + spec.gap_y)
        draw(fonts, badge, x, y)
        if progress is not None:
            progress(1)
    return bytes(pdf.output())
