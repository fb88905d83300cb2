"""The application: routes, middleware, error handlers and the lifespan that owns engines and workers."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from badges import api as badges_api
from badges import checkin, checkin_api, checkin_log, scanner, ticket_pages
from badges.codes import signer_for
from conference import self_service, verification
from conference.api import codes as codes_api
from conference.api import groups as groups_api
from conference.api import invoices as invoice_api
from conference.api import payments as payment_api
from conference.api import questions as questions_api
from conference.api import registrations as api
from conference.console import (
    accounts as console_accounts,
)
from conference.console import audit as console_audit
from conference.console import booking as console_booking
from conference.console import codes as console_codes
from conference.console import dashboard as console_dashboard
from conference.console import delegates as console_delegates
from conference.console import event as console_event
from conference.console import groups as console_groups
from conference.console import (
    login as console,
)
from conference.console import messages as console_messages
from conference.console import outbox as console_outbox
from conference.console import questions as console_questions
from conference.console import registration as console_registration
from conference.console import (
    registrations as console_registrations,
)
from conference.console import settings as console_settings
from conference.console import ticket_types as console_ticket_types
from conference.core import errors, metrics
from conference.core.db import Database, is_unavailable
from conference.core.settings import Settings, load_settings
from conference.group_commit import RegistrationQueue
from conference.mail.sender import MailWorker
from conference.pages import answers as answer_pages
from conference.pages import group_personal_data as group_data_pages
from conference.pages import groups as group_pages
from conference.pages import legal as legal_pages
from conference.pages import registration as pages
from conference.pages import self_service as self_service_pages
from conference.pages import verification as verification_pages
from conference.payments.gateway import checkout_origins
from conference.payments.worker import PaymentWorker
from conference.personal_data import RetentionWorker
from conference.server import openapi, plugins, readiness
from conference.verification import VerificationWorker
from conference.web import templating
from conference.web.middleware import BodyLimit, QueryText, RequestContext, SecurityHeaders, route_template
from conference.web.ratelimit import RateLimit
from sessions.attendance import console as after_event_console
from sessions.attendance import pages as certificate_pages
from sessions.call import api as proposals_api
from sessions.call import console as proposals_console
from sessions.call import pages as proposals_pages
from sessions.feedback import console as feedback_console
from sessions.feedback import pages as feedback_pages
from sessions.library import console as library_console
from sessions.library import pages as library_speaker_pages
from sessions.library import public_pages as library_pages
from sessions.schedule import api as schedule_api
from sessions.schedule import console as schedule_console
from sessions.schedule import pages as published_web
from sessions.workshops import api as sessions_api
from sessions.workshops import console as sessions_console
from sessions.workshops import pages as sessions_pages

log = logging.getLogger("conference")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", "")


def _error_response(request: Request, error: errors.DomainError) -> Response:
    headers = {"retry-after": "60"} if isinstance(error, errors.RateLimited) else None
    if _wants_json(request):
        return error.response(headers)
    if isinstance(error, console.LoginRequired):
        return RedirectResponse(request.url_for("login").include_query_params(next=error.path), 303)
    # A refused field is named on the page too (a form post with a control character in it, say).
    problems = error.fields if isinstance(error, errors.InvalidInput) else None
    context = {
        "title": error.message,
        "text": "",
        "back": "/",
        "problems": problems or {},
        # A booking or confirmation link that opens nothing: the page offers to email the link again (issue 18).
        "lost_link": isinstance(error, (self_service.InvalidManageLink, verification.InvalidLink)),
    }
    response = templating.render(request, "conference/message.html", context, status_code=error.status_code)
    response.headers.update(headers or {})
    return response


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.DomainError)
    return _error_response(request, exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = errors.DomainError(exc.detail if exc.status_code != 404 else errors.NotFound.message)
    error.status_code = exc.status_code
    error.code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return _error_response(request, error)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    if is_unavailable(exc):
        log.warning("database unavailable: %s", type(exc).__name__)
        return _error_response(request, errors.ServiceUnavailable())
    # The class name only: exception text can quote personal data.
    # The route's template, not the path: paths hold private links.
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, route_template(request.scope))
    error = errors.DomainError("Something went wrong on our side; it has been logged. Please try again.")
    error.status_code, error.code = 500, "internal_error"
    return _error_response(request, error)


async def database_error(request: Request, exc: Exception) -> Response:
    """The database going away is answered here, not by unexpected_error: Starlette's outermost handler (the one
    for Exception) re-raises after answering, and uvicorn then closes the connection, so a keep-alive client's
    next request on it is cut off with no answer at all. Anything else is a bug: on to the 500 handler."""
    if not is_unavailable(exc):
        raise exc
    log.warning("database unavailable: %s", type(exc).__name__)
    return _error_response(request, errors.ServiceUnavailable())


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


_FAVICON = Path(__file__).parent.parent / "static" / "favicon.ico"


async def favicon(request: Request) -> Response:
    # Browsers, feed readers and link previews ask for /favicon.ico whatever a page links: the icon, not a 404.
    return FileResponse(
        _FAVICON, media_type="image/x-icon", headers={"cache-control": "public, max-age=86400"}
    )


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()
    plugins.install()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        database = Database.from_settings(settings)
        worker = MailWorker(database, settings)
        payment_worker = PaymentWorker(database, settings)
        retention_worker = RetentionWorker(
            database, settings
        )  # erases personal data past conference.retention_days
        # Releases domain-approved places whose delegate did not confirm their email address in time.
        verification_worker = VerificationWorker(database, settings)
        app.state.database = database
        app.state.registrations = RegistrationQueue(database, settings)
        app.state.mail = worker
        app.state.payments = payment_worker
        app.state.badge_signer = signer_for(settings)
        readiness.revisions()  # read the migration scripts once, before /readyz is first asked
        await database.warm_up()
        await checkin.warm_up(database, app.state.badge_signer)
        worker.start()
        payment_worker.start()
        retention_worker.start()
        verification_worker.start()
        try:
            yield
        finally:
            await verification_worker.stop()
            await retention_worker.stop()
            await payment_worker.stop()
            await worker.stop()
            await database.dispose()
            metrics.worker_stopped()

    app = Starlette(
        debug=False,
        routes=[
            Route("/healthz", healthz, name="healthz"),
            Route("/favicon.ico", favicon, name="favicon"),
            Route("/readyz", readiness.readyz, name="readyz"),
            Route(
                "/metrics", metrics.metrics_endpoint, name="metrics"
            ),  # off unless CONFERENCE_METRICS_TOKEN
            *invoice_api.routes,  # full /api/v1/... paths, so before the Mount that would swallow them
            *console_dashboard.api_routes,  # /api/v1/dashboard, likewise
            Mount(
                "/api/v1",
                routes=[
                    # The door's scans first: the busiest route of the event day, matched in one step, not
                    # after every other route (route matching was a tenth of a scan's CPU).
                    *checkin_api.routes,
                    *api.routes,
                    *questions_api.routes,
                    *codes_api.routes,
                    *groups_api.routes,
                    *payment_api.api_routes,
                    *sessions_api.routes,
                    *proposals_api.routes,
                    *schedule_api.routes,
                    *published_web.api_routes,
                    *badges_api.routes,
                    *openapi.routes,
                ],
            ),
            *payment_api.routes,
            Mount("/static", StaticFiles(directory=Path(__file__).parent.parent / "static"), name="static"),
            *pages.routes,
            *answer_pages.routes,
            *group_pages.routes,
            *group_data_pages.routes,
            *self_service_pages.routes,
            *verification_pages.routes,
            *legal_pages.routes,
            *console.routes,
            *console_accounts.routes,
            *console_dashboard.routes,
            *console_registrations.routes,
            *console_registration.routes,
            *console_settings.routes,
            *console_questions.routes,
            *console_event.routes,
            *console_delegates.routes,
            *console_ticket_types.routes,
            *console_codes.routes,
            *console_booking.routes,
            *console_groups.routes,
            *console_messages.routes,
            *console_outbox.routes,
            *console_audit.routes,
            *checkin_log.routes,
            *sessions_pages.routes,
            *certificate_pages.routes,  # /verify/{code}, /manage/{token}/certificate(.pdf)
            *sessions_console.routes,
            *after_event_console.routes,  # /console/after-event: CPD rules, certificates, emails
            *proposals_pages.routes,
            *library_speaker_pages.routes,  # a speaker's slides and links: /proposal/{token}/resources
            *feedback_pages.routes,  # session feedback: /manage/{token}/feedback, /proposal/{token}/feedback
            *feedback_console.routes,  # /console/feedback
            *published_web.routes,
            *proposals_console.routes,
            *schedule_console.routes,
            *library_pages.routes,  # the best-practice library: /library, /manage/{token}/library
            *library_console.routes,  # /console/library
            *scanner.routes,
            *ticket_pages.routes,
        ],
        middleware=[
            Middleware(
                RequestContext
            ),  # request id, request log, HTTP metrics: outermost, so it sees every answer
            Middleware(
                SecurityHeaders,
                hsts=settings.base_url.startswith("https"),
                form_targets=checkout_origins(settings),
                wasm_paths=(scanner.SCANNER_PATH,),
            ),
            Middleware(
                BodyLimit,
                max_bytes=settings.max_body_bytes,
                timeout=settings.body_timeout_seconds,
                larger={"/group": max(settings.max_body_bytes, group_pages.BODY_BYTES)},
                # A speaker's upload: the largest file (CONFERENCE_LIBRARY_MAX_BYTES) and its form.
                larger_patterns=(library_speaker_pages.upload_body_limit(settings),),
                refuse=_error_response,  # 413 as an error page for a browser, naming the limit
            ),
            # Signed (itsdangerous) cookie for the console: the random key of a server-side session (console_session).
            Middleware(
                SessionMiddleware,
                secret_key=str(settings.secret_key),
                session_cookie="console",
                max_age=12 * 3600,
                same_site="lax",
                https_only=settings.base_url.startswith("https"),
            ),
            # A control character in the query string: 422 naming the parameter, whichever endpoint it is for.
            Middleware(QueryText, refuse=_error_response),
        ],
        exception_handlers={
            errors.DomainError: domain_error,
            HTTPException: http_error,
            DBAPIError: database_error,
            PoolTimeout: database_error,
            OSError: database_error,
            Exception: unexpected_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.rate_limit = RateLimit(settings.rate_limit_registrations)
    return app


def serve_app() -> Starlette:
    """The app as `conference serve` runs it, in each worker process.

    Everything imported and built so far lives as long as the process, so it is moved out of the garbage
    collector's sight (`gc.freeze`, as CPython's docs suggest for servers): otherwise each full collection walks
    it all again, a pause of 70 ms measured here in the middle of a door rush.
    """
    app = create_app()
    gc.collect()
    gc.freeze()
    return app
