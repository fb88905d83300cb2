"""Real files of each kind the best-practice library takes, made by the libraries that write them for real, and
the bad files it must refuse. For tests and the demo: each function answers the file's bytes.

    make_pdf()   fpdf2           make_docx()  python-docx      make_pptx()  python-pptx     make_odp()  odfpy

Bad ones: make_zip_bomb_docx() (a real .docx plus one entry that unpacks 1,000 times its size), make_plain_zip(),
make_macro_pptx() (a real .pptx relabelled as macro-enabled, as PowerPoint saves a .pptm), make_template_docx(),
make_html(), make_odt() (an OpenDocument text, not a presentation), make_traversal_docx() (an entry named
../../evil), make_truncated_pdf().
"""

from __future__ import annotations

import io
import zipfile

from docx import Document
from fpdf import FPDF
from odf.draw import Frame, Page, TextBox  # type: ignore[import-untyped]  # odfpy ships no types
from odf.opendocument import OpenDocumentPresentation, OpenDocumentText  # type: ignore[import-untyped]
from odf.style import MasterPage, PageLayout, PageLayoutProperties  # type: ignore[import-untyped]
from odf.text import P  # type: ignore[import-untyped]
from pptx import Presentation
from pptx.util import Inches

TITLE = "One front door for children's referrals"


def make_pdf(title: str = TITLE, pages: int = 2) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=14)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.cell(text=f"{title}: slide {number}")
    return bytes(pdf.output())


def make_docx(title: str = TITLE) -> bytes:
    document = Document()
    document.add_heading(title, level=1)
    document.add_paragraph("How a shared triage desk cut referral times from five days to one.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_pptx(title: str = TITLE) -> bytes:
    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[0])
    slide.shapes.title.text = title
    box = deck.slides.add_slide(deck.slide_layouts[5]).shapes.add_textbox(
        Inches(1), Inches(2), Inches(6), Inches(1)
    )
    box.text_frame.text = "Referral times: five days to one"
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def make_odp(title: str = TITLE) -> bytes:
    doc = OpenDocumentPresentation()
    layout = PageLayout(name="Slide")
    layout.addElement(PageLayoutProperties(margin="0cm", pagewidth="28cm", pageheight="21cm"))
    doc.automaticstyles.addElement(layout)
    master = MasterPage(name="Default", pagelayoutname=layout)
    doc.masterstyles.addElement(master)
    page = Page(masterpagename=master)
    frame = Frame(width="20cm", height="3cm", x="2cm", y="2cm")
    box = TextBox()
    box.addElement(P(text=title))
    frame.addElement(box)
    page.addElement(frame)
    doc.presentation.addElement(page)
    out = io.BytesIO()
    doc.write(out)
    return out.getvalue()


def make_odt(title: str = TITLE) -> bytes:
    doc = OpenDocumentText()
    doc.text.addElement(P(text=title))
    out = io.BytesIO()
    doc.write(out)
    return out.getvalue()


def _rewrite(data: bytes, change: dict[str, bytes | None], add: dict[str, bytes] | None = None) -> bytes:
    """The zip `data` with entries replaced (bytes) or dropped (None), and more added, in the same order."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if info.filename in change:
                replacement = change[info.filename]
                if replacement is not None:
                    target.writestr(info.filename, replacement)
            else:
                target.writestr(info, source.read(info.filename))
        for name, content in (add or {}).items():
            target.writestr(name, content)
    return out.getvalue()


def _content_types(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("[Content_Types].xml").decode()


def make_macro_pptx() -> bytes:
    """A .pptx relabelled as PowerPoint labels a macro-enabled presentation (.pptm), with its VBA part."""
    deck = make_pptx()
    types = _content_types(deck).replace(
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml",
    )
    return _rewrite(deck, {"[Content_Types].xml": types.encode()}, {"ppt/vbaProject.bin": b"\x00" * 64})


def make_template_docx() -> bytes:
    """A .docx relabelled as a Word template (.dotx)."""
    document = make_docx()
    types = _content_types(document).replace(
        "wordprocessingml.document.main+xml", "wordprocessingml.template.main+xml"
    )
    return _rewrite(document, {"[Content_Types].xml": types.encode()})


def make_zip_bomb_docx(unpacked_bytes: int = 50 * 1024 * 1024) -> bytes:
    """A real .docx with one more entry of zeros that deflates over 1,000:1 (50 MB from about 50 KB)."""
    return _rewrite(make_docx(), {}, {"word/media/padding.bin": b"\x00" * unpacked_bytes})


def make_traversal_docx() -> bytes:
    """A real .docx with an entry named as a path outside the archive."""
    return _rewrite(make_docx(), {}, {"../../etc/evil.txt": b"escaped"})


def make_plain_zip() -> bytes:
    """A zip archive of two text files: no [Content_Types].xml, no mimetype."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes.txt", "Slides to follow")
        archive.writestr("agenda.txt", "Welcome, triage, questions")
    return out.getvalue()


def make_html() -> bytes:
    return b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def make_truncated_pdf() -> bytes:
    """A real PDF cut short (an interrupted download): its %%EOF is missing."""
    pdf = make_pdf(pages=3)
    return pdf[: len(pdf) // 2]
