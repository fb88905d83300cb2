"""Where the library's files live: one directory (CONFERENCE_LIBRARY_DIR), each file under a random name that
nothing from the upload goes into, written whole or not at all (a temporary file, then a rename).

The database row and the file are kept together: a file written inside a transaction that then rolls back (the
row could not be written, the commit failed) is deleted again (`remove_on_rollback`), and a removed item's file
goes only once the removal has committed (`remove_after_commit`). The headers every file is
served with are here too (`safe_file_headers`), for the speaker's own download and the public library alike.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from conference.core import errors
from conference.core.settings import Settings
from sessions.models.library import LibraryResource

_STORED_NAME = re.compile(r"[0-9a-f]{32}\.(pdf|docx|pptx|odp)")
_TEMP_PREFIX = ".upload-"
_PENDING_KEY = "library_files_pending"


def library_root(settings: Settings) -> Path:
    return Path(settings.library_dir).expanduser().resolve()


def write_file(settings: Settings, data: bytes, extension: str) -> str:
    """Store `data` under a new random name ending `extension` (".pdf"); the name. The file appears whole or
    not at all: it is written to a temporary file in the same directory, flushed to disk, then renamed."""
    root = library_root(settings)
    root.mkdir(parents=True, exist_ok=True, mode=0o750)
    stored_name = secrets.token_hex(16) + extension
    if not _STORED_NAME.fullmatch(stored_name):
        raise ValueError(f"not a library file's extension: {extension!r}")
    handle, temp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=root)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o640)
        os.replace(temp, root / stored_name)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return stored_name


def remove_file(settings: Settings, stored_name: str) -> None:
    """Delete a stored file (nothing if it is already gone, or the name is not one of ours)."""
    if _STORED_NAME.fullmatch(stored_name):
        (library_root(settings) / stored_name).unlink(missing_ok=True)


def open_resource(settings: Settings, stored_name: str) -> Path:
    """The path of a stored file, for serving it; NotFound when the name is not a stored name or the file is
    missing. Only names this module made are accepted, so no path can reach outside the directory."""
    if not _STORED_NAME.fullmatch(stored_name):
        raise errors.NotFound("This file is not available.")
    path = library_root(settings) / stored_name
    if not path.is_file():
        raise errors.NotFound("This file is no longer available.")
    return path


def _pending(db: AsyncSession, settings: Settings) -> dict[str, list[str]]:
    """The files to delete when `db`'s transaction ends: "written" ones if it rolls back (their rows never
    existed), "removed" ones once it commits (their rows are gone). Listeners are set once per session."""
    session = db.sync_session
    pending: dict[str, list[str]] | None = session.info.get(_PENDING_KEY)
    if pending is None:
        pending = session.info[_PENDING_KEY] = {"written": [], "removed": []}

        def rolled_back(session: Session, previous: SessionTransaction) -> None:
            if previous.parent is not None:  # a savepoint: the outer transaction may still commit
                return
            files = session.info.pop(_PENDING_KEY, None) or {}
            for name in files.get("written", []):
                remove_file(settings, name)

        def committed(session: Session) -> None:
            if session.in_nested_transaction():
                return
            files = session.info.pop(_PENDING_KEY, None) or {}
            for name in files.get("removed", []):
                remove_file(settings, name)

        sa.event.listen(session, "after_soft_rollback", rolled_back)
        sa.event.listen(session, "after_commit", committed)
    return pending


def remove_on_rollback(db: AsyncSession, settings: Settings, stored_name: str) -> None:
    """Delete the file `stored_name` if the transaction `db` is in rolls back (its row then never existed)."""
    _pending(db, settings)["written"].append(stored_name)


def remove_after_commit(db: AsyncSession, settings: Settings, stored_name: str) -> None:
    """Delete the file `stored_name` once the transaction `db` is in commits (its row's delete is then final);
    if it rolls back, the row and its file both stay."""
    _pending(db, settings)["removed"].append(stored_name)


def _ascii_fallback(name: str) -> str:
    text = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in name)
    return text or "download"


def safe_file_headers(resource: LibraryResource | Any) -> dict[str, str]:
    """The headers a library file is served with: always an attachment under its clean name (RFC 6266, with
    the UTF-8 name as filename*), its type as found from its content, never sniffed by the browser, and a
    sandbox should anything render it in place anyway."""
    name = str(resource.file_name) or f"resource.{resource.format}"
    return {
        "content-type": str(resource.content_type) or "application/octet-stream",
        "content-disposition": (
            f"attachment; filename=\"{_ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"
        ),
        "x-content-type-options": "nosniff",
        "content-security-policy": "sandbox; default-src 'none'",
    }
