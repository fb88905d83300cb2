"""What this package adds to the registration core, through conference's hooks (imports point one way:
sessions → conference). Called once by the composition roots (conference.server.app and .cli)."""

from __future__ import annotations

from pathlib import Path

from conference.core import hooks
from conference.mail import mailtext
from conference.web import templating
from sessions.attendance import certificates, followup_mail
from sessions.call import proposal_mail, proposals, review
from sessions.feedback import personal_data as feedback_data
from sessions.workshops import fill, personal_data, segments, titles
from sessions.workshops.agenda import registration_sessions
from sessions.workshops.capacity import release_all_seats


def install() -> None:
    hooks.on_registration_released(release_all_seats)
    hooks.on_registration_details(registration_sessions)
    hooks.on_personal_data(personal_data.export_sessions)
    hooks.on_registration_erased(personal_data.erase_sessions)
    hooks.on_personal_data(certificates.export_certificates)  # certificates of attendance, as issued
    hooks.on_registration_erased(certificates.erase_certificates)  # names blanked, the current one withdrawn
    hooks.on_personal_data(feedback_data.export_feedback)  # the delegate's own feedback answers
    hooks.on_registration_erased(feedback_data.erase_feedback)  # answers stay, linked to nobody
    hooks.on_bearer_token(proposals.TOKEN_PREFIX, proposals.speaker_actor)
    hooks.on_bearer_token(review.TOKEN_PREFIX, review.reviewer_actor)
    hooks.on_dashboard_series(fill.SERIES, fill.workshop_fill)
    hooks.on_message_segment(segments.SEGMENT, segments.PROVIDER)
    hooks.on_checkin_list_titles(titles.session_titles)
    for kind, composer in proposal_mail.COMPOSERS.items():
        mailtext.register_kind(kind, composer)
    for kind, after_event in followup_mail.COMPOSERS.items():  # after the event: certificate, feedback invite
        mailtext.register_kind(kind, after_event)
    templating.add_template_folder(Path(__file__).parent / "templates")
