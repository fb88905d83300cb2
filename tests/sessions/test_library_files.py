"""What an uploaded file is, by its content (sessions/library/files.py), the names refused, the stored files and
their headers (sessions/library/storage.py), the library's settings and the upload path's body limit."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from starlette.config import Config

from conference.core import errors
from conference.core.settings import SettingsError, load_settings
from conference.web.middleware import LargerBody
from sessions.library import files, storage
from tests.sessions import library_files as make
from tests.support import make_settings

REAL = [
    (make.make_pdf, "slides.pdf", "pdf", "application/pdf"),
    (
        make.make_docx,
        "handout.docx",
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    (
        make.make_pptx,
        "slides.pptx",
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    (make.make_odp, "slides.odp", "odp", "application/vnd.oasis.opendocument.presentation"),
]


@pytest.mark.parametrize(("maker", "name", "format_", "content_type"), REAL)
def test_each_real_kind_is_found_by_its_content(
    maker: Callable[[], bytes], name: str, format_: str, content_type: str
) -> None:
    found = files.sniff(maker(), name)
    assert (found.format, found.content_type, found.extension) == (format_, content_type, "." + format_)
    # The name's case does not matter; what matters is that it says the same as the content.
    assert files.sniff(maker(), name.upper()).format == format_


@pytest.mark.parametrize(
    ("maker", "name", "code", "words"),
    [
        # Lying both ways, and HTML dressed as a PDF.
        (make.make_docx, "slides.pdf", "wrong_extension", "This is a Word document, but its name ends .pdf"),
        (make.make_pdf, "handout.docx", "wrong_extension", "This is a PDF, but its name ends .docx"),
        (
            make.make_pptx,
            "slides.odp",
            "wrong_extension",
            "This is a PowerPoint presentation, but its name ends .odp",
        ),
        (make.make_odp, "slides", "wrong_extension", "its name has no ending"),
        (make.make_html, "slides.pdf", "not_accepted", "web page"),
        # Zips that are not what they say.
        (make.make_zip_bomb_docx, "handout.docx", "zip_bomb", "zip bomb"),
        (make.make_plain_zip, "handout.docx", "not_accepted", "zip archive, not a document"),
        (make.make_traversal_docx, "handout.docx", "zip_unsafe", "path outside itself"),
        (make.make_macro_pptx, "slides.pptx", "macro", "macro-enabled PowerPoint presentation (.pptm)"),
        (make.make_macro_pptx, "slides.pptm", "macro", "macros"),
        (make.make_template_docx, "handout.docx", "not_accepted", "Word template (.dotx)"),
        (make.make_odt, "slides.odp", "not_accepted", "OpenDocument text document"),
        # Broken or empty.
        (make.make_truncated_pdf, "slides.pdf", "damaged", "its end is missing"),
        (lambda: b"", "slides.pdf", "empty", "The file is empty"),
        (
            lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
            "slides.ppt",
            "not_accepted",
            "older Office",
        ),
        (lambda: b"PK\x03\x04not really a zip", "slides.pptx", "damaged", "could not be opened"),
        (lambda: b"just some text\n", "notes.pdf", "unrecognised", "could not recognise"),
    ],
)
def test_files_that_are_not_what_they_say_are_refused_saying_what_they_are(
    maker: Callable[[], bytes], name: str, code: str, words: str
) -> None:
    with pytest.raises(files.UploadRefused) as refused:
        files.sniff(maker(), name)
    assert refused.value.code == code and refused.value.field == "file"
    assert words in refused.value.message, refused.value.message


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("../slides.pdf", "folder"),
        ("talks/slides.pdf", "folder"),
        ("C:\\Users\\grace\\slides.pdf", "folder"),
        ("C:slides.pdf", "colon"),
        ("slides..pdf", "two dots"),
        ("..", "two dots"),
        ("slides\x00.pdf", "control character"),
        ("slides\n.pdf", "control character"),
        ("slides\u202efdp.exe", "invisible"),
        (".pdf", "starts with a dot"),
        ("   ", "no name"),
        ("x" * 201 + ".pdf", "over 200 characters"),
    ],
)
def test_names_with_path_parts_are_refused_not_trimmed(name: str, words: str) -> None:
    with pytest.raises(files.UploadRefused) as refused:
        files.clean_file_name(name)
    assert refused.value.code == "file_name" and refused.value.field == "file"
    assert words in refused.value.message
    with pytest.raises(files.UploadRefused):  # sniff checks the name first, whatever the content
        files.sniff(make.make_pdf(), name)


def test_a_plain_name_is_kept_as_it_is() -> None:
    assert files.clean_file_name("  Präsentation – final (v2).pdf ") == "Präsentation – final (v2).pdf"


def _zip(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return out.getvalue()


def test_zip_bomb_defences_each_hold() -> None:
    # Too many entries, whatever their size.
    many = _zip({"[Content_Types].xml": b"<Types/>", **{f"p/{i}": b"" for i in range(files.MAX_ENTRIES + 1)}})
    with pytest.raises(files.UploadRefused, match="zip bomb"):
        files.sniff(many, "deck.pptx")
    # An XML part that should be small but is larger than the cap (stored: no ratio to give it away) is never
    # read whole.
    padded = b'<?xml version="1.0"?><Types>' + b" " * (files.MAX_XML_PART + 10) + b"</Types>"
    with pytest.raises(files.UploadRefused, match="very large"):
        files.sniff(_zip({"[Content_Types].xml": padded}, compression=zipfile.ZIP_STORED), "deck.pptx")
    # An absolute entry name.
    with pytest.raises(files.UploadRefused, match="path outside"):
        files.sniff(_zip({"[Content_Types].xml": b"<Types/>", "/etc/passwd": b"x"}), "deck.pptx")


def test_xml_with_entities_is_refused_by_defusedxml() -> None:
    billion_laughs = (
        b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">&b;</Types>'
    )
    with pytest.raises(files.UploadRefused) as refused:
        files.sniff(_zip({"[Content_Types].xml": billion_laughs}), "deck.pptx")
    assert refused.value.code == "damaged"


@pytest.mark.parametrize(
    ("size", "words"),
    [(900, "900 bytes"), (2048, "2 KB"), (20 * 1024 * 1024, "20 MB"), (1536 * 1024, "1.5 MB")],
)
def test_sizes_are_said_in_words(size: int, words: str) -> None:
    assert files.human_size(size) == words


# --- storage -------------------------------------------------------------------------------------------------


def test_a_stored_file_is_whole_under_a_random_name_and_reads_back(tmp_path: Path) -> None:
    settings = make_settings("sqlite+aiosqlite:///unused.db", CONFERENCE_LIBRARY_DIR=str(tmp_path / "lib"))
    data = make.make_pptx()
    name = storage.write_file(settings, data, ".pptx")
    other = storage.write_file(settings, data, ".pptx")
    assert name != other and name.endswith(".pptx") and len(name) == 32 + 5
    assert storage.open_resource(settings, name).read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "lib").iterdir()) == sorted([name, other])  # no temp files left
    storage.remove_file(settings, name)
    with pytest.raises(errors.NotFound):
        storage.open_resource(settings, name)
    for bad in ("../conference.db", "/etc/passwd", other.upper(), other + "/x", ""):
        with pytest.raises(errors.NotFound):
            storage.open_resource(settings, bad)
    with pytest.raises(ValueError, match="extension"):
        storage.write_file(settings, data, ".html")


def test_safe_headers_make_every_file_an_attachment_under_its_clean_name() -> None:
    resource = SimpleNamespace(
        file_name='Präsentation "final".pdf', content_type="application/pdf", format="pdf"
    )
    headers = storage.safe_file_headers(resource)
    assert headers == {
        "content-type": "application/pdf",
        "content-disposition": (
            'attachment; filename="Pr_sentation _final_.pdf"; '
            "filename*=UTF-8''Pr%C3%A4sentation%20%22final%22.pdf"
        ),
        "x-content-type-options": "nosniff",
        "content-security-policy": "sandbox; default-src 'none'",
    }


# --- settings and the body limit ---------------------------------------------------------------------------


def test_library_settings_have_defaults_and_refuse_nonsense() -> None:
    settings = load_settings(Config(environ={}))
    assert (settings.library_dir, settings.library_max_bytes) == ("./library-files", 20 * 1024 * 1024)
    custom = load_settings(
        Config(environ={"CONFERENCE_LIBRARY_DIR": "/srv/library", "CONFERENCE_LIBRARY_MAX_BYTES": "5000000"})
    )
    assert (custom.library_dir, custom.library_max_bytes) == ("/srv/library", 5_000_000)
    for env, words in (
        ({"CONFERENCE_LIBRARY_DIR": "  "}, "CONFERENCE_LIBRARY_DIR is empty"),
        ({"CONFERENCE_LIBRARY_MAX_BYTES": "20MB"}, "CONFERENCE_LIBRARY_MAX_BYTES must be a whole number"),
        ({"CONFERENCE_LIBRARY_MAX_BYTES": "0"}, "CONFERENCE_LIBRARY_MAX_BYTES must be a whole number"),
    ):
        with pytest.raises(SettingsError, match=words):
            load_settings(Config(environ=env))


def test_the_larger_body_rule_matches_only_one_token_between_prefix_and_suffix() -> None:
    rule = LargerBody(prefix="/proposal/", suffix="/resources", max_bytes=10)
    assert rule.matches("/proposal/p_abc/resources")
    for path in (
        "/proposal//resources",
        "/proposal/resources",
        "/proposal/p_abc/x/resources",
        "/proposal/p_abc/resources/links",
        "/api/v1/checkins",
        "/manage/m_abc/resources",
    ):
        assert not rule.matches(path), path
