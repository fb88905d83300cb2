"""Workshops and seats: rooms, time slots, sessions, seat booking, ranked choices and the fair allocation."""

from __future__ import annotations


def install() -> None:
    """Connect this package to the registration core (called by the composition roots: app and CLI)."""
    from pathlib import Path

    from jinja2 import FileSystemLoader

    from conference import hooks, pages
    from sessions.agenda import registration_sessions
    from sessions.capacity import release_all_seats

    hooks.on_registration_released(release_all_seats)
    hooks.on_registration_details(registration_sessions)
    folder = str(Path(__file__).parent / "templates")
    if not any(getattr(loader, "searchpath", None) == [folder] for loader in pages.template_loader.loaders):
        pages.template_loader.loaders.append(FileSystemLoader(folder))
