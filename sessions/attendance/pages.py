"""Certificates for people: anyone checks one at /verify/<code> (an employer, say; rate limited; JSON when asked
for), and a delegate sees and downloads their own from their manage link.

The verification page shows only what the certificate itself says to whoever holds it (name, organisation, event,
dates, CPD hours, how many sessions): never an email address or a booking reference. A refused code says why
(altered, unknown, withdrawn with the date, replaced by a newer certificate) and nothing about the person.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from conference.core.formats import conference_zone, day
from conference.pages.registration import by_token
from conference.web.downloads import private_file
from conference.web.request import database, rate_limit, settings
from conference.web.templating import render
from sessions.attendance import certificates
from sessions.attendance.certificate_pdf import certificate_file_name, render_certificate
from sessions.attendance.certificates import Verification, verify_url
from sessions.attendance.cpd import hours_text

STATUS = {
    certificates.GENUINE: 200,
    certificates.WITHDRAWN: 410,
    certificates.SUPERSEDED: 410,
    certificates.UNKNOWN: 404,
    certificates.ALTERED: 404,
}
MESSAGES = {
    certificates.GENUINE: "This certificate is genuine.",
    certificates.WITHDRAWN: "This certificate has been withdrawn by the organisers: it is no longer valid.",
    certificates.SUPERSEDED: (
        "This certificate has been replaced by a corrected one: it is no longer valid. "
        "Ask the holder for their current certificate."
    ),
    certificates.UNKNOWN: "No certificate has this code. Check it against the certificate: 16 letters and digits.",
    certificates.ALTERED: (
        "This code is not one we issued: at least one character is wrong. Check it against the certificate, "
        "or scan its QR code."
    ),
}


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _event_dates(v: Verification) -> tuple[str, str, str]:
    conf = v.conference
    if conf is None:
        return "", "", ""
    zone = conference_zone(conf)
    first, last = day(conf.starts_at, zone), day(conf.ends_at, zone)
    return conf.name, first, last


def _payload(v: Verification) -> dict[str, Any]:
    body: dict[str, Any] = {"state": v.state, "valid": v.valid, "code": v.code, "message": MESSAGES[v.state]}
    c = v.certificate
    if c is not None and v.state in (certificates.WITHDRAWN, certificates.SUPERSEDED) and c.withdrawn_at:
        body["no_longer_valid_since"] = c.withdrawn_at.isoformat()
    if c is None or not v.valid or v.conference is None:
        return body
    body.update(
        {
            "name": c.name,
            "organisation": c.organisation,
            "event": {
                "name": v.conference.name,
                "starts_at": v.conference.starts_at.isoformat(),
                "ends_at": v.conference.ends_at.isoformat(),
                "venue": v.conference.venue,
            },
            "cpd_minutes": c.cpd_minutes,
            "cpd_hours": round(c.cpd_minutes / 60, 2),
            "sessions_count": len(c.sessions or []),
            "issued_at": c.issued_at.isoformat(),
        }
    )
    return body


async def verify_page(request: Request) -> Response:
    await rate_limit(request).check(request, "verify-certificate")
    async with database(request).read() as db:
        v = await certificates.verify(db, settings(request), request.path_params["code"])
    status = STATUS[v.state]
    if _wants_json(request):
        return JSONResponse(_payload(v), status_code=status, headers={"cache-control": "no-store"})
    name, first, last = _event_dates(v)
    response = render(
        request,
        "sessions/verify.html",
        {
            "v": v,
            "c": v.certificate,
            "conference": v.conference,
            "message": MESSAGES[v.state],
            "event_name": name,
            "event_dates": first if first == last else f"{first} to {last}",
            "hours": hours_text(v.certificate.cpd_minutes) if v.certificate else "",
        },
        status_code=status,
    )
    response.headers["x-robots-tag"] = "noindex"
    return response


async def certificate_page(request: Request) -> Response:
    r, conf, _position, _ticket = await by_token(request)
    async with database(request).read() as db:
        current = await certificates.current_certificate(db, r.id)
    token = request.path_params["token"]
    return render(
        request,
        "sessions/certificate.html",
        {
            "r": r,
            "conference": conf,
            "c": current,
            "token": token,
            "hours": hours_text(current.cpd_minutes) if current else "",
            # Each session listed with its CPD time in words ("1.5 hours"; "" for a kind that does not count).
            "rows": [
                (s, hours_text(int(s.get("minutes") or 0)) if s.get("minutes") else "")
                for s in (current.sessions if current else [])
            ],
            "verify_url": verify_url(settings(request), current.code) if current else "",
        },
    )


async def certificate_pdf(request: Request) -> Response:
    r, conf, _position, _ticket = await by_token(request)
    async with database(request).read() as db:
        current = await certificates.current_certificate(db, r.id)
    if current is None:  # nothing to download yet: the page says why
        return RedirectResponse(request.url_for("my-certificate", token=request.path_params["token"]), 303)
    pdf = render_certificate(current, conference=conf, verify_url=verify_url(settings(request), current.code))
    return private_file(pdf, certificate_file_name(current), "application/pdf")


routes = [
    Route("/verify/{code}", verify_page, methods=["GET"], name="verify-certificate"),
    Route("/manage/{token}/certificate", certificate_page, methods=["GET"], name="my-certificate"),
    Route("/manage/{token}/certificate.pdf", certificate_pdf, methods=["GET"], name="my-certificate-pdf"),
]
