"""The font every generated PDF uses (room sheets, invoices, badges): a Unicode TTF if the machine has one
(Debian: fonts-dejavu-core, or CONFERENCE_PDF_FONT), else a PDF core font that covers Latin-1 only."""

from __future__ import annotations

import os
from pathlib import Path

from fpdf import FPDF

FONT_CANDIDATES = [
    os.environ.get("CONFERENCE_PDF_FONT", ""),
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
]


def add_body_font(pdf: FPDF) -> tuple[str, bool]:
    """Register the "body" family (regular and bold) on `pdf`; (family to use, whether it is Unicode)."""
    for candidate in FONT_CANDIDATES:
        if candidate and Path(candidate).exists():
            bold = Path(candidate).with_name(Path(candidate).stem + "-Bold.ttf")
            pdf.add_font("body", "", candidate)
            pdf.add_font("body", "B", str(bold) if bold.exists() else candidate)
            return "body", True
    return "helvetica", False
