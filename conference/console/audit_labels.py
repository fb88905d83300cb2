"""The audit log's action codes in words, for the console's page (the CSV export keeps the codes).

Codes are dotted, package.noun.verb (conference.registration.cancelled). A code missing from LABELS, such as one a
new feature writes before anyone adds it here, is still shown in words: its noun and verb ("Ticket type created").
"""

from __future__ import annotations

LABELS = {
    # --- badges and the door
    "badges.badge.downloaded": "Badge downloaded",
    "badges.badge.reissued": "Badge reissued",
    "badges.checkins.viewed": "Check-in log viewed",
    "badges.checkin.undone": "Check-in undone",
    "badges.door.access_needs": "Access needs at the door switched",
    "badges.print_run.downloaded": "Badge print run downloaded",
    "badges.printed": "Badges marked as printed",
    # --- signing in, people and tokens
    "conference.login.failed": "Sign-in failed",
    "conference.login.succeeded": "Signed in",
    "conference.logout": "Signed out",
    "conference.password_reset.requested": "Password reset requested",
    "conference.password_reset.issued": "Password reset link made",
    "conference.password_reset.completed": "Password reset",
    "conference.token.created": "API token created",
    "conference.token.revoked": "API token revoked",
    "conference.user.created": "User added",
    "conference.user.disabled": "User disabled",
    "conference.user.enabled": "User enabled",
    "conference.user.password_changed": "Password changed",
    "conference.user.sessions_revoked": "Signed out everywhere",
    "conference.user.totp_enabled": "Two-step sign-in turned on",
    "conference.user.totp_disabled": "Two-step sign-in turned off",
    # --- the event and registrations
    "conference.conference.created": "Event set up",
    "conference.conference.updated": "Event settings changed",
    "conference.demo.loaded": "Demo data loaded",
    "conference.group.booked": "Group booking made",
    "conference.group.promoted": "Group promoted from the waiting list",
    "conference.group.member_added": "Group member added",
    "conference.group.member_cancelled": "Group member cancelled",
    "conference.group.member_substituted": "Group member substituted",
    "conference.group.erased": "Group lead's personal data erased",
    "conference.groups.exported": "Group bookings exported",
    "conference.ticket_type.created": "Ticket type added",
    "conference.ticket_type.updated": "Ticket type changed",
    "conference.ticket_type.hidden": "Ticket type hidden",
    "conference.ticket_type.shown": "Ticket type shown",
    "conference.ticket_type.moved": "Ticket types reordered",
    "conference.ticket_type.deleted": "Ticket type deleted",
    "conference.code.created": "Code made",
    "conference.code.bulk_created": "Codes made in bulk",
    "conference.code.revoked": "Code revoked",
    "conference.code.exported": "Codes downloaded",
    "conference.question.created": "Registration question added",
    "conference.question.updated": "Registration question changed",
    "conference.question.hidden": "Registration question hidden",
    "conference.question.shown": "Registration question shown",
    "conference.question.moved": "Registration questions reordered",
    "conference.questions.deadline_set": "Deadline for changing answers set",
    "conference.registration.created": "Registration made",
    "conference.registration.added_by_hand": "Registration added by an organiser",
    "conference.registration.answers_changed": "Answers to questions changed",
    "conference.registration.confirmed": "Registration confirmed",
    "conference.registration.approved": "Registration approved",
    "conference.registration.rejected": "Registration rejected",
    "conference.registration.cancelled": "Registration cancelled",
    "conference.registration.promoted": "Moved up from the waiting list",
    "conference.registration.released": "Unpaid place released",
    "conference.registration.reinstated": "Registration reinstated",
    "conference.registration.edited": "Delegate's details edited",
    "conference.registration.substituted": "Place transferred to someone else",
    "conference.registration.email_resent": "Booking email sent again",
    "conference.registration.verification_requested": "Email address check sent",
    "conference.registration.email_verified": "Email address confirmed",
    "conference.registration.viewed": "Registration viewed",
    "conference.registration.erased": "Personal data erased",
    "conference.registrations.decided": "Registrations approved or rejected together",
    "conference.registrations.viewed": "Registrations searched",
    "conference.registrations.listed": "Registrations listed (API)",
    "conference.registrations.exported": "Registrations exported",
    "conference.export.delegates": "Delegate list exported",
    "conference.export.dietary": "Dietary list exported",
    "conference.export.attendance": "Attendance exported",
    "conference.personal_data.downloaded": "Personal data downloaded",
    "conference.broadcast.sent": "Message sent to delegates",
    "conference.broadcast.viewed": "Sent message viewed",
    "conference.outbox.viewed": "Email in the outbox read",
    "conference.outbox.resent": "Email sent again from the outbox",
    "conference.audit.exported": "Audit log exported",
    # --- payments and invoices
    "conference.payment.received": "Payment received",
    "conference.payment.refund_requested": "Refund requested",
    "conference.payment.no_refund": "Not refunded (after the refund date)",
    "conference.payment.refund_failed": "Refund failed",
    "conference.payment.late_refunded": "Late payment refunded",
    "conference.invoice.issued": "Invoice issued",
    "conference.invoice.paid": "Invoice marked as paid",
    "conference.invoice.credited": "Invoice credited",
    "conference.invoice.not_credited": "Invoice left to stand (after the refund date)",
    "conference.invoice.downloaded": "Invoice downloaded",
    # --- the programme
    "sessions.room.created": "Room added",
    "sessions.room.updated": "Room changed",
    "sessions.room.deleted": "Room deleted",
    "sessions.slot.created": "Time slot added",
    "sessions.slot.deleted": "Time slot deleted",
    "sessions.session.created": "Session added",
    "sessions.session.updated": "Session edited",
    "sessions.session.cancelled": "Session cancelled",
    "sessions.session.restored": "Session restored",
    "sessions.session.deleted": "Session deleted",
    "sessions.room_sheet.exported": "Room sheet downloaded",
    "sessions.phase.updated": "Booking phase changed",
    "sessions.seat.booked": "Seat booked",
    "sessions.seat.waitlisted": "Joined a waiting list",
    "sessions.seat.promoted": "Seat given from the waiting list",
    "sessions.seat.released": "Seat given up",
    "sessions.choices.set": "Workshops ranked",
    "sessions.allocation.previewed": "Workshop allocation previewed",
    "sessions.allocation.applied": "Workshop allocation applied",
    "sessions.schedule.built": "Draft programme built",
    "sessions.schedule.workshop_moved": "Workshop moved in a draft",
    "sessions.schedule.published": "Programme published",
    # --- the call for talks
    "sessions.call.updated": "Call for talks changed",
    "sessions.proposal.submitted": "Proposal submitted",
    "sessions.proposal.updated": "Proposal edited",
    "sessions.proposal.withdrawn": "Proposal withdrawn",
    "sessions.proposal.accepted": "Proposal accepted",
    "sessions.proposal.rejected": "Proposal rejected",
    "sessions.proposal.confirmed": "Talk confirmed by its speakers",
    "sessions.proposal.declined": "Talk declined by its speakers",
    "sessions.proposals.listed": "Proposals listed",
    "sessions.review.saved": "Review saved",
    "sessions.reviewer.invited": "Reviewer invited",
    "sessions.reviewer.revoked": "Reviewer's access revoked",
    "sessions.stars.set": "Talks starred",
    # --- after the event: CPD rules, corrections, emails (sessions/attendance/console.py, corrections.py)
    "sessions.after_event.settings_changed": "CPD rules changed",
    "sessions.after_event.emails_scheduled": "After-event emails scheduled",
    "sessions.attendance.scan_added": "Missed scan added by an organiser",
    # --- certificates of attendance (sessions/attendance/certificates.py, bulk.py)
    "sessions.certificate.issued": "Certificate of attendance issued",
    "sessions.certificate.withdrawn": "Certificate of attendance withdrawn",
    "sessions.certificate.run_started": "Certificate run started",
    "sessions.certificate.run_finished": "Certificate run finished",
    # --- the library: organisers' approval (sessions/library/approval.py)
    "sessions.library.approved": "Library item approved",
    "sessions.library.rejected": "Library item rejected",
    "sessions.library.visibility_changed": "Library item's visibility changed",
    # --- the library: speakers' uploads (sessions/library/uploads.py)
    "sessions.library.uploaded": "Library file uploaded by a speaker",
    "sessions.library.link_added": "Library link added by a speaker",
    "sessions.library.removed": "Library item removed by a speaker",
    # --- session feedback (sessions/feedback/questions.py, export.py)
    "sessions.feedback.question_changed": "Feedback question changed",
    "sessions.feedback.exported": "Feedback exported (no names)",
}

# The filter's groups: an action's first two parts.
FAMILIES = {
    "badges.badge": "Badges",
    "badges.checkins": "Check-in log",
    "badges.checkin": "Check-in",
    "badges.door": "Door settings",
    "badges.print_run": "Badge print runs",
    "badges.printed": "Badges printed",
    "conference.login": "Signing in",
    "conference.logout": "Signing out",
    "conference.password_reset": "Password resets",
    "conference.token": "API tokens",
    "conference.user": "Users",
    "conference.ticket_type": "Ticket types",
    "conference.code": "Codes",
    "conference.question": "Registration questions",
    "conference.questions": "Registration questions, all",
    "conference.outbox": "Outbox",
    "conference.conference": "Event settings",
    "conference.registration": "Registrations",
    "conference.group": "Group bookings",
    "conference.groups": "Group bookings, exported",
    "conference.registrations": "Registrations, in bulk",
    "conference.export": "Exports",
    "conference.personal_data": "Personal data",
    "conference.broadcast": "Messages",
    "conference.audit": "Audit log",
    "conference.payment": "Payments",
    "conference.invoice": "Invoices",
    "sessions.room": "Rooms",
    "sessions.slot": "Time slots",
    "sessions.session": "Sessions",
    "sessions.seat": "Seats",
    "sessions.schedule": "Programme builds",
    "sessions.proposal": "Proposals",
    "sessions.proposals": "Proposals, in bulk",
    "sessions.reviewer": "Reviewers",
    "sessions.after_event": "After the event",
    "sessions.certificate": "Certificates of attendance",
    "sessions.attendance": "Attendance corrections",
    "sessions.feedback": "Session feedback",
    "sessions.library": "Best-practice library",
}


def _words(part: str) -> str:
    return part.replace("_", " ").strip()


def label(action: str) -> str:
    """The action in words: from LABELS, else its noun and verb (conference.ticket_type.created: "Ticket type
    created")."""
    if action in LABELS:
        return LABELS[action]
    parts = [p for p in action.split(".") if p]
    text = " ".join(_words(p) for p in (parts[1:] if len(parts) > 1 else parts))
    return text[:1].upper() + text[1:] if text else action


def family_label(family: str) -> str:
    if family in FAMILIES:
        return FAMILIES[family]
    return label(family)
