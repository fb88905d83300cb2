"""A certificate of attendance as a one-page A4 PDF: pure rendering, no database.

It says what the certificate row says (as issued): the delegate's name and organisation, the event, its dates and
venue, each verified session with its time and CPD hours, the total, and how to check it: the verification URL in
words and as a QR code (error correction M, a fixed mask: see badges/render.py for why), with the code printed.

Speed: a TrueType font costs ~80 ms to parse and ~30 ms to subset into every PDF (fpdf2 + fontTools), which at a
thousand certificates is minutes. The PDF core font (Helvetica, not embedded) with the Windows-1252 encoding covers
English and Western European names, curly quotes and dashes in ~1 ms; a certificate with a character outside that
set (Łucja, Nguyễn, Ayşe) is set in the Unicode TTF (conference/core/pdf_fonts.py), cut once per process down to
Latin, Greek, Cyrillic and punctuation without layout tables (`_small_fonts`: ~35 ms a certificate instead of
~130 ms), or whole when even that lacks a character. The rendered bytes of the last few certificates are kept
(`_CACHE`), so a download after the email attachment does not render again.
"""

from __future__ import annotations

import atexit
import io
import shutil
import tempfile
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Any

import qrcode  # type: ignore[import-untyped]  # qrcode has no py.typed; types-qrcode is not in the lock
from fontTools import subset as ftsubset  # type: ignore[import-untyped]  # fontTools has no py.typed
from fontTools import ttLib
from fpdf import FPDF
from qrcode.constants import ERROR_CORRECT_M  # type: ignore[import-untyped]  # qrcode has no py.typed

from conference.core import pdf_qr
from conference.core.formats import conference_zone, day, times
from conference.core.models import Conference
from conference.core.pdf_fonts import FONT_CANDIDATES, add_body_font
from sessions.attendance.cpd import hours_text
from sessions.models import Certificate

__all__ = ["certificate_file_name", "render_certificate"]

_W, _H, _MARGIN = 210.0, 297.0, 18.0
_INK = (31, 41, 55)
_ACCENT = (0, 84, 150)
_MUTED = (75, 85, 99)
_CACHE: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
_CACHE_SIZE = 64
_CORE_ENCODING = "windows-1252"


# What the cut-down TTF keeps: Latin with its extensions (Vietnamese too), Greek, Cyrillic, punctuation, currency.
_SMALL_RANGES = ((0x20, 0x250), (0x370, 0x500), (0x1E00, 0x1F00), (0x2000, 0x2070), (0x20A0, 0x20D0))
_small: dict[str, str] | None = None  # style ("" or "B") -> the cut-down font file, made on first use


def _in_small_font(texts: list[str]) -> bool:
    return all(any(lo <= ord(ch) < hi for lo, hi in _SMALL_RANGES) for text in texts for ch in text)


def _small_fonts() -> dict[str, str] | None:
    """The Unicode body font (regular and bold) cut down to _SMALL_RANGES, as files in a folder of this process's
    own; None when the machine has no TTF (the core font is all there is)."""
    global _small
    if _small is not None:
        return _small or None
    found = next((Path(c) for c in FONT_CANDIDATES if c and Path(c).exists()), None)
    if found is None:
        _small = {}
        return None
    bold = found.with_name(found.stem + "-Bold.ttf")
    folder = Path(tempfile.mkdtemp(prefix="conference-certificate-fonts-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    made: dict[str, str] = {}
    for style, source in (("", found), ("B", bold if bold.exists() else found)):
        options = ftsubset.Options()
        options.notdef_outline = True
        options.layout_features = []
        options.hinting = False
        options.drop_tables += ["FFTM"]
        font = ttLib.TTFont(str(source))
        subsetter = ftsubset.Subsetter(options)
        subsetter.populate(unicodes=[u for lo, hi in _SMALL_RANGES for u in range(lo, hi)])
        subsetter.subset(font)
        buffer = io.BytesIO()
        font.save(buffer)
        path = folder / f"body{style or '-regular'}.ttf"
        path.write_bytes(buffer.getvalue())
        made[style] = str(path)
    _small = made
    return made


def _unicode_font(pdf: FPDF, texts: list[str]) -> str:
    small = _small_fonts() if _in_small_font(texts) else None
    if small:
        pdf.add_font("body", "", small[""])
        pdf.add_font("body", "B", small["B"])
        return "body"
    family, _unicode = add_body_font(pdf)
    return family


def _fits_core_font(texts: list[str]) -> bool:
    try:
        for text in texts:
            text.encode(_CORE_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def _qr_modules(text: str) -> list[list[bool]]:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, mask_pattern=0, border=0)
    qr.add_data(text.encode("utf-8"))
    qr.make(fit=True)
    return [[bool(m) for m in row] for row in qr.modules]


def _draw_qr(pdf: FPDF, text: str, x: float, y: float, size: float) -> None:
    """The QR (4-module quiet zone included in `size`) as one filled path, drawn as the badges' is."""
    pdf_qr.draw_modules(pdf, _qr_modules(text), x, y, size, border=4)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """`text`, cut with an ellipsis to fit `width` in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "...") > width:
        text = text[:-1]
    return text.rstrip() + "..."


def _event_dates(conference: Conference) -> str:
    zone = conference_zone(conference)
    first, last = day(conference.starts_at, zone), day(conference.ends_at, zone)
    return first if first == last else f"{first} to {last}"


def _moment(value: Any) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def render_certificate(certificate: Certificate, *, conference: Conference, verify_url: str) -> bytes:
    key = (
        certificate.id,
        certificate.code,
        certificate.name,
        certificate.organisation,
        certificate.cpd_minutes,
        verify_url,
        conference.name,
        conference.venue,
        conference.timezone,
        conference.starts_at,
        conference.ends_at,
    )
    cached = _CACHE.get(key)
    if cached is not None:
        _CACHE.move_to_end(key)
        return cached
    pdf_bytes = _render(certificate, conference=conference, verify_url=verify_url)
    _CACHE[key] = pdf_bytes
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return pdf_bytes


def _put(pdf: FPDF, x: float, baseline: float, width: float, text: str, align: str = "L") -> None:
    """One line of text on `baseline` in a box `width` wide from x, cut to fit; `pdf.text` skips fpdf2's line
    breaking, most of what `cell()` costs."""
    text = _fit(pdf, text, width)
    if align != "L":
        spare = width - pdf.get_string_width(text)
        x += spare / 2 if align == "C" else spare
    pdf.text(x, baseline, text)


def _render(certificate: Certificate, *, conference: Conference, verify_url: str) -> bytes:
    zone = conference_zone(conference)
    sessions = list(certificate.sessions or [])
    rows = [
        (
            day(_moment(s["starts_at"]), zone),
            times(_moment(s["starts_at"]), _moment(s["ends_at"]), zone),
            str(s.get("title", "")),
            hours_text(int(s.get("minutes", 0))) if s.get("minutes") else "-",
        )
        for s in sessions
    ]
    name = certificate.name or "(name erased)"
    texts = [name, certificate.organisation, conference.name, conference.venue, verify_url]
    texts += [text for row in rows for text in row]
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_title(f"Certificate of attendance - {conference.name}")
    pdf.set_creator("conference")
    pdf.set_auto_page_break(False)
    if _fits_core_font(texts):
        pdf.core_fonts_encoding = _CORE_ENCODING
        family = "helvetica"
    else:
        family = _unicode_font(pdf, texts)
    pdf.add_page()
    width = _W - 2 * _MARGIN
    left = _MARGIN

    pdf.set_fill_color(*_ACCENT)
    pdf.rect(0, 0, _W, 6, style="F")
    pdf.set_text_color(*_ACCENT)
    pdf.set_font(family, "B", 24)
    _put(pdf, left, 31, width, "Certificate of attendance", "C")
    pdf.set_text_color(*_MUTED)
    pdf.set_font(family, "", 12)
    _put(pdf, left, 45, width, "This is to certify that", "C")
    pdf.set_text_color(*_INK)
    size = 22.0
    pdf.set_font(family, "B", size)
    while size > 12 and pdf.get_string_width(name) > width:
        size -= 1
        pdf.set_font_size(size)
    _put(pdf, left, 57, width, name, "C")
    pdf.set_font(family, "", 13)
    _put(pdf, left, 66, width, certificate.organisation, "C")
    pdf.set_text_color(*_MUTED)
    pdf.set_font(family, "", 12)
    _put(pdf, left, 78, width, "attended", "C")
    pdf.set_text_color(*_INK)
    pdf.set_font(family, "B", 16)
    _put(pdf, left, 87, width, conference.name, "C")
    pdf.set_font(family, "", 12)
    where = f", {conference.venue}" if conference.venue else ""
    _put(pdf, left, 95, width, _event_dates(conference) + where, "C")
    pdf.set_font(family, "B", 14)
    pdf.set_text_color(*_ACCENT)
    _put(
        pdf,
        left,
        110,
        width,
        f"Continuing professional development: {hours_text(certificate.cpd_minutes)}",
        "C",
    )
    pdf.set_text_color(*_INK)

    columns = (36.0, 26.0, width - 36 - 26 - 24, 24.0)
    y = 124.0
    pdf.set_font(family, "B", 10)
    pdf.set_draw_color(*_MUTED)
    x = left
    for heading, w in zip(("Day", "Time", "Session attended", "CPD"), columns, strict=True):
        _put(pdf, x, y, w - 2 if heading != "CPD" else w, heading, "R" if heading == "CPD" else "L")
        x += w
    pdf.line(left, y + 2, left + width, y + 2)
    y += 7
    pdf.set_font(family, "", 10)
    bottom = _H - 62
    for index, row in enumerate(rows):
        if y > bottom - 6:
            pdf.set_text_color(*_MUTED)
            _put(
                pdf,
                left,
                y,
                width,
                f"and {len(rows) - index} more sessions, listed at the verification address",
            )
            pdf.set_text_color(*_INK)
            y += 6.5
            break
        x = left
        for i, (text, w) in enumerate(zip(row, columns, strict=True)):
            _put(pdf, x, y, w - 2 if i != 3 else w, text, "R" if i == 3 else "L")
            x += w
        y += 6.5
    pdf.line(left, y - 3.5, left + width, y - 3.5)
    pdf.set_font(family, "B", 10)
    _put(pdf, left, y + 2, width - columns[3], "Total CPD time")
    _put(pdf, left + width - columns[3], y + 2, columns[3], hours_text(certificate.cpd_minutes), "R")

    qr_size = 40.0
    top = _H - 18 - qr_size
    _draw_qr(pdf, verify_url, left - 3, top, qr_size)
    text_x = left + qr_size + 2
    text_w = _W - _MARGIN - text_x
    pdf.set_font(family, "B", 11)
    _put(pdf, text_x, top + 9, text_w, "Check this certificate")
    pdf.set_font(family, "", 9)
    pdf.set_text_color(*_MUTED)
    _put(
        pdf,
        text_x,
        top + 15,
        text_w,
        "Scan the code or open the address below: it confirms the name, the event",
    )
    _put(
        pdf,
        text_x,
        top + 19.5,
        text_w,
        "and the hours, and says so if this certificate was withdrawn or replaced.",
    )
    pdf.set_text_color(*_INK)
    pdf.set_font(family, "", 10)
    _put(pdf, text_x, top + 27, text_w, verify_url)
    pdf.set_font(family, "B", 11)
    _put(pdf, text_x, top + 34, text_w, f"Verification code: {certificate.code}")
    pdf.set_font(family, "", 9)
    pdf.set_text_color(*_MUTED)
    _put(pdf, text_x, top + 40, text_w, f"Issued {day(certificate.issued_at, zone)}")
    return bytes(pdf.output())


def certificate_file_name(certificate: Certificate) -> str:
    """The download's name: the code, no personal data."""
    return f"certificate-{certificate.code}.pdf"
