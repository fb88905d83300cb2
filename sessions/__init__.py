"""Workshops and seats: rooms, time slots, sessions, seat booking, ranked choices and the fair allocation; the
call for talks, its review and delegates' stars."""

from __future__ import annotations


def install() -> None:
    """Connect this package to the registration core (called by the composition roots: app and CLI)."""
    from pathlib import Path

    from jinja2 import FileSystemLoader

    from conference.core import hooks
    from conference.mail import mailtext
    from conference.pages import registration as pages
    from sessions.call import proposal_mail, proposals, review
    from sessions.workshops import personal_data
    from sessions.workshops.agenda import registration_sessions
    from sessions.workshops.capacity import release_all_seats

    hooks.on_registration_released(release_all_seats)
    hooks.on_registration_details(registration_sessions)
    hooks.on_personal_data(personal_data.export_sessions)
    hooks.on_registration_erased(personal_data.erase_sessions)
    hooks.on_bearer_token(proposals.TOKEN_PREFIX, proposals.speaker_actor)
    hooks.on_bearer_token(review.TOKEN_PREFIX, review.reviewer_actor)
    for kind, composer in proposal_mail.COMPOSERS.items():
        mailtext.register_kind(kind, composer)
    folder = str(Path(__file__).parent / "templates")
    if not any(getattr(loader, "searchpath", None) == [folder] for loader in pages.template_loader.loaders):
        pages.template_loader.loaders.append(FileSystemLoader(folder))
