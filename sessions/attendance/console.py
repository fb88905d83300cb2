"""After the event, in the organisers' console (/console/after-event): the CPD rules, issuing every certificate
(a run in the background of this process, its progress on a page of its own), the after-event emails' times,
the delegates admitted at the door with their certificates, and one delegate's page (verified attendance, the
certificate, add a missed scan, withdraw).

Organisers only (staff get 403: these are the organisers' decisions). Forms post with the CSRF token through
conference/web/forms.py: back (303) with `?done=<what>`, or the form again naming every problem, as typed.

The bulk run: the POST makes the run's row (bulk.start_run, which refuses a second while one is under way) and
starts bulk.run_issue as an asyncio task of this worker, which writes in batches of its own transactions; the run
page reads its progress from the row (from whichever worker serves it), as JSON for the page's script
(static/after_event.js) or, without JavaScript, by reloading.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from conference.console.login import require_console
from conference.core import errors, formats
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import Conference, Registration
from conference.core.settings import Settings
from conference.places import get_conference
from conference.web.forms import act, done_message, field_problems, show_again
from conference.web.request import database, settings
from conference.web.templating import FormRefused, form_values, render
from sessions.attendance import bulk, corrections, followup, overview, rules_form
from sessions.attendance.certificates import current_certificate, verify_url, withdraw_certificate
from sessions.models.attendance import CertificateRun

log = logging.getLogger("conference.after_event")

PATH = "/console/after-event"
DONE = {
    "settings_saved": "The CPD rules are saved. Certificates already issued say what they said until you issue "
    "certificates again.",
    "emails_scheduled": "The email times are saved: the emails wait in the outbox until then.",
    "scan_added": "The missed scan is added, and the delegate's certificate now counts it.",
    "withdrawn": "The certificate is withdrawn: its code no longer verifies.",
}
EMAIL_LABELS = {
    "certificate_at": "Send “Your certificate” at",
    "feedback_at": "Send “Tell us how it went” at",
}
DELEGATE_LABELS = {"session_id": "Session", "reason": "Reason", "form": "The form"}
REASON_MAX = 500  # Certificate.withdrawn_reason's length

# The runs this worker has under way: a task nobody references may be garbage-collected before it finishes.
_RUNS: set[asyncio.Task[None]] = set()


async def _organiser(request: Request, back: str = PATH) -> Actor:
    return await require_console(request, "organiser", back=back)


def _registration_id(request: Request) -> uuid.UUID:
    value = request.path_params["registration_id"]
    assert isinstance(value, uuid.UUID)
    return value


def _local_input(moment: datetime | None, zone: ZoneInfo) -> str:
    """A moment as a datetime-local field shows it."""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if moment else ""


def _conference_id(conference: Conference) -> int:
    assert conference.id is not None
    return conference.id


# --- the page -------------------------------------------------------------------------------------------------


async def page(
    request: Request,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await _organiser(request)
    q = request.query_params.get("q", "").strip()[:100]
    state = request.query_params.get("state", "")
    if state not in overview.STATES:
        state = ""
    async with database(request).read() as db:
        conference = await get_conference(db)
        conference_id = _conference_id(conference)
        s = await rules_form.current_settings(db, conference_id)
        rows, matching = await overview.delegate_rows(db, conference_id, q=q, state=state)
        counts = await overview.counts(db, conference_id)
        run = await bulk.latest_run(db, conference_id)
        emails = await followup.email_counts(db)
    zone = formats.conference_zone(conference)
    shown = {
        **rules_form.form_values(s),
        "certificate_at": _local_input(s.certificate_email_at, zone),
        "feedback_at": _local_input(s.feedback_email_at, zone),
    }
    typed = values or {}
    if "rate_plenary" in typed:  # the rules form came back: an unticked box is absent, not "as saved"
        shown["plenaries_on_door_scan"] = ""
    shown.update(typed)
    return render(
        request,
        "sessions/console_after_event.html",
        {
            "conference": conference,
            "settings": s,
            "values": shown,
            "errors": problems or {},
            "labels": {**rules_form.LABELS, **EMAIL_LABELS, "issue": "Issue certificates"},
            "kinds": rules_form.KINDS,
            "kind_labels": rules_form.KIND_LABELS,
            "roundings": rules_form.ROUNDINGS,
            "rows": rows,
            "matching": matching,
            "counts": counts,
            "run": run,
            "emails": emails,
            "q": q,
            "state": state,
            "states": overview.STATES,
            "message": "" if problems else done_message(request, DONE),
        },
        status_code=status_code,
    )


async def show(request: Request) -> Response:
    return await page(request)


async def save_settings(request: Request) -> Response:
    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        update = rules_form.parse_rules(values)
        conference = await get_conference(db)
        await rules_form.save_rules(db, conference_id=_conference_id(conference), update=update, actor=actor)
        return "settings_saved"

    return await act(
        request, action, actor=await _organiser(request), back=PATH, on_error=show_again(request, page)
    )


def _parse_times(values: dict[str, str], conference: Conference) -> dict[str, datetime | None]:
    zone = formats.conference_zone(conference)
    moments: dict[str, datetime | None] = {}
    problems: dict[str, str] = {}
    for name in EMAIL_LABELS:
        moment, problem = formats.form_moment(values.get(name, ""), zone)
        if problem:
            problems[name] = problem
        elif moment is not None and moment < conference.starts_at:
            problems[name] = (
                f"Choose a time after the event starts ({formats.when(conference.starts_at, zone)}), or leave "
                "it empty not to send this email."
            )
        moments[name] = moment
    if problems:
        raise errors.InvalidInput(fields=problems)
    return moments


async def schedule_emails(request: Request) -> Response:
    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        conference = await get_conference(db)
        times = _parse_times(values, conference)
        await followup.schedule_followups(
            db,
            settings(request),
            conference_id=_conference_id(conference),
            certificate_at=times["certificate_at"],
            feedback_at=times["feedback_at"],
            actor=actor,
        )
        return "emails_scheduled"

    return await act(
        request, action, actor=await _organiser(request), back=PATH, on_error=show_again(request, page)
    )


# --- the bulk run ---------------------------------------------------------------------------------------------


def _run_in_background(database_: Database, settings_: Settings, run_id: uuid.UUID, actor: Actor) -> None:
    async def run() -> None:
        try:
            await bulk.run_issue(database_, settings_, run_id=run_id, actor=actor)
        except Exception as exc:  # noqa: BLE001 - the run records its own error; a task's exception is lost
            log.error("certificate run %s stopped: %s", run_id, type(exc).__name__)

    task = asyncio.create_task(run(), name=f"certificate-run-{run_id}")
    _RUNS.add(task)
    task.add_done_callback(_RUNS.discard)


async def issue(request: Request) -> Response:
    actor = await _organiser(request)
    try:
        values = await form_values(request)
    except FormRefused as exc:
        return await page(
            request, problems=field_problems(exc), values=exc.values, status_code=exc.status_code
        )
    del values  # the form has the CSRF token only
    try:
        async with database(request).transaction() as db:
            conference = await get_conference(db)
            run = await bulk.start_run(db, conference_id=_conference_id(conference), actor=actor)
    except (errors.NotFound, errors.Forbidden):
        raise
    except errors.DomainError as exc:
        return await page(request, problems={"issue": exc.message}, status_code=exc.status_code)
    _run_in_background(database(request), settings(request), run.id, actor)
    return RedirectResponse(str(request.url_for("console-after-event-run", run_id=run.id)), 303)


async def _run(request: Request) -> CertificateRun:
    run_id = request.path_params["run_id"]
    assert isinstance(run_id, uuid.UUID)
    async with database(request).read() as db:
        run = await db.get(CertificateRun, run_id)
    if run is None:
        raise errors.NotFound("No certificate run has this id.")
    return run


def run_public(run: CertificateRun) -> dict[str, Any]:
    """A run's progress as the page's script reads it (a run whose worker stopped reads as stopped early)."""
    stopped = bulk.stalled(run)
    finished = run.finished_at is not None or stopped
    error = bulk.stalled_error(run) if stopped else run.error
    return {
        "id": str(run.id),
        "total": run.total,
        "done": run.done,
        "issued": run.issued,
        "finished": finished,
        "failed": bool(error),
        "error": error,
        "percent": 100 if finished and not error else (100 * run.done // run.total if run.total else 0),
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


async def run_page(request: Request) -> Response:
    await _organiser(request, str(request.url.path))
    run = await _run(request)
    async with database(request).read() as db:
        conference = await get_conference(db)
    return render(
        request,
        "sessions/console_after_run.html",
        {"conference": conference, "run": run, "p": run_public(run)},
    )


async def run_json(request: Request) -> Response:
    await _organiser(request, str(request.url.path))
    run = await _run(request)
    return JSONResponse(run_public(run), headers={"cache-control": "no-store"})


# --- one delegate -----------------------------------------------------------------------------------------------


async def _delegate_context(request: Request) -> dict[str, Any]:
    registration_id = _registration_id(request)
    async with database(request).read() as db:
        conference = await get_conference(db)
        s = await rules_form.current_settings(db, _conference_id(conference))
        zone = formats.conference_zone(conference)
        registration = await db.get(Registration, registration_id)
        if registration is None or registration.conference_id != conference.id:
            raise errors.NotFound("No registration has this id.")
        detail = await overview.delegate_detail(db, registration, s, zone)
    current = detail.current
    return {
        "conference": conference,
        "d": detail,
        "r": registration,
        "verify": verify_url(settings(request), current.code) if current else "",
        "labels": DELEGATE_LABELS,
    }


async def delegate_page(
    request: Request,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await _organiser(request, str(request.url.path))
    context = await _delegate_context(request)
    context.update(
        {
            "errors": problems or {},
            "values": values or {},
            "message": "" if problems else done_message(request, DONE),
        }
    )
    return render(request, "sessions/console_after_delegate.html", context, status_code=status_code)


async def show_delegate(request: Request) -> Response:
    return await delegate_page(request)


def _session_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw.strip())
    except ValueError:
        raise errors.InvalidInput(fields={"session_id": "Choose the session they attended."}) from None


async def add_scan(request: Request) -> Response:
    back = str(request.url_for("console-after-event-delegate", registration_id=_registration_id(request)))

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        await corrections.add_missed_scan(
            db,
            settings(request),
            registration_id=_registration_id(request),
            session_id=_session_id(values.get("session_id", "")),
            reason=values.get("reason", ""),
            actor=actor,
        )
        return "scan_added"

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        if isinstance(exc, errors.NotFound):
            raise exc
        return await delegate_page(
            request, problems=field_problems(exc), values=values, status_code=exc.status_code
        )

    return await act(request, action, actor=await _organiser(request, back), back=back, on_error=on_error)


async def withdraw_page(
    request: Request,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await _organiser(request, str(request.url.path))
    context = await _delegate_context(request)
    context.update({"errors": problems or {}, "values": values or {}})
    return render(request, "sessions/console_after_withdraw.html", context, status_code=status_code)


async def withdraw(request: Request) -> Response:
    registration_id = _registration_id(request)
    back = str(request.url_for("console-after-event-delegate", registration_id=registration_id))

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        reason = values.get("reason", "").strip()
        if not reason:
            raise errors.InvalidInput(
                fields={
                    "reason": "Say why it is withdrawn, e.g. the delegate left before the sessions it lists."
                }
            )
        if len(reason) > REASON_MAX:
            raise errors.InvalidInput(
                fields={"reason": f"Keep the reason to {REASON_MAX} characters or fewer."}
            )
        current = await current_certificate(db, registration_id)
        if current is None:
            raise errors.DomainError(
                "This delegate has no current certificate to withdraw.",
                fields={"reason": "Nothing to withdraw."},
            )
        await withdraw_certificate(db, certificate_id=current.id, reason=reason, actor=actor)
        return "withdrawn"

    return await act(
        request,
        action,
        actor=await _organiser(request, back),
        back=back,
        on_error=show_again(request, withdraw_page),
    )


routes = [
    Route(PATH, show, methods=["GET"], name="console-after-event"),
    Route(PATH + "/settings", save_settings, methods=["POST"], name="console-after-event-settings"),
    Route(PATH + "/emails", schedule_emails, methods=["POST"], name="console-after-event-emails"),
    Route(PATH + "/issue", issue, methods=["POST"], name="console-after-event-issue"),
    Route(PATH + "/runs/{run_id:uuid}.json", run_json, methods=["GET"], name="console-after-event-run-json"),
    Route(PATH + "/runs/{run_id:uuid}", run_page, methods=["GET"], name="console-after-event-run"),
    Route(
        PATH + "/delegates/{registration_id:uuid}",
        show_delegate,
        methods=["GET"],
        name="console-after-event-delegate",
    ),
    Route(
        PATH + "/delegates/{registration_id:uuid}/scans",
        add_scan,
        methods=["POST"],
        name="console-after-event-scan-add",
    ),
    Route(
        PATH + "/delegates/{registration_id:uuid}/withdraw",
        withdraw_page,
        methods=["GET"],
        name="console-after-event-withdraw-confirm",
    ),
    Route(
        PATH + "/delegates/{registration_id:uuid}/withdraw",
        withdraw,
        methods=["POST"],
        name="console-after-event-withdraw",
    ),
]
