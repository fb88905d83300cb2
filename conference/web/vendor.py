"""Browser libraries installed with npm (package.json) and served from node_modules, a named file at a time.

Nothing third-party is copied into the repository; a page's route serves only the files on its allow-list.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from conference.core import errors

NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"


def serve(request: Request, files: dict[str, tuple[str, str]], node_modules: Path, what: str) -> Response:
    """`files` maps the URL's {name} to (path under node_modules, media type); `what` names the library in the
    answers ("The scanner's QR reader")."""
    name = request.path_params["name"]
    if name not in files:
        raise errors.NotFound(
            f"Only {', '.join(sorted(files))} {'is' if len(files) == 1 else 'are'} served here."
        )
    relative, media_type = files[name]
    path = node_modules / relative
    if not path.is_file():
        return PlainTextResponse(
            f"{what} is not installed ({relative} is missing). Run `npm ci` in the repository root "
            "(./scripts/demo and ./scripts/test do it for you).",
            status_code=503,
            headers={"cache-control": "no-store"},
        )
    # An hour: the pinned version changes only with a deploy; a phone at the door keeps it between reloads.
    return FileResponse(path, media_type=media_type, headers={"cache-control": "public, max-age=3600"})
