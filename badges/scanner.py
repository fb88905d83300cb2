"""The door scanner page (`/scan`) for staff and organisers, and the files it needs.

The page decodes badge QR codes itself (the browser's BarcodeDetector where there is one, else ZXing-C++
compiled to WebAssembly from the npm package `zxing-wasm`), posts scans to the check-in API with the console
session and the page's CSRF token, and keeps working offline: it holds the door list and the badge public key,
verifies signatures with WebCrypto, and queues scans for `/api/v1/checkins/sync` (docs/api.md, "The scanner").

zxing-wasm is an npm dependency (package.json, pinned, with its lockfile): `npm ci` at the repository root
installs it, and `/scan/vendor/{name}` serves its two files from node_modules. Nothing third-party is copied
in.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from badges.checkin import UNDO_MINUTES
from conference import places
from conference.console.login import require_console
from conference.core import errors, formats
from conference.core.models import Registration
from conference.web import templating, vendor
from conference.web.request import database
from sessions.workshops import programme

__all__ = ["NODE_MODULES", "SCANNER_PATH", "VENDOR", "install", "routes"]

HERE = Path(__file__).resolve().parent
NODE_MODULES = vendor.NODE_MODULES  # a module attribute, so a test can point it elsewhere
# The page that may compile WebAssembly (conference.middleware gives it 'wasm-unsafe-eval').
SCANNER_PATH = "/scan"
# The only files served from node_modules: ZXing's reader as a classic script (defines the global ZXingWASM)
# and its WebAssembly, under the name the script asks for (locateFile maps it to
# /scan/vendor/zxing_reader.wasm).
VENDOR: dict[str, tuple[str, str]] = {
    "zxing-reader.js": ("zxing-wasm/dist/iife/reader/index.js", "text/javascript; charset=utf-8"),
    "zxing_reader.wasm": ("zxing-wasm/dist/reader/zxing_reader.wasm", "application/wasm"),
}
_TEMPLATES = str(HERE / "templates")


def install() -> None:
    """Add this package's templates to the pages' loader (called by the app factory)."""
    templating.add_template_folder(_TEMPLATES)


async def scan_page(request: Request) -> Response:
    actor = await require_console(request, "staff", "organiser")
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        sessions = await programme.sessions_public(db)
    # Only workshops have seats to check against (a plenary or a talk would refuse everybody as not booked).
    lists = [{"id": s["id"], "label": _session_label(s)} for s in sessions if s["kind"] == "workshop"]
    return templating.render(
        request,
        "badges/scan.html",
        {
            "conference": conference,
            "lists": lists,
            "organiser": actor.kind == "organiser",
            "actor": actor,
            "undo_minutes": UNDO_MINUTES,
        },
    )


def _session_label(s: dict[str, Any]) -> str:
    # "Tue 8 Dec 2026, 11:00 · Data sharing in safeguarding (Room 1)": the start is in the conference's time.
    starts = datetime.fromisoformat(s["starts_at"])
    when = formats.when(starts, starts.tzinfo or formats.DEFAULT_ZONE)
    room = f" ({s['room']})" if s.get("room") else ""
    return f"{when} · {s['title']}{room}"


async def service_worker(request: Request) -> Response:
    """The scanner's service worker, from /scan/ so that it may control /scan itself (Service-Worker-Allowed):
    a reload or a phone restarted while offline opens the scanner from its cache (badges/static/scanner-sw.js)."""
    return Response(
        (HERE / "static" / "scanner-sw.js").read_bytes(),
        media_type="text/javascript; charset=utf-8",
        headers={"service-worker-allowed": SCANNER_PATH, "cache-control": "no-cache"},
    )


async def manifest(request: Request) -> Response:
    """Makes the scanner installable: "Add to home screen" opens it full screen, like an app."""
    return JSONResponse(
        {
            "name": "Check-in scanner",
            "short_name": "Check-in",
            "start_url": SCANNER_PATH,
            "scope": SCANNER_PATH,
            "display": "standalone",
            "orientation": "portrait",
            "background_color": "#ffffff",
            "theme_color": "#0b0c0c",
            "icons": [
                {"src": f"/scan/static/icon-{n}.png", "sizes": f"{n}x{n}", "type": "image/png"}
                for n in (192, 512)
            ],
        },
        media_type="application/manifest+json",
        headers={"cache-control": "no-cache"},
    )


async def vendor_file(request: Request) -> Response:
    return vendor.serve(request, VENDOR, NODE_MODULES, "The scanner's QR reader")


async def badge_pdf(request: Request) -> Response:
    """Print a badge for a delegate who came without one (staff at the desk, or organisers)."""
    await require_console(request, "staff", "organiser")
    reference = request.path_params["reference"].strip().upper()
    async with database(request).read() as db:
        registration_id = (
            await db.execute(sa.select(col(Registration.id)).where(col(Registration.reference) == reference))
        ).scalar_one_or_none()
    if registration_id is None:
        raise errors.NotFound("No registration has this reference.")
    return RedirectResponse(f"/api/v1/registrations/{registration_id}/badge.pdf", 303)


routes = [
    Route(SCANNER_PATH, scan_page, methods=["GET"], name="scan"),
    Route("/scan/vendor/{name}", vendor_file, methods=["GET"], name="scan-vendor"),
    Route("/scan/sw.js", service_worker, methods=["GET"], name="scan-service-worker"),
    Route("/scan/manifest.webmanifest", manifest, methods=["GET"], name="scan-manifest"),
    Route("/scan/badge/{reference}.pdf", badge_pdf, methods=["GET"], name="scan-badge-pdf"),
    Mount("/scan/static", StaticFiles(directory=HERE / "static"), name="scan-static"),
]
