"""The group booking pages: the public form at /group (a lead books several colleagues at once, typed person by
person or read from a CSV or Excel file), and the lead's page at /group/manage/{token} (the group's members: add,
substitute, cancel one; the group's invoice and a CSV).

No JavaScript: "Add a person", "Remove" and "Upload and preview" are submit buttons that show the form again with
the change (every person's fields carried in the form), and nothing is booked until "Book" finds no problem with
the lead, the payment or any person. A group that does not fit is never booked in part by accident: the page says
how many places are left and offers the waiting list for the whole group, or booking the first K people (each a
button the lead presses). The booking rules are conference/groups.py's; the file's are conference/group_upload.py's.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from conference import answers, group_upload, groups, places
from conference.core import errors
from conference.core.audit import Actor
from conference.core.group_models import GroupBooking
from conference.core.models import REGIONS, SECTOR_LABELS, Invoice, Registration, Status, TicketType
from conference.core.question_models import Question
from conference.group_upload import DETAIL_HEADERS, MemberRow
from conference.questions import all_questions
from conference.web import downloads
from conference.web.downloads import private_file
from conference.web.forms import NOT_THE_FORMS_FAULT
from conference.web.request import database, payment_gateway, rate_limit, settings
from conference.web.templating import FormRefused, form_values, render

# The upload's body may be larger than a form's (conference/server/app.py gives this path its own limit).
BODY_BYTES = group_upload.MAX_BYTES + 256 * 1024
START_ROWS = 2
LEAD_FIELDS = (
    "lead_name",
    "lead_email",
    "organisation",
    "sector",
    "ticket_type_id",
    "code",
    "payment_method",
)
BILLING_FIELDS = ("organisation", "contact", "email", "address", "purchase_order", "buyer_reference")
LABELS = {
    "lead_name": "Your full name",
    "lead_email": "Your email address",
    "lead_attends": "Are you attending",
    "organisation": "Organisation",
    "sector": "Sector",
    "ticket_type_id": "Ticket type",
    "code": "Code",
    "payment_method": "Payment",
    "billing_organisation": "Organisation to invoice",
    "billing_contact": "Finance contact",
    "billing_email": "Finance contact's email",
    "billing_address": "Invoice address",
    "billing_purchase_order": "Purchase order number",
    "billing_buyer_reference": "Buyer reference",
    "consent": "Privacy notice",
    "upload": "File of colleagues",
    "members": "People",
    "form": "Group booking",
}
_MEMBER_PATH = re.compile(r"members\[(\d+)\]\.?(.*)")


# --- the form's people -------------------------------------------------------------------------------------------


class _MemberForm:
    """One person's fields in the posted form (m3_name, m3_answers_<id>...), read as answers.form_answers reads
    a delegate's own form."""

    def __init__(self, form: FormData, index: int) -> None:
        self.form, self.prefix = form, f"m{index}_"

    def getlist(self, key: str) -> list[Any]:
        return list(self.form.getlist(self.prefix + key))


def _typed_rows(
    form: FormData, asked: list[Question], ticket_type_id: str | None, limit: int
) -> list[MemberRow]:
    try:
        count = int(str(form.get("members", START_ROWS)))
    except ValueError:
        count = START_ROWS
    rows = []
    for index in range(1, max(1, min(count, limit)) + 1):
        person = _MemberForm(form, index)
        details = {name: _last(person, name) for name in DETAIL_HEADERS}
        typed: dict[str, Any] = {}
        for q in asked:
            given = [v for v in person.getlist(answers.form_field(q)) if isinstance(v, str)]
            typed[str(q.id)] = given if q.kind.value == "multiple_choice" else (given[-1] if given else "")
        rows.append(MemberRow(line=0, details=details, answers={}, answer_text=typed))
    return rows


def _last(person: _MemberForm, name: str) -> str:
    values = [v for v in person.getlist(name) if isinstance(v, str)]
    return values[-1].strip() if values else ""


def _blank(row: MemberRow) -> bool:
    return not any(row.details.values()) and not any(row.answer_text.values())


def _recheck(rows: list[MemberRow], asked: list[Question], ticket_type_id: str | None) -> list[MemberRow]:
    """Each row checked afresh (its problems from its current values), then emails given twice."""
    checked = [group_upload.form_row(r.details, r.answer_text, asked, ticket_type_id) for r in rows]
    for fresh, row in zip(checked, rows, strict=True):
        fresh.line = row.line
    group_upload.check_duplicates(checked)
    return checked


def _answer_state(rows: list[MemberRow], asked: list[Question]) -> dict[str, Any]:
    """What was typed or ticked for each person's questions, by form field (m3_answers_<id>)."""
    state: dict[str, Any] = {}
    for index, row in enumerate(rows, start=1):
        for q in asked:
            value = row.answer_text.get(str(q.id), [] if q.kind.value == "multiple_choice" else "")
            if q.kind.value == "multiple_choice" and isinstance(value, str):
                value = [v.strip() for v in re.split(r"[;,]", value) if v.strip()]
            state[f"m{index}_{answers.form_field(q)}"] = value
    return state


# --- the public form ---------------------------------------------------------------------------------------------


async def _context(request: Request) -> dict[str, Any]:
    async with database(request).read() as db:
        conf = await places.get_conference(db)
        seen = await places.availability(db, conf)
        types = await places.ticket_types_with_availability(db, conf)
        asked = await all_questions(db, include_hidden=False)
    return {
        "conference": conf,
        "seen": seen,
        "ticket_types": [(t, available) for t, available in types if t.public],
        "questions": asked,
        "sectors": SECTOR_LABELS,
        "regions": REGIONS,
        "labels": LABELS,
        "max_members": settings(request).group_max_members,
        "paid_types": any(t.price_pence for t, _ in types),
    }


async def _render_form(
    request: Request,
    *,
    values: dict[str, str],
    rows: list[MemberRow],
    problems: dict[str, str] | None = None,
    preview: dict[str, Any] | None = None,
    full: dict[str, int] | None = None,
    focus: str = "",
    status_code: int = 200,
) -> Response:
    context = await _context(request)
    chosen = values.get("ticket_type_id") or None
    asked = answers.asked_of(context["questions"], chosen)
    return render(
        request,
        "conference/group.html",
        {
            **context,
            "asked": asked,
            "values": values,
            "rows": rows,
            "member_values": {
                f"m{i}_{name}": value
                for i, row in enumerate(rows, start=1)
                for name, value in row.details.items()
            },
            "answer_values": _answer_state(rows, asked),
            "errors": problems or {},
            "row_problems": {i: row.problems for i, row in enumerate(rows, start=1) if row.problems},
            "preview": preview,
            "full": full,
            "focus": focus,
        },
        status_code=status_code,
    )


async def group_form(request: Request) -> Response:
    rows = [MemberRow(line=0, details=dict.fromkeys(DETAIL_HEADERS, ""), answers={}, answer_text={})]
    return await _render_form(request, values={}, rows=rows * 1 + [_empty() for _ in range(START_ROWS - 1)])


def _empty() -> MemberRow:
    return MemberRow(line=0, details=dict.fromkeys(DETAIL_HEADERS, ""), answers={}, answer_text={})


async def group_post(request: Request) -> Response:
    action = (await request.form()).get("action", "book")
    # Booking and reading a file are limited as registrations are; adding or removing a row is only the form.
    if action == "upload" or not (action == "add" or str(action).startswith("remove-")):
        await rate_limit(request).check(request, "registrations")
    try:
        return await _group_post(request)
    finally:
        await (await request.form()).close()  # the uploaded file's temporary copy


async def _group_post(request: Request) -> Response:
    refused: dict[str, str] = {}
    try:
        values = await form_values(request)
    except FormRefused as exc:
        values, refused = exc.values, {k.replace(".", "_"): v for k, v in (exc.fields or {}).items()}
    form = await request.form()
    limit = settings(request).group_max_members
    context = await _context(request)
    chosen = values.get("ticket_type_id") or None
    asked = answers.asked_of(context["questions"], chosen)
    rows = _typed_rows(form, asked, chosen, limit)
    action = values.get("action", "book")

    if action == "add":
        if len(rows) >= limit:
            return await _render_form(
                request,
                values=values,
                rows=rows,
                problems={"members": f"A group books at most {limit} people."},
                status_code=422,
            )
        rows.append(_empty())
        return await _render_form(request, values=values, rows=rows, focus=f"m{len(rows)}_name")
    if action.startswith("remove-"):
        index = int(action.removeprefix("remove-")) if action.removeprefix("remove-").isdigit() else 0
        if 1 <= index <= len(rows) and len(rows) > 1:
            del rows[index - 1]
        return await _render_form(
            request, values=values, rows=_recheck(rows, asked, chosen) if refused else rows
        )
    if action == "upload":
        return await _upload(
            request, form=form, values=values, rows=rows, asked=asked, chosen=chosen, limit=limit
        )

    # Book: every problem at once (the lead's, the payment's and every person's), nothing booked while any remain.
    rows = [r for r in rows if not _blank(r)] or rows[:1]
    keep = len(rows)
    if action.startswith("book-first-") and action.removeprefix("book-first-").isdigit():
        keep = max(1, int(action.removeprefix("book-first-")))  # the lead chose to book K of them
        rows = rows[:keep]
    rows = _recheck(rows, asked, chosen)
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        assert conference.id is not None
        await group_upload.mark_registered(db, conference_id=conference.id, rows=rows)
    body = _body(values, rows, if_full="waitlist" if action == "waitlist" else "refuse")
    problems = dict(refused)
    parsed = None
    try:
        parsed = groups.parse(groups.GroupCreate, body)
    except errors.InvalidInput as exc:
        problems.update(_problems(exc.fields or {}, rows))
    if not values.get("ticket_type_id"):
        problems["ticket_type_id"] = "Choose a ticket type."
    if values.get("consent") != "yes":
        problems["consent"] = "Confirm that your colleagues know we hold their details for the conference."
    if any(r.problems for r in rows):
        count = sum(1 for r in rows if r.problems)
        problems["members"] = (
            f"{count} {'person needs' if count == 1 else 'people need'} correcting: see below."
        )
    if problems or parsed is None:
        return await _render_form(request, values=values, rows=rows, problems=problems, status_code=422)
    try:
        async with database(request).transaction() as db:
            booked = await groups.book_group(db, settings(request), body=parsed, actor=Actor("anonymous"))
    except groups.NotEnoughPlaces as exc:
        return await _render_form(
            request,
            values=values,
            rows=rows,
            full={"remaining": exc.remaining, "asked": exc.wanted},
            status_code=409,
        )
    except NOT_THE_FORMS_FAULT:
        raise
    except errors.DomainError as exc:  # already registered, a code refused, registration closed...
        problems = _problems(exc.fields or {"form": exc.message}, rows)
        return await _render_form(
            request, values=values, rows=rows, problems=problems, status_code=exc.status_code
        )
    if booked.group.payment_method == "card" and any(
        m.registration.status == Status.pending_payment for m in booked.members
    ):
        # One Stripe Checkout for the whole group; without one (Stripe down), the lead's page says what is owed.
        started = await payment_gateway(request).group_checkout(
            database(request), settings(request), booked.group.id
        )
        if started.url:
            return RedirectResponse(started.url, 303)
    return RedirectResponse(
        request.url_for("group-manage", token=booked.manage_token).include_query_params(new="1"), 303
    )


async def _upload(
    request: Request,
    *,
    form: FormData,
    values: dict[str, str],
    rows: list[MemberRow],
    asked: list[Question],
    chosen: str | None,
    limit: int,
) -> Response:
    file = form.get("upload")
    if not isinstance(file, UploadFile) or not file.filename:
        return await _render_form(
            request,
            values=values,
            rows=rows,
            problems={"upload": "Choose a CSV or Excel file of your colleagues to upload."},
            status_code=422,
        )
    data = await file.read(group_upload.MAX_BYTES + 1)
    try:
        upload = group_upload.parse(
            data, filename=file.filename, questions=asked, ticket_type_id=chosen, max_members=limit
        )
    except group_upload.UploadRefused as exc:
        return await _render_form(
            request, values=values, rows=rows, problems={"upload": exc.message}, status_code=422
        )
    typed = [r for r in rows if not _blank(r)]
    if len(typed) + len(upload.rows) > limit:
        message = f"The file has {len(upload.rows)} people and the form {len(typed)} more: a group books at most {limit}."
        return await _render_form(
            request, values=values, rows=rows, problems={"upload": message}, status_code=422
        )
    merged = _recheck(typed, asked, chosen) + upload.rows
    for index, row in enumerate(merged[len(typed) :], start=len(typed) + 1):
        del index
        row.problems = [p for p in row.problems if "is also in row" not in p]
    group_upload.check_duplicates(merged)
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        assert conference.id is not None
        await group_upload.mark_registered(db, conference_id=conference.id, rows=merged)
    preview = {
        "filename": file.filename,
        "count": len(upload.rows),
        "ignored": upload.ignored,
        "problems": sum(len(r.problems) for r in merged),
    }
    return await _render_form(request, values=values, rows=merged, preview=preview, focus="preview")


def _body(values: dict[str, str], rows: list[MemberRow], *, if_full: str) -> dict[str, Any]:
    method = values.get("payment_method") or "none"
    body: dict[str, Any] = {
        "lead": {
            "name": values.get("lead_name", ""),
            "email": values.get("lead_email", ""),
            "attends": values.get("lead_attends") == "yes",
        },
        "organisation": values.get("organisation", ""),
        "sector": values.get("sector", ""),
        "members": [row.member() for row in rows],
        "payment_method": method,
        "if_full": if_full,
    }
    if values.get("ticket_type_id"):
        body["ticket_type_id"] = values["ticket_type_id"]
    if values.get("code", "").strip():
        body["code"] = values["code"].strip()
    billing = {k: values.get(f"billing_{k}", "") for k in BILLING_FIELDS}
    # Left empty, the billing is asked for only if a price remains (a code may make the places free).
    if method == "invoice" and any(v.strip() for v in billing.values()):
        body["billing"] = billing
    return body


def _problems(fields: dict[str, str], rows: list[MemberRow]) -> dict[str, str]:
    """The API's field names as the form's (lead.name -> lead_name, billing.email -> billing_email); a person's
    problem (members.2.email) goes on that person's row."""
    found: dict[str, str] = {}
    for name, problem in fields.items():
        match = _MEMBER_PATH.fullmatch(name)
        if match and int(match.group(1)) < len(rows):
            row = rows[int(match.group(1))]
            what = match.group(2).replace("answers.", "answer ")
            row.problems.append(f"{group_upload.DETAIL_LABELS.get(what, what or 'This person')}: {problem}")
            found["members"] = "Some people need correcting: see below."
            continue
        key = {
            "lead.name": "lead_name",
            "lead.email": "lead_email",
            "lead.attends": "lead_attends",
            "billing": "billing_organisation",
        }.get(name, name.replace(".", "_"))
        found[key if key in LABELS else "form"] = problem
    return found


# --- the lead's page ---------------------------------------------------------------------------------------------


async def _group(request: Request) -> GroupBooking:
    async with database(request).read() as db:
        return await groups.find_by_token(db, request.path_params["token"])


async def group_view(db: AsyncSession, group: GroupBooking) -> dict[str, Any]:
    """The group's members (in booking order, with their ticket) and its invoices and credit notes."""
    members = await groups.members_of(db, group.id)
    documents = (
        (
            await db.execute(
                sa.select(Invoice).where(col(Invoice.group_id) == group.id).order_by(col(Invoice.created_at))
            )
        )
        .scalars()
        .all()
    )
    ticket = await db.get(TicketType, group.ticket_type_id)
    live = [m for m in members if m.status != Status.cancelled]
    # A card group's places still held for its one payment (a colleague added after it was paid, say): what the
    # lead's "Pay by card" charges, and when the holds end.
    unpaid = (
        [m for m in members if m.status == Status.pending_payment] if group.payment_method == "card" else []
    )
    holds = [m.hold_expires_at for m in unpaid if m.hold_expires_at is not None]
    return {
        "members": list(members),
        "live": len(live),
        "invoices": list(documents),
        "ticket": ticket,
        "unpaid": len(unpaid),
        "due_pence": await groups.group_checkout_amount(db, group) if unpaid else 0,
        "held_until": min(holds) if holds else None,
    }


def _lead(group: GroupBooking) -> Actor:
    return Actor("group_lead", group.reference, scope_id=group.id)


def _registration_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["registration_id"])
    except ValueError:
        raise errors.NotFound("No member has this id.") from None


async def _member(request: Request, group: GroupBooking) -> Registration:
    async with database(request).read() as db:
        member = await db.get(Registration, _registration_id(request))
    if member is None or member.group_id != group.id:
        raise errors.NotFound("No member of this group has this id.")
    return member


async def _manage_page(
    request: Request,
    group: GroupBooking,
    *,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    async with database(request).read() as db:
        conf = await places.get_conference(db)
        view = await group_view(db, group)
        seen = await places.availability(db, conf)
    return render(
        request,
        "conference/group_manage.html",
        {
            "conference": conf,
            "group": group,
            "view": view,
            "token": request.path_params["token"],
            "seen": seen,
            "new": request.query_params.get("new") == "1",
            "done": request.query_params.get("done", ""),
            "values": values or {},
            "errors": problems or {},
        },
        status_code=status_code,
    )


async def manage(request: Request) -> Response:
    return await _manage_page(request, await _group(request))


async def pay(request: Request) -> Response:
    """The "Pay by card" button: open (or reopen) the group's one Checkout page for every place still held for it."""
    group = await _group(request)
    await form_values(request)
    problem = "This group does not pay by card." if group.payment_method != "card" else ""
    started = None
    if not problem:
        try:
            started = await payment_gateway(request).group_checkout(
                database(request), settings(request), group.id
            )
        except NOT_THE_FORMS_FAULT:
            raise
        except errors.DomainError as exc:  # nothing left to pay, the hold has ended, too many attempts
            problem = exc.message
    if started is not None and started.url:
        return RedirectResponse(started.url, 303)
    if started is not None:  # Stripe did not answer, or card payment is not set up
        problem = started.error or "Card payment could not be started; try again shortly."
    return await _manage_page(
        request, group, problems={"pay": problem}, status_code=409 if not started else 503
    )


def _member_problems(exc: errors.DomainError) -> dict[str, str]:
    fields = exc.fields or {"form": exc.message}
    if not isinstance(exc, errors.InvalidInput):
        return {name: exc.message for name in fields}
    return {k if k in ("name", "email", "job_title") else "form": v for k, v in fields.items()}


def _back_to_manage(request: Request, done: str) -> Response:
    return RedirectResponse(
        request.url_for("group-manage", token=request.path_params["token"]).include_query_params(done=done),
        303,
    )


async def _member_change(
    request: Request,
    *,
    page: Callable[..., Awaitable[Response]],
    change: Callable[[AsyncSession, groups.MemberCreate], Awaitable[object]],
    done: str,
    full: str | None = None,
) -> Response:
    """A lead's form with a colleague's details (add, substitute): the change, or `page` again with the problems.
    `full`, when given, is the sentence for a conference with no place left."""
    try:
        values = await form_values(request)
    except FormRefused as exc:
        return await page(values=exc.values, problems=_member_problems(exc), status_code=422)
    details = {name: values.get(name, "") for name in ("name", "email", "job_title")}
    try:
        member = groups.parse(groups.MemberCreate, details)
        async with database(request).transaction() as db:
            await change(db, member)
    except NOT_THE_FORMS_FAULT:
        raise
    except errors.DomainError as exc:
        if full is not None and isinstance(exc, groups.NotEnoughPlaces):
            return await page(values=values, problems={"form": full}, status_code=409)
        return await page(values=values, problems=_member_problems(exc), status_code=exc.status_code)
    return _back_to_manage(request, done)


async def add_member(request: Request) -> Response:
    group = await _group(request)

    async def change(db: AsyncSession, member: groups.MemberCreate) -> None:
        await groups.add_member(db, settings(request), group_id=group.id, member=member, actor=_lead(group))

    return await _member_change(
        request,
        page=functools.partial(_manage_page, request, group),
        change=change,
        done="added",
        full="The conference is full: no more colleagues can be added now.",
    )


async def substitute_form(request: Request) -> Response:
    group = await _group(request)
    member = await _member(request, group)
    return await _substitute_page(request, group, member, values={}, problems={})


async def _substitute_page(
    request: Request,
    group: GroupBooking,
    member: Registration,
    *,
    values: dict[str, str],
    problems: dict[str, str],
    status_code: int = 200,
) -> Response:
    async with database(request).read() as db:
        conf = await places.get_conference(db)
    return render(
        request,
        "conference/group_substitute.html",
        {
            "conference": conf,
            "group": group,
            "member": member,
            "token": request.path_params["token"],
            "values": values,
            "errors": problems,
            "labels": {
                "name": "Their full name",
                "email": "Their email address",
                "job_title": "Job title",
                "form": "Substitute",
            },
        },
        status_code=status_code,
    )


async def substitute(request: Request) -> Response:
    group = await _group(request)
    member = await _member(request, group)

    async def change(db: AsyncSession, replacement: groups.MemberCreate) -> None:
        await groups.substitute_member(
            db,
            settings(request),
            group_id=group.id,
            registration_id=member.id,
            member=replacement,
            actor=_lead(group),
        )

    return await _member_change(
        request,
        page=functools.partial(_substitute_page, request, group, member),
        change=change,
        done="substituted",
    )


async def cancel_form(request: Request) -> Response:
    group = await _group(request)
    member = await _member(request, group)
    async with database(request).read() as db:
        conf = await places.get_conference(db)
    return render(
        request,
        "conference/group_cancel.html",
        {"conference": conf, "group": group, "member": member, "token": request.path_params["token"]},
    )


async def cancel(request: Request) -> Response:
    group = await _group(request)
    member = await _member(request, group)
    await form_values(request)
    async with database(request).transaction() as db:
        await groups.cancel_member(
            db, settings(request), group_id=group.id, registration_id=member.id, actor=_lead(group)
        )
    await payment_gateway(request).close_checkouts(database(request), member.id)
    return _back_to_manage(request, "cancelled")


async def invoice_pdf(request: Request) -> Response:
    group = await _group(request)
    return await downloads.invoice_pdf(
        request,
        owned=lambda invoice: invoice.group_id == group.id,
        not_owned="No invoice of this group has this id.",
    )


async def members_csv(request: Request) -> Response:
    group = await _group(request)
    async with database(request).read() as db:
        data = await groups.group_csv(db, group.id)
    return private_file(data.encode("utf-8"), f"group-{group.reference}.csv", "text/csv; charset=utf-8")


routes = [
    Route("/group", group_form, methods=["GET"], name="group"),
    Route("/group", group_post, methods=["POST"], name="group-book"),
    Route("/group/manage/{token}", manage, methods=["GET"], name="group-manage"),
    Route("/group/manage/{token}/members", add_member, methods=["POST"], name="group-add-member"),
    Route("/group/manage/{token}/checkout", pay, methods=["POST"], name="group-checkout"),
    Route(
        "/group/manage/{token}/members/{registration_id}/substitute",
        substitute_form,
        methods=["GET"],
        name="group-substitute-form",
    ),
    Route(
        "/group/manage/{token}/members/{registration_id}/substitute",
        substitute,
        methods=["POST"],
        name="group-substitute",
    ),
    Route(
        "/group/manage/{token}/members/{registration_id}/cancel",
        cancel_form,
        methods=["GET"],
        name="group-cancel-form",
    ),
    Route(
        "/group/manage/{token}/members/{registration_id}/cancel",
        cancel,
        methods=["POST"],
        name="group-cancel",
    ),
    Route(
        "/group/manage/{token}/invoices/{invoice_id}.pdf",
        invoice_pdf,
        methods=["GET"],
        name="group-invoice-pdf",
    ),
    Route("/group/manage/{token}/members.csv", members_csv, methods=["GET"], name="group-csv"),
]
