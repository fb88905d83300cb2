"""Every route of the app, tried with every role, against an explicit table of who may get past authorisation.

A route added without a row here fails `test_every_route_has_a_rule`; a role let in (or kept out) against the
table fails `test_every_route_answers_each_role_as_the_table_says` with the list of every disagreement.

Roles: anonymous (no credentials); attendee (delegate B's manage token, used on delegate A's resources); speaker
(proposal Q's private token, used on proposal P); reviewer (an invited reviewer's token; the reviewer in paths is
a second reviewer); staff and organiser (API tokens as bearer, plus a console session signed in with the same
token, as a browser has). Private-link routes (/manage/{token}, /proposal/{token}, /review/{token},
/verify-email/{token}) carry their credential in the path: every role above is tried with a well-formed link that
belongs to nobody (a bearer token must not stand in for the link), and the extra role "link" holds the real link
(A's manage link, Q's proposal link, the reviewer's link, the link confirming A's address) and nothing else.

"Allowed" means the request got past authorisation: any answer but 401/403, a redirect to /login, or (on
private-link routes only, which hide whether a link exists) 404. A 400/422 for the empty body we send still
counts as allowed: validation runs after the role check.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from conference import broadcasts, groups
from conference.core.db import Database
from conference.core.security import (
    CSRF_COOKIE,
    csrf_token_for,
    derived_token,
    email_verify_token,
    manage_token,
)
from conference.core.settings import Settings
from conference.server.app import create_app
from conference.web.auth import create_api_token
from sessions.models import Kind, RoomCreate, SessionCreate, TimeSlotCreate
from sessions.workshops import programme
from tests.factories import (
    ORGANISER,
    invite,
    invoice_body,
    make_conference,
    proposal_body,
    registration_body,
    set_call,
)
from tests.support import app_routes, make_settings

ROLES = ("anonymous", "attendee", "speaker", "reviewer", "staff", "organiser")  # tried on every route
LINK = "link"  # only on private-link routes: the holder of the real link

ANYONE = frozenset(ROLES)
ORG = frozenset({"organiser"})
STAFF = frozenset({"staff", "organiser"})
NOBODY: frozenset[str] = frozenset()
LINK_ONLY = frozenset({LINK})

# Path prefixes whose {token} is the credential; everyone else gets a well-formed link that matches nothing.
LINK_PREFIXES = {
    "/manage/": "m_",
    "/ticket/": "m_",  # the e-ticket (badges/ticket_pages.py) at the manage link's token
    "/proposal/": "p_",
    "/review/": "r_",
    "/verify-email/": "v_",
    "/group/manage/": "g_",  # a group's lead booker (conference/pages/groups.py)
    "/api/v1/groups/manage/": "g_",  # the lead's link in the JSON API (conference/api/groups.py)
}

# Mounted static files: public by design, not tried role by role (no handler code runs).
PUBLIC_STATIC = {"/static", "/scan/static"}

E = dict[tuple[str, str], frozenset[str]]
EXPECTED: E = {
    # --- public -------------------------------------------------------------------------------------------
    ("GET", "/healthz"): ANYONE,
    ("GET", "/favicon.ico"): ANYONE,
    ("GET", "/readyz"): ANYONE,  # the load balancer's probe: database reachable and migrated
    # Prometheus: only the CONFERENCE_METRICS_TOKEN bearer (set in `settings` below), which no role holds, so
    # every role is refused (401); without the setting it is 404 for everyone.
    ("GET", "/metrics"): NOBODY,
    ("GET", "/"): ANYONE,
    ("POST", "/register"): ANYONE,
    ("POST", "/resend-link"): ANYONE,
    ("GET", "/lost-link"): ANYONE,  # "Lost your link?" (pages/self_service.py)
    ("GET", "/group"): ANYONE,  # the group booking form (conference/pages/groups.py)
    ("POST", "/group"): ANYONE,
    ("GET", "/login"): ANYONE,
    ("POST", "/login"): ANYONE,  # its own 401 means "wrong token" (see REFUSED_ONLY_BY_403)
    ("POST", "/logout"): ANYONE,
    ("GET", "/login/code"): ANYONE,  # without a right password first, it sends the browser back to /login
    ("POST", "/login/code"): ANYONE,  # its own 401 means "no password step" (see REFUSED_ONLY_BY_403)
    ("GET", "/password/forgot"): ANYONE,
    ("POST", "/password/forgot"): ANYONE,
    ("GET", "/password/reset/{token}"): ANYONE,  # the link is the credential; a wrong one is 404
    ("POST", "/password/reset/{token}"): ANYONE,
    # --- your own account: organisers and staff ----------------------------------------------------------
    ("GET", "/console/account"): STAFF,
    ("POST", "/console/account/password"): STAFF,
    ("POST", "/console/account/totp"): STAFF,
    ("POST", "/console/account/totp/confirm"): STAFF,
    ("POST", "/console/account/totp/disable"): STAFF,
    ("POST", "/console/account/sessions"): STAFF,
    # --- people and API tokens: organisers --------------------------------------------------------------
    ("GET", "/console/checkins"): ORG,
    ("POST", "/console/checkins/access-needs"): ORG,  # door staff see access needs, or not
    ("GET", "/console/users"): ORG,
    ("POST", "/console/users"): ORG,
    ("POST", "/console/users/{user_id:uuid}/disable"): ORG,
    ("POST", "/console/users/{user_id:uuid}/enable"): ORG,
    ("POST", "/console/tokens"): ORG,
    ("POST", "/console/tokens/{token_id:uuid}/revoke"): ORG,
    ("GET", "/call"): ANYONE,
    ("POST", "/call"): ANYONE,
    ("GET", "/programme"): ANYONE,
    ("GET", "/programme/sessions/{session_id}"): ANYONE,
    ("GET", "/programme/sessions/{session_id}.ics"): ANYONE,
    ("GET", "/privacy"): ANYONE,
    ("GET", "/accessibility"): ANYONE,
    # Signed by Stripe, not by a role: 400 without a signature (404 here: no Stripe webhook secret in tests).
    ("POST", "/stripe/webhook"): ANYONE,
    ("GET", "/payment/return"): ANYONE,
    ("GET", "/scan/vendor/{name}"): ANYONE,  # the scanner's third-party script and wasm
    ("GET", "/console/vendor/{name}"): ANYONE,  # the dashboard's third-party script (Chart.js)
    ("GET", "/api/v1/conference"): ANYONE,
    ("GET", "/api/v1/ticket-types"): ANYONE,
    ("GET", "/api/v1/questions"): ANYONE,  # the registration questions, as the public form asks them
    ("POST", "/api/v1/registrations"): ANYONE,
    ("POST", "/api/v1/groups"): ANYONE,  # a group booking (conference/api/groups.py)
    ("GET", "/api/v1/groups"): ORG,
    ("GET", "/api/v1/groups/{group_id}"): ORG,
    ("GET", "/api/v1/groups/manage/{token}"): LINK_ONLY,
    # The empty body is refused (after the link is checked): nobody is added.
    ("POST", "/api/v1/groups/manage/{token}/members"): LINK_ONLY,
    ("DELETE", "/api/v1/groups/manage/{token}/members/{registration_id}"): LINK_ONLY,  # A: not in the group
    ("POST", "/api/v1/groups/manage/{token}/members/{registration_id}/substitute"): LINK_ONLY,
    ("POST", "/api/v1/groups/manage/{token}/checkout"): LINK_ONLY,  # no card to pay: 409 with the link
    ("GET", "/api/v1/groups/manage/{token}/members.csv"): LINK_ONLY,
    ("GET", "/api/v1/groups/manage/{token}/invoices/{invoice_id}.pdf"): LINK_ONLY,  # A's: not the group's
    ("POST", "/api/v1/registrations/resend-link"): ANYONE,
    ("GET", "/api/v1/call"): ANYONE,
    ("GET", "/api/v1/talks"): ANYONE,
    ("POST", "/api/v1/proposals"): ANYONE,
    ("GET", "/api/v1/programme"): ANYONE,
    ("GET", "/api/v1/programme.ics"): ANYONE,
    ("GET", "/api/v1/programme.xml"): ANYONE,
    ("GET", "/api/v1/rooms"): ANYONE,
    ("GET", "/api/v1/slots"): ANYONE,
    ("GET", "/api/v1/sessions"): ANYONE,
    ("GET", "/api/v1/sessions/{session_id}"): ANYONE,
    ("GET", "/api/v1/seat-booking"): ANYONE,
    ("GET", "/api/v1/openapi.json"): ANYONE,  # the API's OpenAPI document
    # --- the delegate's private link ----------------------------------------------------------------------
    ("GET", "/manage/{token}"): LINK_ONLY,
    ("GET", "/ticket/{token}"): LINK_ONLY,  # the e-ticket page and its PDF (badges/ticket_pages.py)
    ("GET", "/ticket/{token}.pdf"): LINK_ONLY,
    ("GET", "/manage/{token}/cancel"): LINK_ONLY,
    ("POST", "/manage/{token}/cancel"): LINK_ONLY,
    ("POST", "/manage/{token}/pay"): LINK_ONLY,
    ("GET", "/manage/{token}/invoices/{invoice_id}.pdf"): LINK_ONLY,
    ("GET", "/manage/{token}/agenda"): LINK_ONLY,
    ("GET", "/manage/{token}/agenda.ics"): LINK_ONLY,
    ("POST", "/manage/{token}/sessions"): LINK_ONLY,
    ("POST", "/manage/{token}/sessions/{session_id}/release"): LINK_ONLY,
    ("POST", "/manage/{token}/sessions/{session_id}/swap"): LINK_ONLY,
    ("GET", "/manage/{token}/programme/sessions/{session_id}"): LINK_ONLY,
    ("POST", "/manage/{token}/choices"): LINK_ONLY,
    ("GET", "/manage/{token}/talks"): LINK_ONLY,
    ("POST", "/manage/{token}/talks"): LINK_ONLY,
    ("GET", "/manage/{token}/data.json"): LINK_ONLY,
    ("GET", "/manage/{token}/erase"): LINK_ONLY,
    ("POST", "/manage/{token}/erase"): LINK_ONLY,  # run last of A's link routes: the link stops working
    ("POST", "/manage/{token}/verify-email"): LINK_ONLY,
    ("GET", "/manage/{token}/answers"): LINK_ONLY,  # change the answers to the registration questions
    ("GET", "/manage/{token}/details"): LINK_ONLY,  # the delegate's own details (pages/self_service.py)
    ("POST", "/manage/{token}/details"): LINK_ONLY,
    ("GET", "/manage/{token}/transfer"): LINK_ONLY,  # the delegate hands their place to a colleague
    ("POST", "/manage/{token}/transfer"): LINK_ONLY,  # (the empty form is refused: the link stays A's)
    ("POST", "/manage/{token}/answers"): LINK_ONLY,  # email A a link to confirm the address
    # The link emailed to confirm A's address: GET shows the button, POST confirms.
    ("GET", "/verify-email/{token}"): LINK_ONLY,
    ("POST", "/verify-email/{token}"): LINK_ONLY,
    # --- the group lead's private link (paths name delegate A, no member of the group: 404 with the link) ---
    ("GET", "/group/manage/{token}"): LINK_ONLY,
    ("POST", "/group/manage/{token}/members"): LINK_ONLY,  # the empty form is refused: nobody is added
    ("POST", "/group/manage/{token}/checkout"): LINK_ONLY,  # no card to pay: the page says so (409)
    ("GET", "/group/manage/{token}/members/{registration_id}/substitute"): LINK_ONLY,
    ("POST", "/group/manage/{token}/members/{registration_id}/substitute"): LINK_ONLY,
    ("GET", "/group/manage/{token}/members/{registration_id}/cancel"): LINK_ONLY,
    ("POST", "/group/manage/{token}/members/{registration_id}/cancel"): LINK_ONLY,
    ("GET", "/group/manage/{token}/invoices/{invoice_id}.pdf"): LINK_ONLY,
    ("GET", "/group/manage/{token}/members.csv"): LINK_ONLY,
    ("GET", "/group/manage/{token}/data.json"): LINK_ONLY,  # the lead's data (pages/group_personal_data.py)
    ("GET", "/group/manage/{token}/erase"): LINK_ONLY,
    ("POST", "/group/manage/{token}/erase"): LINK_ONLY,  # run last of G's link routes: the link stops working
    # --- the speakers' and reviewers' private links -------------------------------------------------------
    ("GET", "/proposal/{token}"): LINK_ONLY,
    ("GET", "/proposal/{token}/edit"): LINK_ONLY,
    ("POST", "/proposal/{token}/edit"): LINK_ONLY,
    ("POST", "/proposal/{token}/withdraw"): LINK_ONLY,
    ("POST", "/proposal/{token}/confirm"): LINK_ONLY,
    ("POST", "/proposal/{token}/decline"): LINK_ONLY,
    ("GET", "/review/{token}"): LINK_ONLY,
    ("GET", "/review/{token}/proposals/{proposal_id}"): LINK_ONLY,
    ("POST", "/review/{token}/proposals/{proposal_id}"): LINK_ONLY,
    # --- a registration's own resources: A's, so attendee B is refused ------------------------------------
    # Staff get a reduced view (what check-in needs; test_registration_api checks the fields), as API.md allows.
    ("GET", "/api/v1/registrations/{registration_id}"): STAFF,
    ("DELETE", "/api/v1/registrations/{registration_id}"): ORG,
    ("GET", "/api/v1/registrations/{registration_id:uuid}/invoices"): ORG,
    ("POST", "/api/v1/registrations/{registration_id}/checkout"): ORG,  # 503 here: no card gateway in tests
    ("GET", "/api/v1/registrations/{registration_id}/payments"): ORG,
    ("POST", "/api/v1/registrations/{registration_id}/sessions"): ORG,
    ("DELETE", "/api/v1/registrations/{registration_id}/sessions/{session_id}"): ORG,
    ("GET", "/api/v1/registrations/{registration_id}/choices"): ORG,
    ("PUT", "/api/v1/registrations/{registration_id}/choices"): ORG,
    ("GET", "/api/v1/registrations/{registration_id}/stars"): ORG,
    ("PUT", "/api/v1/registrations/{registration_id}/stars"): ORG,
    ("GET", "/api/v1/registrations/{registration_id}/personal-data"): ORG,
    ("POST", "/api/v1/registrations/{registration_id}/erasure"): ORG,
    # --- a proposal's own resources: P's, so speaker Q is refused -----------------------------------------
    # A reviewer reads a reviewable proposal without its speakers when review is anonymous.
    ("GET", "/api/v1/proposals/{proposal_id}"): frozenset({"reviewer", "organiser"}),
    ("PATCH", "/api/v1/proposals/{proposal_id}"): NOBODY,
    ("POST", "/api/v1/proposals/{proposal_id}/withdraw"): NOBODY,
    ("POST", "/api/v1/proposals/{proposal_id}/confirm"): NOBODY,
    ("POST", "/api/v1/proposals/{proposal_id}/decline"): NOBODY,
    # --- reviewers ----------------------------------------------------------------------------------------
    ("GET", "/api/v1/review/proposals"): frozenset({"reviewer"}),
    ("GET", "/api/v1/proposals/{proposal_id}/review"): frozenset({"reviewer"}),
    ("PUT", "/api/v1/proposals/{proposal_id}/review"): frozenset({"reviewer"}),
    # --- the door: staff and organisers -------------------------------------------------------------------
    ("POST", "/api/v1/checkins"): STAFF,
    ("POST", "/api/v1/checkins/sync"): STAFF,
    ("GET", "/api/v1/checkins/door-list"): STAFF,
    ("GET", "/api/v1/checkins/search"): STAFF,
    # the scanning staff member (or an organiser) takes back a mistaken admission (issue 19)
    ("POST", "/api/v1/checkins/{checkin_id}/undo"): STAFF,
    ("GET", "/scan/sw.js"): ANYONE,  # the scanner's service worker: code, no data
    ("GET", "/scan/manifest.webmanifest"): ANYONE,  # makes the scanner installable: no data
    ("GET", "/api/v1/registrations/{registration_id:uuid}/badge.pdf"): STAFF,
    ("GET", "/api/v1/registrations/{registration_id:uuid}/badge.png"): STAFF,
    ("GET", "/scan"): STAFF,
    ("GET", "/scan/badge/{reference}.pdf"): STAFF,
    ("GET", "/api/v1/badges/public-key"): STAFF,  # scanners verify codes offline
    # --- organisers only: the API -------------------------------------------------------------------------
    ("PATCH", "/api/v1/conference"): ORG,
    ("GET", "/api/v1/registrations"): ORG,
    ("POST", "/api/v1/registrations/{registration_id}/approve"): ORG,
    ("POST", "/api/v1/registrations/{registration_id}/reject"): ORG,
    ("GET", "/api/v1/outbox"): ORG,
    ("GET", "/api/v1/dashboard"): ORG,  # counts only, but the organisers' business
    ("GET", "/api/v1/codes"): ORG,  # codes are as good as money: organisers only
    ("POST", "/api/v1/codes"): ORG,
    ("POST", "/api/v1/codes/bulk"): ORG,
    ("GET", "/api/v1/codes/{code_id:uuid}"): ORG,
    ("POST", "/api/v1/codes/{code_id:uuid}/revoke"): ORG,
    ("GET", "/api/v1/invoices/{invoice_id:uuid}.pdf"): ORG,
    ("POST", "/api/v1/invoices/{invoice_id:uuid}/paid"): ORG,
    ("POST", "/api/v1/invoices/{invoice_id:uuid}/credit"): ORG,
    ("POST", "/api/v1/rooms"): ORG,
    ("PATCH", "/api/v1/rooms/{room_id}"): ORG,
    ("DELETE", "/api/v1/rooms/{room_id}"): ORG,
    ("POST", "/api/v1/slots"): ORG,
    ("DELETE", "/api/v1/slots/{slot_id}"): ORG,
    ("POST", "/api/v1/sessions"): ORG,
    ("PATCH", "/api/v1/sessions/{session_id}"): ORG,
    ("DELETE", "/api/v1/sessions/{session_id}"): ORG,
    ("PATCH", "/api/v1/seat-booking"): ORG,
    ("POST", "/api/v1/allocation"): ORG,
    ("PATCH", "/api/v1/call"): ORG,
    ("GET", "/api/v1/proposals"): ORG,
    ("GET", "/api/v1/proposals/stars"): ORG,
    ("POST", "/api/v1/proposals/decisions"): ORG,
    ("POST", "/api/v1/proposals/{proposal_id}/accept"): ORG,
    ("POST", "/api/v1/proposals/{proposal_id}/reject"): ORG,
    ("GET", "/api/v1/reviewers"): ORG,
    ("POST", "/api/v1/reviewers"): ORG,
    ("DELETE", "/api/v1/reviewers/{reviewer_id}"): ORG,
    ("POST", "/api/v1/schedule/build"): ORG,
    ("POST", "/api/v1/schedule/publish"): ORG,
    ("GET", "/api/v1/schedule/versions"): ORG,
    ("GET", "/api/v1/schedule/drafts/{version_id}"): ORG,
    ("PATCH", "/api/v1/schedule/drafts/{version_id}/workshops/{key}"): ORG,
    ("GET", "/api/v1/badges.pdf"): ORG,
    ("POST", "/api/v1/badges/print"): ORG,
    ("POST", "/api/v1/registrations/{registration_id}/badge/reissue"): ORG,
    (
        "GET",
        "/api/v1/sessions/{session_id}/delegates.{fmt:str}",
    ): ORG,  # the room sheet: every delegate's name
    # --- organisers only: the console ---------------------------------------------------------------------
    ("GET", "/console"): ORG,
    ("GET", "/console/dashboard"): ORG,
    ("GET", "/console/registrations"): ORG,
    ("GET", "/console/registrations/{registration_id:uuid}"): ORG,
    ("POST", "/console/registrations/{registration_id:uuid}/approve"): ORG,
    ("POST", "/console/registrations/{registration_id:uuid}/reject"): ORG,
    ("GET", "/console/registrations/{registration_id:uuid}/cancel"): ORG,
    ("POST", "/console/registrations/{registration_id:uuid}/cancel"): ORG,
    ("GET", "/console/registrations/{registration_id:uuid}/erase"): ORG,
    ("POST", "/console/registrations/{registration_id:uuid}/erase"): ORG,
    ("GET", "/console/settings/retention"): ORG,
    ("POST", "/console/settings/retention"): ORG,
    ("GET", "/console/event"): ORG,
    ("POST", "/console/event"): ORG,
    ("GET", "/console/event/notices"): ORG,
    ("POST", "/console/event/notices"): ORG,
    ("GET", "/console/registrations/{registration_id:uuid}/invoices/{invoice_id:uuid}/paid"): ORG,
    ("POST", "/console/registrations/{registration_id:uuid}/invoices/{invoice_id:uuid}/paid"): ORG,
    ("GET", "/console/registrations/{registration_id:uuid}/invoices/{invoice_id:uuid}/credit"): ORG,
    ("POST", "/console/registrations/{registration_id:uuid}/invoices/{invoice_id:uuid}/credit"): ORG,
    ("GET", "/console/invoices/{invoice_id:uuid}.pdf"): ORG,
    ("POST", "/console/registrations/decisions"): ORG,
    ("GET", "/console/registrations/{registration_id:uuid}/edit"): ORG,
    ("POST", "/console/registrations/{registration_id:uuid}/edit"): ORG,
    ("GET", "/console/registrations/{registration_id:uuid}/substitute"): ORG,
    ("POST", "/console/registrations/{registration_id:uuid}/substitute"): ORG,
    ("POST", "/console/registrations/{registration_id:uuid}/resend"): ORG,
    ("GET", "/console/exports/delegates.{fmt:str}"): ORG,  # every delegate's name and email
    ("GET", "/console/exports/dietary.{fmt:str}"): ORG,
    ("GET", "/console/exports/attendance.{fmt:str}"): ORG,
    ("GET", "/console/programme"): ORG,
    ("POST", "/console/programme/rooms"): ORG,
    ("POST", "/console/programme/slots"): ORG,
    ("POST", "/console/programme/sessions"): ORG,
    ("POST", "/console/programme/sessions/{session_id}/cancel"): ORG,
    ("GET", "/console/programme/sessions/{session_id}"): ORG,
    ("POST", "/console/programme/sessions/{session_id}"): ORG,
    ("GET", "/console/programme/sessions/{session_id}/cancel"): ORG,
    ("GET", "/console/programme/sessions/{session_id}/restore"): ORG,
    ("POST", "/console/programme/sessions/{session_id}/restore"): ORG,
    ("POST", "/console/programme/phase"): ORG,
    ("POST", "/console/programme/allocation"): ORG,
    ("GET", "/console/call"): ORG,
    ("POST", "/console/call"): ORG,
    ("GET", "/console/proposals"): ORG,
    ("POST", "/console/proposals/decisions"): ORG,
    ("GET", "/console/proposals/{proposal_id:uuid}"): ORG,
    ("POST", "/console/proposals/{proposal_id:uuid}/decision"): ORG,
    ("GET", "/console/reviewers"): ORG,
    ("POST", "/console/reviewers"): ORG,
    ("POST", "/console/reviewers/{reviewer_id:uuid}/revoke"): ORG,
    ("GET", "/console/programme/schedule"): ORG,
    ("POST", "/console/programme/schedule/build"): ORG,
    ("POST", "/console/programme/schedule/{version_id}/move"): ORG,
    ("POST", "/console/programme/schedule/{version_id}/publish"): ORG,
    ("GET", "/console/messages"): ORG,
    ("POST", "/console/messages"): ORG,
    ("GET", "/console/messages/new"): ORG,
    ("POST", "/console/messages/preview"): ORG,
    ("GET", "/console/messages/{broadcast_id:uuid}"): ORG,
    ("GET", "/console/outbox"): ORG,
    ("GET", "/console/outbox/{message_id:uuid}"): ORG,
    ("POST", "/console/outbox/{message_id:uuid}/resend"): ORG,
    ("GET", "/console/audit"): ORG,
    ("GET", "/console/codes"): ORG,
    ("POST", "/console/codes"): ORG,
    ("GET", "/console/codes/new"): ORG,
    ("GET", "/console/codes/bulk"): ORG,
    ("POST", "/console/codes/bulk"): ORG,
    ("GET", "/console/codes/batch/{code_id:uuid}"): ORG,
    ("GET", "/console/codes/{code_id:uuid}"): ORG,
    ("POST", "/console/codes/{code_id:uuid}/revoke"): ORG,
    ("GET", "/console/questions"): ORG,
    ("POST", "/console/questions"): ORG,
    ("GET", "/console/questions/new"): ORG,
    ("POST", "/console/questions/deadline"): ORG,
    ("GET", "/console/questions/{question_id:uuid}"): ORG,
    ("POST", "/console/questions/{question_id:uuid}"): ORG,
    ("POST", "/console/questions/{question_id:uuid}/move"): ORG,
    ("POST", "/console/questions/{question_id:uuid}/visibility"): ORG,
    ("GET", "/console/audit.csv"): ORG,
    ("GET", "/console/ticket-types"): ORG,
    ("POST", "/console/ticket-types"): ORG,
    ("GET", "/console/ticket-types/new"): ORG,
    ("GET", "/console/ticket-types/{ticket_type_id:uuid}"): ORG,
    ("POST", "/console/ticket-types/{ticket_type_id:uuid}"): ORG,
    ("POST", "/console/ticket-types/{ticket_type_id:uuid}/visibility"): ORG,
    ("POST", "/console/ticket-types/{ticket_type_id:uuid}/move"): ORG,
    ("GET", "/console/ticket-types/{ticket_type_id:uuid}/delete"): ORG,
    ("POST", "/console/ticket-types/{ticket_type_id:uuid}/delete"): ORG,  # the Speaker type: nobody holds it
    ("GET", "/console/bookings/new"): ORG,
    ("GET", "/console/groups"): ORG,  # group bookings (conference/console/groups.py)
    ("GET", "/console/groups.csv"): ORG,  # every group's lead, by name and email
    ("GET", "/console/groups/{group_id:uuid}"): ORG,
    ("POST", "/console/bookings"): ORG,
    # --- certificates of attendance: verification and the delegate's own (sessions/attendance/pages.py) ---
    ("GET", "/verify/{code}"): ANYONE,  # anyone checks a certificate (rate limited); a made-up code is 404
    ("GET", "/manage/{token}/certificate"): LINK_ONLY,
    ("GET", "/manage/{token}/certificate.pdf"): LINK_ONLY,  # none issued yet: 303 to the page that says so
    # --- after the event: CPD rules, certificate runs, corrections, emails (sessions/attendance/console.py) ---
    ("GET", "/console/after-event"): ORG,
    ("POST", "/console/after-event/settings"): ORG,
    ("POST", "/console/after-event/emails"): ORG,
    ("POST", "/console/after-event/issue"): ORG,
    ("GET", "/console/after-event/runs/{run_id:uuid}"): ORG,
    ("GET", "/console/after-event/runs/{run_id:uuid}.json"): ORG,
    ("GET", "/console/after-event/delegates/{registration_id:uuid}"): ORG,
    ("POST", "/console/after-event/delegates/{registration_id:uuid}/scans"): ORG,
    ("GET", "/console/after-event/delegates/{registration_id:uuid}/withdraw"): ORG,
    ("POST", "/console/after-event/delegates/{registration_id:uuid}/withdraw"): ORG,
    # --- the best-practice library: catalogue and approval (sessions/library/public_pages.py, console.py) ---
    ("GET", "/library"): ANYONE,
    ("GET", "/library/files/{resource_id}"): ANYONE,  # public items only; anything else is 404
    ("GET", "/manage/{token}/library"): LINK_ONLY,
    ("GET", "/manage/{token}/library/files/{resource_id}"): LINK_ONLY,
    ("GET", "/console/library"): ORG,
    ("GET", "/console/library/{resource_id}/file"): ORG,
    ("POST", "/console/library/{resource_id}/approve"): ORG,
    ("POST", "/console/library/{resource_id}/reject"): ORG,
    ("POST", "/console/library/{resource_id}/visibility"): ORG,
    # --- the library: a speaker's own slides and links, on the proposal link (sessions/library/pages.py) ----
    # Q is submitted, not accepted: the page says so and the forms are refused (409), past the link check.
    ("GET", "/proposal/{token}/resources"): LINK_ONLY,
    ("POST", "/proposal/{token}/resources"): LINK_ONLY,  # the multipart upload
    ("POST", "/proposal/{token}/resources/links"): LINK_ONLY,
    # Not Q's item: 404 with the link.
    ("GET", "/proposal/{token}/resources/{resource_id}/remove"): LINK_ONLY,  # the confirmation page
    ("POST", "/proposal/{token}/resources/{resource_id}/remove"): LINK_ONLY,
    ("GET", "/proposal/{token}/resources/{resource_id}/file"): LINK_ONLY,
    # --- session feedback (sessions/feedback/pages.py, console.py) ----------------------------------------
    ("GET", "/manage/{token}/feedback"): LINK_ONLY,
    ("GET", "/manage/{token}/feedback/{target}"): LINK_ONLY,  # a session nobody attended: 404 with the link
    ("POST", "/manage/{token}/feedback/{target}"): LINK_ONLY,
    ("GET", "/proposal/{token}/feedback"): LINK_ONLY,
    ("GET", "/console/feedback"): ORG,
    ("GET", "/console/feedback.csv"): ORG,  # anonymous, but the organisers' business
    ("GET", "/console/feedback/{target}"): ORG,
    ("POST", "/console/feedback/questions"): ORG,
    ("POST", "/console/feedback/questions/{question_id}"): ORG,
    ("POST", "/console/feedback/questions/{question_id}/move"): ORG,
    ("POST", "/console/feedback/questions/{question_id}/active"): ORG,
}

# Routes whose own answer to a wrong credential in the body is 401 (the login form): only 403 means refused.
REFUSED_ONLY_BY_403 = {("POST", "/login"), ("POST", "/login/code")}

# Bodies other than `{}` / a bare CSRF field: builds must stay short; the login form must not sign anyone in.
JSON_BODIES: dict[tuple[str, str], dict[str, Any]] = {("POST", "/api/v1/schedule/build"): {"time_limit": 1}}
FORM_FIELDS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/console/programme/schedule/build"): {"time_limit": "1"},
    ("POST", "/login"): {"token": ""},
}

# Calls that change what later calls depend on run last, in this order (logout ends the console sessions).
LAST = [
    ("POST", "/manage/{token}/sessions/{session_id}/release"),
    ("DELETE", "/api/v1/registrations/{registration_id}/sessions/{session_id}"),
    ("POST", "/console/programme/sessions/{session_id}/cancel"),
    ("POST", "/console/programme/sessions/{session_id}/restore"),
    ("DELETE", "/api/v1/sessions/{session_id}"),
    ("DELETE", "/api/v1/slots/{slot_id}"),
    ("DELETE", "/api/v1/rooms/{room_id}"),
    ("DELETE", "/api/v1/reviewers/{reviewer_id}"),
    ("POST", "/console/reviewers/{reviewer_id:uuid}/revoke"),
    ("POST", "/api/v1/registrations/{registration_id}/reject"),
    ("POST", "/console/registrations/{registration_id:uuid}/reject"),
    ("POST", "/console/registrations/{registration_id:uuid}/cancel"),
    ("DELETE", "/api/v1/registrations/{registration_id}"),
    ("POST", "/manage/{token}/cancel"),
    # Erasing A ends its manage link, so after every route that uses it (a repeat answers "already erased").
    ("POST", "/manage/{token}/erase"),
    ("POST", "/group/manage/{token}/erase"),  # erasing G's lead ends G's link
    ("POST", "/api/v1/registrations/{registration_id}/erasure"),
    ("POST", "/console/registrations/{registration_id:uuid}/erase"),
    ("POST", "/console/ticket-types/{ticket_type_id:uuid}/delete"),
    ("POST", "/logout"),
]
# Within a route, the roles expected to be refused go first, so an allowed destructive call cannot skew them.
ROLE_ORDER = ("anonymous", "attendee", "speaker", "reviewer", LINK, "staff", "organiser")


def link_prefix(path: str) -> str | None:
    return next((p for prefix, p in LINK_PREFIXES.items() if path.startswith(prefix)), None)


@dataclass
class World:
    params: dict[str, str]  # path parameter → a real object's id
    links: dict[str, str]  # token prefix → the real private link
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)


async def make_world(app: Starlette, database: Database, settings: Settings) -> World:
    tickets = await make_conference(database, capacity=50)
    await set_call(database, open_=True)
    async with database.transaction() as db:
        organiser = await create_api_token(db, role="organiser", name="Route organiser")
        staff = await create_api_token(db, role="staff", name="Route staff")
        room = await programme.create_room(db, data=RoomCreate(name="Room A", capacity=20), actor=ORGANISER)
        start = datetime(2026, 12, 8, 10, tzinfo=UTC)
        slot = await programme.create_slot(
            db, data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)), actor=ORGANISER
        )
        session = await programme.create_session(
            db,
            data=SessionCreate(title="Workshop", kind=Kind.workshop, room_id=room.id, start_slot_id=slot.id),
            actor=ORGANISER,
        )
    # The second reviewer is the one paths name (and revoke), so the role's own link stays valid throughout.
    _, reviewer_link = await invite(database, settings)
    other_reviewer, _ = await invite(database, settings)
    org_h = {"authorization": f"Bearer {organiser}"}

    transport = httpx.ASGITransport(app=app)
    setup = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    async with setup:

        async def ok(response: httpx.Response, status: int = 200) -> Any:
            assert response.status_code == status, response.text
            return response.json()

        # A pays by invoice, so it has an invoice of its own; B's token is the "attendee" role.
        a_body = invoice_body(tickets["exhibitor"])
        a = await ok(await setup.post("/api/v1/registrations", json=a_body), 201)
        b = await ok(
            await setup.post("/api/v1/registrations", json=registration_body(tickets["delegate"])), 201
        )
        invoices = await ok(await setup.get(f"/api/v1/registrations/{a['id']}/invoices", headers=org_h))
        invoice_id = invoices["data"][0]["id"]
        # P is the proposal in paths; Q's token is the "speaker" role and the /proposal link; T is accepted and
        # confirmed so that a schedule draft has a workshop to move.
        p = await ok(await setup.post("/api/v1/proposals", json=proposal_body()), 201)
        q = await ok(await setup.post("/api/v1/proposals", json=proposal_body()), 201)
        t = await ok(
            await setup.post("/api/v1/proposals", json=proposal_body(format="workshop", duration_minutes=60)),
            201,
        )
        await ok(
            await setup.post(
                "/api/v1/proposals/decisions",
                headers=org_h,
                json={"decision": "accept", "proposal_ids": [t["id"]]},
            )
        )
        await ok(
            await setup.post(
                f"/api/v1/proposals/{t['id']}/confirm", headers={"authorization": f"Bearer {t['edit_token']}"}
            )
        )
        draft = await ok(
            await setup.post("/api/v1/schedule/build", headers=org_h, json={"time_limit": 1}), 201
        )
        assert draft["workshops"], draft
        await ok(
            await setup.post(
                f"/api/v1/registrations/{a['id']}/sessions",
                headers=org_h,
                json={"session_id": str(session.id)},
            ),
            201,
        )
    async with database.transaction() as db:
        broadcast = await broadcasts.send(
            db,
            settings=settings,
            segment="all",
            ref="",
            subject="Route check",
            body="Hello {name}",
            actor=ORGANISER,
        )

    params = {
        "registration_id": a["id"],
        "invoice_id": invoice_id,
        "session_id": str(session.id),
        "room_id": str(room.id),
        "slot_id": str(slot.id),
        "proposal_id": p["id"],
        "reviewer_id": str(other_reviewer),
        "version_id": str(draft["id"]),
        "key": draft["workshops"][0]["key"],
        "fmt": "csv",
        "reference": a["reference"],
        "name": "zxing-reader.js",
        "broadcast_id": str(broadcast.id),
        "ticket_type_id": str(tickets["speaker"]),
        # Ids that match nothing: the role check comes first, so an organiser's 404 still counts as let in.
        "user_id": str(uuid.uuid4()),
        "token_id": str(uuid.uuid4()),
        "question_id": str(uuid.uuid4()),
        "code_id": str(uuid.uuid4()),
        "message_id": str(uuid.uuid4()),
        "checkin_id": str(uuid.uuid4()),  # undo: staff and organisers get 404, others 401/403
        "code": "ABCD-EFGH-JKMN-PQRS",  # a certificate code whose signature fails: "altered" (404), for everyone
        "run_id": str(uuid.uuid4()),  # a certificate run (after the event): organisers get 404
        "resource_id": str(uuid.uuid4()),  # a library item: organisers and the link's holder get 404
        "target": str(uuid.uuid4()),  # feedback on a session that does not exist: 404 past the role check
    }
    a_verify = email_verify_token(str(settings.secret_key), uuid.UUID(a["id"]), a_body["email"].lower(), 1)
    # G: a group of two, whose lead's link is the "g_" link (its paths name A, who is not in it).
    async with database.transaction() as db:
        g = await groups.book_group(
            db,
            settings,
            body=groups.GroupCreate.model_validate(
                {
                    "lead": {"name": "Group Lead", "email": "group.lead@leeds.gov.uk"},
                    "organisation": "Leeds City Council",
                    "sector": "local_authority",
                    "ticket_type_id": str(tickets["delegate"]),
                    "members": [
                        {"name": "Member One", "email": "member.one@leeds.gov.uk"},
                        {"name": "Member Two", "email": "member.two@leeds.gov.uk"},
                    ],
                }
            ),
            actor=ORGANISER,
        )
    links = {
        "m_": a["manage_token"],
        "p_": q["edit_token"],
        "r_": reviewer_link,
        "v_": a_verify,
        "g_": g.manage_token,
    }
    params["group_id"] = str(g.group.id)
    world = World(params, links)
    bearers = {
        "attendee": b["manage_token"],
        "speaker": q["edit_token"],
        "reviewer": reviewer_link,
        "staff": staff,
        "organiser": organiser,
    }
    for role in (*ROLES, LINK):
        token = bearers.get(role)
        client = httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"authorization": f"Bearer {token}"} if token else {},
        )
        await client.get("/login")  # the CSRF cookie, so a refused form is refused by role, not by CSRF
        if role in ("staff", "organiser"):
            csrf = csrf_token_for(str(settings.secret_key), client.cookies[CSRF_COOKIE])
            signed_in = await client.post(
                "/login", data={"token": token, "csrf_token": csrf, "next": "/console"}
            )
            assert signed_in.status_code == 303, signed_in.text
        world.clients[role] = client
    return world


def fill(path: str, params: dict[str, str], token: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return token if name == "token" else params[name]

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


def nobody_link(settings: Settings, prefix: str) -> str:
    """A well-formed private link that matches no delegate, proposal or reviewer."""
    if prefix == "m_":
        return manage_token(str(settings.secret_key), uuid.uuid4(), 1)
    if prefix == "v_":
        return email_verify_token(str(settings.secret_key), uuid.uuid4(), "nobody@example.org", 1)
    return derived_token(str(settings.secret_key), "nobody", prefix, uuid.uuid4(), 1)


def refused(role: str, method: str, path: str, response: httpx.Response) -> bool:
    status = response.status_code
    if status == 403:
        return True
    if status == 401:
        return (method, path) not in REFUSED_ONLY_BY_403
    if status in (302, 303, 307) and "/login?next=" in response.headers.get("location", ""):
        return True  # a console page's "sign in first" (the logout form's plain /login is its success)
    # A private link that matches nothing is 404, not 403, so as not to reveal which links exist; with the real
    # link a 404 is about something else (a seat not held).
    return status == 404 and link_prefix(path) is not None and role != LINK


async def attempt(world: World, settings: Settings, role: str, method: str, path: str) -> httpx.Response:
    client = world.clients[role]
    prefix = link_prefix(path)
    token = (world.links[prefix] if role == LINK else nobody_link(settings, prefix)) if prefix else ""
    url = fill(path, world.params, token)
    key = (method, path)
    if method == "GET":
        return await client.get(url)
    if path.startswith("/api/"):
        return await client.request(method, url, json=JSON_BODIES.get(key, {}))
    csrf = csrf_token_for(str(settings.secret_key), client.cookies[CSRF_COOKIE])
    return await client.request(method, url, data={"csrf_token": csrf, **FORM_FIELDS.get(key, {})})


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The suite's settings with /metrics switched on, so that its token check is what refuses every role."""
    return make_settings(database_url, CONFERENCE_METRICS_TOKEN="metrics-token-no-role-holds-0123456789")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


def test_every_route_has_a_rule(settings: Settings) -> None:
    found = set(app_routes(create_app(settings).routes))
    mounts = {path for method, path in found if method == "MOUNT"}
    routes = {r for r in found if r[0] != "MOUNT"}
    missing = sorted(routes - EXPECTED.keys())
    stale = sorted(EXPECTED.keys() - routes)
    assert not missing, "routes with no rule in EXPECTED (add one): " + ", ".join(
        f"{m} {p}" for m, p in missing
    )
    assert not stale, "rules for routes that no longer exist: " + ", ".join(f"{m} {p}" for m, p in stale)
    assert mounts == PUBLIC_STATIC, f"static mounts changed: {sorted(mounts ^ PUBLIC_STATIC)}"
    for (method, path), allowed in EXPECTED.items():
        prefix = link_prefix(path)
        # The link role exists only where the path holds a link; there it is the only way in.
        assert (LINK in allowed) == bool(prefix) or not allowed, f"{method} {path}: {sorted(allowed)}"


async def test_every_route_answers_each_role_as_the_table_says(
    app: Starlette, database: Database, settings: Settings
) -> None:
    world = await make_world(app, database, settings)
    last = {route: i for i, route in enumerate(LAST)}
    order = sorted(EXPECTED, key=lambda r: (last.get(r, -1), r[0] != "GET", r[0] == "DELETE", r))
    wrong: list[str] = []
    broken: list[str] = []
    try:
        for method, path in order:
            roles = [r for r in ROLE_ORDER if r != LINK or link_prefix(path)]
            for role in roles:
                response = await attempt(world, settings, role, method, path)
                # 503 is the card gateway missing in tests, reached only past authorisation.
                if response.status_code >= 500 and response.status_code != 503:
                    broken.append(f"{method} {path} as {role}: {response.status_code} {response.text[:120]}")
                    continue
                allowed = not refused(role, method, path, response)
                if allowed != (role in EXPECTED[(method, path)]):
                    wrong.append(
                        f"{method} {path} as {role}: {response.status_code} "
                        f"({'let in' if allowed else 'refused'}) {response.text[:100]!r}"
                    )
    finally:
        for client in world.clients.values():
            await client.aclose()
    assert not wrong and not broken, "\n".join(
        ["disagreements with EXPECTED:", *wrong, "server errors:", *broken]
    )
