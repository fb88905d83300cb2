"""The organisers' live dashboard: `/console/dashboard` (the page) and `GET /api/v1/dashboard` (the same figures
and series as JSON), both organisers only. Counts only: no names or other personal data, so viewing it is not
written to the audit trail.

The page works without JavaScript: headline figures in a <dl>, and every chart's data in a table (in a
<details>) rendered here. Its script (static/dashboard.js, no inline script: the Content-Security-Policy keeps
`script-src 'self'`) draws the four charts with Chart.js and polls the JSON every POLL_SECONDS with the console
session cookie (a GET needs no CSRF header), updating figures, charts and tables in place. Polling rather than
server-sent events: any of several server instances can answer, and nothing is held open per organiser.

Chart.js is an npm dependency (package.json, pinned, with its lockfile), served from node_modules like the
scanner's QR reader (badges/scanner.py): `/console/vendor/chart.umd.js` is its UMD build, the only file served
there; 503 saying "run npm ci" when node_modules is missing.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from conference import dashboard, event
from conference.console.login import require_console
from conference.web import vendor
from conference.web.request import caller, database
from conference.web.templating import render

POLL_SECONDS = 5
NODE_MODULES = vendor.NODE_MODULES  # a module attribute, so a test can point it elsewhere
# The only file served from node_modules here: Chart.js's UMD build (defines the global Chart).
VENDOR: dict[str, tuple[str, str]] = {
    "chart.umd.js": ("chart.js/dist/chart.umd.js", "text/javascript; charset=utf-8"),
}


async def _figures(request: Request) -> dict[str, Any]:
    async with database(request).read() as db:
        return await dashboard.dashboard(db)


async def dashboard_page(request: Request) -> Response:
    await require_console(request, "organiser")
    async with database(request).read() as db:
        if await event.find_conference(db) is None:  # an empty database: set the event up first
            return RedirectResponse(request.url_for("console-event"), status_code=303)
    figures = await _figures(request)
    return render(
        request,
        "console/dashboard.html",
        {
            "conference": {"name": figures["conference"]["name"]},
            "d": figures,
            "poll_seconds": POLL_SECONDS,
        },
    )


async def dashboard_api(request: Request) -> Response:
    await caller(request, "organiser")
    return JSONResponse(await _figures(request), headers={"cache-control": "no-store"})


async def vendor_file(request: Request) -> Response:
    return vendor.serve(request, VENDOR, NODE_MODULES, "The dashboard's charts library")


routes = [
    Route("/console/dashboard", dashboard_page, methods=["GET"], name="console-dashboard"),
    Route("/console/vendor/{name}", vendor_file, methods=["GET"], name="console-vendor"),
]
# Full paths: mounted before the app's /api/v1 Mount, like invoice_api.routes.
api_routes = [
    Route("/api/v1/dashboard", dashboard_api, methods=["GET"], name="api-dashboard"),
]
