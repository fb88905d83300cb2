"""What an uploaded file really is, found from its content, never from its name (pure: no I/O, no database).

The library takes four kinds: PDF, Word (.docx), PowerPoint (.pptx) and OpenDocument presentations (.odp).
`sniff(data, name)` answers the kind or raises `UploadRefused(code, field, message)` saying what is wrong in
words a speaker can act on ("This is a Word document, but its name ends .pdf").

The three zip-based kinds are opened with the standard library's zipfile after checking the archive's own
directory: how many entries, how large they say they will be uncompressed (in all, and for each against its
compressed size: a zip bomb claims a little and unpacks to a lot), and that no entry is named as a path outside
the archive (`../`, `/etc/`, `C:`). Only the one small XML part that says what the file is gets read (with a cap),
and it is parsed with defusedxml, which refuses entity expansion and external entities.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeXML  # type: ignore[import-untyped]  # no py.typed, no stubs in the lock
from defusedxml.common import DefusedXmlException  # type: ignore[import-untyped]

FIELD = "file"  # the form's file field: every refusal of the file is about it
NAME_MAX = 200  # LibraryResource.file_name
MAX_ENTRIES = 5_000
MAX_TOTAL_UNCOMPRESSED = 200 * 1024 * 1024
MAX_RATIO = 200  # uncompressed : compressed, for an entry over RATIO_FROM bytes
RATIO_FROM = 1024 * 1024
MAX_XML_PART = 1024 * 1024  # [Content_Types].xml, META-INF/manifest.xml
PDF_EOF_WINDOW = 1024  # %%EOF must be in the last kilobyte (ISO 32000-1, 7.5.5 says "at the end")


class UploadRefused(Exception):
    """An upload refused: `code` for machines, `field` the form field, `message` for the speaker."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Sniffed:
    format: str  # pdf | docx | pptx | odp
    content_type: str
    extension: str  # ".pdf"


@dataclass(frozen=True)
class Kind:
    format: str
    content_type: str
    extension: str
    words: str  # "a PDF", for sentences


PDF = Kind("pdf", "application/pdf", ".pdf", "a PDF")
DOCX = Kind(
    "docx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".docx",
    "a Word document",
)
PPTX = Kind(
    "pptx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".pptx",
    "a PowerPoint presentation",
)
ODP = Kind("odp", "application/vnd.oasis.opendocument.presentation", ".odp", "an OpenDocument presentation")
KINDS = {k.format: k for k in (PDF, DOCX, PPTX, ODP)}
ACCEPTED = (
    "a PDF, a PowerPoint presentation (.pptx), a Word document (.docx) or an OpenDocument presentation (.odp)"
)

# The main part's content type in [Content_Types].xml says what an OOXML package is (ECMA-376 part 1, 11.3 and
# 13.3). Only the plain document and presentation are taken: macro-enabled files carry code that runs when
# opened, and templates and slide shows are not what the library shares (save as .docx or .pptx).
_OOXML = "application/vnd.openxmlformats-officedocument."
_MAIN_TYPES: dict[str, Kind] = {
    _OOXML + "wordprocessingml.document.main+xml": DOCX,
    _OOXML + "presentationml.presentation.main+xml": PPTX,
}
_MACRO_TYPES = {
    "application/vnd.ms-word.document.macroEnabled.main+xml": "a macro-enabled Word document (.docm)",
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml": "a macro-enabled Word template (.dotm)",
    "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml": (
        "a macro-enabled PowerPoint presentation (.pptm)"
    ),
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml": "a macro-enabled PowerPoint show (.ppsm)",
    "application/vnd.ms-powerpoint.template.macroEnabled.main+xml": "a macro-enabled PowerPoint template (.potm)",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": "a macro-enabled Excel workbook (.xlsm)",
}
_OTHER_TYPES = {
    _OOXML + "wordprocessingml.template.main+xml": ("a Word template (.dotx)", DOCX),
    _OOXML + "presentationml.template.main+xml": ("a PowerPoint template (.potx)", PPTX),
    _OOXML + "presentationml.slideshow.main+xml": ("a PowerPoint show (.ppsx)", PPTX),
    _OOXML + "spreadsheetml.sheet.main+xml": ("an Excel workbook (.xlsx)", None),
}
_VBA_TYPE = "application/vnd.ms-office.vbaProject"
_CT_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_MANIFEST_NS = "{urn:oasis:names:tc:opendocument:xmlns:manifest:1.0}"
_ODF = "application/vnd.oasis.opendocument."
_ODF_OTHERS = {
    _ODF + "text": "an OpenDocument text document (.odt)",
    _ODF + "spreadsheet": "an OpenDocument spreadsheet (.ods)",
    _ODF + "graphics": "an OpenDocument drawing (.odg)",
    _ODF + "presentation-template": "an OpenDocument presentation template (.otp)",
}
_DRIVE = re.compile(r"^[A-Za-z]:")


def _refuse(code: str, message: str) -> UploadRefused:
    return UploadRefused(code, FIELD, message)


# --- the name ----------------------------------------------------------------------------------------------


def clean_file_name(name: str) -> str:
    """The name a file is offered under, refused (not quietly trimmed) when it holds path parts or characters
    that are not a name's: a browser sends the bare name, so anything else was made to probe us."""
    name = unicodedata.normalize("NFC", name.strip())
    if not name:
        raise _refuse("file_name", "The file has no name. Choose the file again.")
    if "/" in name or "\\" in name:
        raise _refuse(
            "file_name",
            "The file name has a folder in it (a / or \\). Upload the file with a plain name, such as "
            "slides.pdf.",
        )
    if ".." in name:
        raise _refuse(
            "file_name", "The file name has two dots in a row (..). Rename the file, such as slides.pdf."
        )
    if _DRIVE.match(name) or ":" in name:
        raise _refuse(
            "file_name",
            "The file name has a colon (:) in it, like a drive letter. Rename the file without it.",
        )
    for ch in name:
        category = unicodedata.category(ch)
        if category == "Cc":
            raise _refuse(
                "file_name", "The file name has a control character in it. Rename the file and try again."
            )
        if category in ("Cf", "Zl", "Zp"):  # bidi overrides can make "gpj.pdf" read as "fdp.jpg"
            raise _refuse(
                "file_name",
                "The file name has an invisible formatting character in it. Rename the file and try again.",
            )
    if len(name) > NAME_MAX:
        raise _refuse("file_name", f"The file name is over {NAME_MAX} characters. Give it a shorter name.")
    if name.startswith("."):
        raise _refuse("file_name", "The file name starts with a dot. Rename the file, such as slides.pdf.")
    return name


def extension_of(name: str) -> str:
    """The name's extension, lower case with its dot ("" for none)."""
    stem, dot, ext = name.rpartition(".")
    return f".{ext.lower()}" if dot and stem else ""


def _check_name_agrees(kind: Kind, name: str) -> None:
    ext = extension_of(name)
    if ext == kind.extension:
        return
    said = f"its name ends {ext}" if ext else "its name has no ending such as .pdf"
    raise _refuse(
        "wrong_extension",
        f"This is {kind.words}, but {said}. Rename it to end {kind.extension}, or choose the file you meant.",
    )


# --- the content -------------------------------------------------------------------------------------------


def sniff(data: bytes, name: str) -> Sniffed:
    """What `data` is (PDF, DOCX, PPTX or ODP), from its content; the name must say the same."""
    clean = clean_file_name(name)
    if not data:
        raise _refuse("empty", "The file is empty (0 bytes). Choose the file again, or save it again first.")
    kind = _kind_of(data)
    _check_name_agrees(kind, clean)
    return Sniffed(kind.format, kind.content_type, kind.extension)


def _kind_of(data: bytes) -> Kind:
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-PDF_EOF_WINDOW:]:
            raise _refuse(
                "damaged",
                "This PDF is incomplete: its end is missing. Save or export it again and upload the new file.",
            )
        return PDF
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2: .doc, .ppt, or an encrypted OOXML file
        raise _refuse(
            "not_accepted",
            "This is an older Office file (.doc or .ppt) or a password-protected one. Save it as .docx, "
            ".pptx or PDF without a password, then upload that.",
        )
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<svg", b"<?xml")):
        raise _refuse(
            "not_accepted",
            f"This is a web page or XML file, not a document. Upload {ACCEPTED}.",
        )
    raise _refuse("unrecognised", f"We could not recognise this file. Upload {ACCEPTED}.")


def _zip_kind(data: bytes) -> Kind:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise _refuse(
            "damaged", "This file is damaged: it could not be opened. Save it again and upload the new file."
        ) from None
    with archive:
        entries = archive.infolist()
        _check_entries(entries)
        names = {e.filename for e in entries}
        if entries and entries[0].filename == "mimetype":
            return _odf_kind(archive, entries[0], names)
        if "[Content_Types].xml" in names:
            return _ooxml_kind(archive, names)
    raise _refuse(
        "not_accepted",
        f"This is a zip archive, not a document or presentation. Upload {ACCEPTED}.",
    )


def _check_entries(entries: list[zipfile.ZipInfo]) -> None:
    bomb = (
        "This file would unpack to far more than its size (it looks like a zip bomb), so it was not opened. "
        "Save the document again from its application and upload that."
    )
    if len(entries) > MAX_ENTRIES:
        raise _refuse("zip_bomb", bomb)
    total = 0
    for e in entries:
        name = e.filename
        parts = re.split(r"[/\\]", name)
        if name.startswith(("/", "\\")) or _DRIVE.match(name) or ".." in parts or "\x00" in name:
            raise _refuse(
                "zip_unsafe",
                "This file has a part named as a path outside itself, so it was not opened. Save the document "
                "again from its application and upload that.",
            )
        if e.flag_bits & 0x1:
            raise _refuse(
                "not_accepted",
                "This file is password-protected. Save it without a password, then upload it.",
            )
        total += e.file_size
        if total > MAX_TOTAL_UNCOMPRESSED:
            raise _refuse("zip_bomb", bomb)
        if e.file_size > RATIO_FROM and e.file_size > MAX_RATIO * max(e.compress_size, 1):
            raise _refuse("zip_bomb", bomb)


def _read_part(archive: zipfile.ZipFile, name: str) -> bytes:
    damaged = _refuse(
        "damaged", "This file is damaged: a part of it could not be read. Save it again and retry."
    )
    try:
        with archive.open(name) as part:
            data = part.read(MAX_XML_PART + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, OSError, EOFError):
        raise damaged from None
    except RuntimeError:  # an encrypted entry
        raise damaged from None
    if len(data) > MAX_XML_PART:
        raise _refuse(
            "zip_bomb", "A part of this file that should be small is very large, so it was refused."
        )
    return data


def _parse_xml(data: bytes) -> Element:
    try:
        root: Element = SafeXML.fromstring(data)
    except (DefusedXmlException, SafeXML.ParseError, ValueError):
        raise _refuse(
            "damaged", "This file is damaged: a part that says what it is could not be read. Save it again."
        ) from None
    return root


def _ooxml_kind(archive: zipfile.ZipFile, names: set[str]) -> Kind:
    root = _parse_xml(_read_part(archive, "[Content_Types].xml"))
    overrides = {
        str(o.get("PartName", "")).lstrip("/"): str(o.get("ContentType", "")).strip()
        for o in root.iter(_CT_NS + "Override")
    }
    defaults = {str(d.get("ContentType", "")).strip() for d in root.iter(_CT_NS + "Default")}
    types = set(overrides.values()) | defaults
    for content_type, words in _MACRO_TYPES.items():
        if content_type in types:
            raise _refuse(
                "macro",
                f"This is {words}: it can hold macros, code that runs when it is opened. Save it as a plain "
                ".docx or .pptx (or PDF) and upload that.",
            )
    if _VBA_TYPE in types or any(n.lower().endswith("vbaproject.bin") for n in names):
        raise _refuse(
            "macro",
            "This file holds macros (code that runs when it is opened). Save it without macros, as a plain "
            ".docx or .pptx (or PDF), and upload that.",
        )
    for content_type, (words, nearest) in _OTHER_TYPES.items():
        if content_type in types:
            fix = f"save it as {nearest.words} ({nearest.extension})" if nearest else f"upload {ACCEPTED}"
            raise _refuse("not_accepted", f"This is {words}, which the library does not take: {fix}.")
    found = {(kind, part) for part, t in overrides.items() if (kind := _MAIN_TYPES.get(t)) is not None}
    kinds = {kind for kind, _part in found}
    if len(kinds) != 1:
        raise _refuse(
            "not_accepted" if not kinds else "damaged",
            f"This is an Office file of a kind the library does not take. Upload {ACCEPTED}."
            if not kinds
            else "This file says it is both a Word document and a presentation. Save it again from its application.",
        )
    if not all(part in names for _kind, part in found):
        raise _refuse(
            "damaged",
            "This file is damaged: its main part is missing. Save it again and upload the new file.",
        )
    return kinds.pop()


def _odf_kind(archive: zipfile.ZipFile, first: zipfile.ZipInfo, names: set[str]) -> Kind:
    mimetype = _read_part(archive, "mimetype").strip().decode("ascii", "replace")
    if mimetype in _ODF_OTHERS:
        raise _refuse(
            "not_accepted",
            f"This is {_ODF_OTHERS[mimetype]}, which the library does not take. Upload {ACCEPTED}.",
        )
    if mimetype != ODP.content_type:
        raise _refuse("not_accepted", f"We could not recognise this file. Upload {ACCEPTED}.")
    if first.compress_type != zipfile.ZIP_STORED:
        raise _refuse(
            "damaged",
            "This OpenDocument file is not saved the standard way (its type is compressed). Save it again.",
        )
    if "META-INF/manifest.xml" not in names or "content.xml" not in names:
        raise _refuse("damaged", "This OpenDocument file is damaged: its manifest or content is missing.")
    manifest = _parse_xml(_read_part(archive, "META-INF/manifest.xml"))
    root_types = {
        str(e.get(_MANIFEST_NS + "media-type", ""))
        for e in manifest.iter(_MANIFEST_NS + "file-entry")
        if e.get(_MANIFEST_NS + "full-path") == "/"
    }
    if root_types != {ODP.content_type}:
        raise _refuse(
            "damaged", "This OpenDocument file's manifest does not say it is a presentation. Save it again."
        )
    return ODP


def human_size(size: int) -> str:
    """A size for people: "20 MB", "512 KB", "900 bytes" (1 MB = 1,048,576 bytes, as file managers show)."""
    mb, kb = 1024 * 1024, 1024
    if size >= mb:
        value = size / mb
        return f"{value:.0f} MB" if value == int(value) else f"{value:.1f} MB"
    if size >= kb:
        return f"{size // kb} KB"
    return f"{size} bytes"
