"""Workshops and seats: rooms, time slots, sessions, seat booking, ranked choices and the fair allocation."""

from __future__ import annotations


def install() -> None:
    """Connect this package to the registration core (called by the composition roots: app and CLI)."""
    from conference import hooks
    from sessions.agenda import registration_sessions
    from sessions.capacity import release_all_seats

    hooks.on_registration_released(release_all_seats)
    hooks.on_registration_details(registration_sessions)
