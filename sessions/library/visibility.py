"""Who may see which library item: the one rule, used by the catalogue, the file downloads and the tests.

- `public`: anyone, signed in or not.
- `delegates`: a delegate holding a place (status confirmed), from their manage link.
- `public_sector`: such a delegate whose organisation is in the public sector ("trusted partners"): any sector
  but community or faith organisations and "other".

A cancelled, waitlisted or unconfirmed booking, or one whose personal data is erased, sees only public items.
"""

from __future__ import annotations

from dataclasses import dataclass

from conference.core.models import Registration, Sector, Status
from sessions.models import Visibility

# Not the public sector: these delegates see public and delegates-only items, not the trusted partners' ones.
NOT_PUBLIC_SECTOR = frozenset({Sector.community_faith, Sector.other})


@dataclass(frozen=True)
class Viewer:
    """Someone looking at the library: anonymous, or a delegate seen through their manage link."""

    holds_place: bool = False
    public_sector: bool = False

    @property
    def anonymous(self) -> bool:
        return not self.holds_place


ANONYMOUS = Viewer()


def is_public_sector(sector: Sector) -> bool:
    return sector not in NOT_PUBLIC_SECTOR


def delegate(registration: Registration) -> Viewer:
    """The viewer a registration is: a place-holder (confirmed, not erased), public-sector or not."""
    holds = registration.status == Status.confirmed and registration.erased_at is None
    return Viewer(holds_place=holds, public_sector=holds and is_public_sector(registration.sector))


def can_see(viewer: Viewer, visibility: Visibility) -> bool:
    if visibility == Visibility.public:
        return True
    if visibility == Visibility.delegates:
        return viewer.holds_place
    return viewer.holds_place and viewer.public_sector


def visible_to(viewer: Viewer) -> tuple[Visibility, ...]:
    """The visibilities this viewer may see, for a query's IN list."""
    return tuple(v for v in Visibility if can_see(viewer, v))


# What a viewer who may not see an item is told it needs.
NEEDS = {
    Visibility.delegates: "for delegates",
    Visibility.public_sector: "for public-sector delegates",
}
