"""The demo event's call for talks: ~60 best-practice proposals from councils, police forces, schools, health and
community groups, reviewed by five reviewers, decided, mostly confirmed, and starred by the synthetic delegates.

Everything goes through the same services as the web (one transaction per step), so the demo's data is what
the organisers' pages and the scheduler will meet. Stars are skewed (a few talks draw most of them) and follow
the delegates' sectors (schools star education and online safety, police information sharing, and so on).
"""

from __future__ import annotations

import random
import statistics
import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import col

from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import Registration, Sector, Status, utcnow
from conference.core.settings import Settings
from conference.server.demo import FIRST, LAST, PLACES
from sessions.call import call as calls
from sessions.call import proposals, review, stars
from sessions.call.demo_proposals import PROPOSALS
from sessions.models import (
    CallUpdate,
    Decision,
    Proposal,
    ProposalCreate,
    ProposalFormat,
    ProposalStatus,
    ReviewerInvite,
    ReviewIn,
    Star,
    StarsIn,
)

DEMO = Actor("cli", "demo")

REVIEWERS = [
    ("Dr Helen Marsh", "helen.marsh@whatworks.example.org"),
    ("Superintendent Raj Patel", "raj.patel@review.police.uk"),
    ("Carol Osei", "carol.osei@safeguarding.example.org"),
    ("Prof. Martin Kerr", "martin.kerr@review.ac.uk"),
    ("Joanne Whitfield", "joanne.whitfield@review.gov.uk"),
]
# What each sector's delegates are drawn to (weight 3 against 1 for the other themes).
SECTOR_THEMES: dict[Sector, tuple[str, ...]] = {
    Sector.local_authority: ("partnership working", "information sharing", "community engagement"),
    Sector.police: ("information sharing", "partnership working", "online safety"),
    Sector.school: ("education", "online safety"),
    Sector.further_higher_education: ("evaluation", "education"),
    Sector.health: ("partnership working", "information sharing"),
    Sector.youth_offending_team: ("partnership working", "community engagement"),
    Sector.probation: ("partnership working", "evaluation"),
    Sector.prison: ("partnership working", "evaluation"),
    Sector.fire_rescue: ("community engagement", "partnership working"),
    Sector.community_faith: ("community engagement", "online safety"),
    Sector.central_government: ("evaluation", "information sharing"),
    Sector.other: ("evaluation",),
}
ACCEPT = 46  # enough talks to fill the workshop rooms' free slots once short talks share a slot


def _slug(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def _proposal(
    rng: random.Random,
    n: int,
    spec: tuple[str, list[str], str, int, str, str],
    options: list[calls.TimeOption],
) -> ProposalCreate:
    title, themes, fmt, minutes, org_pattern, domain_pattern = spec
    place = rng.choice(PLACES)
    organisation, domain = org_pattern.format(place=place), domain_pattern.format(slug=_slug(place))
    count = 3 if fmt == "panel" else rng.choice((1, 1, 1, 2, 2))
    speakers = []
    for k in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        # Panels bring a partner from another sector; their speakers may be busy elsewhere part of the event.
        org, dom = (
            (organisation, domain)
            if k == 0 or fmt != "panel"
            else (
                rng.choice(
                    [
                        ("{p} Community Trust", "{s}community.org.uk"),
                        ("{p} NHS Foundation Trust", "nhs.net"),
                        ("{p} Police", "{s}.police.uk"),
                    ]
                )
            )
        )
        org, dom = org.format(p=place, place=place), dom.format(s=_slug(place), slug=_slug(place))
        unavailable = [rng.choice(options).id] if options and rng.random() < 0.25 else []
        speakers.append(
            {
                "name": f"{first} {last}",
                "email": f"{_slug(first)}.{_slug(last)}{n}{k}@{dom}",
                "organisation": org,
                "unavailable": unavailable,
            }
        )
    abstract = (
        f"{title}. We describe the problem we faced in {place}, what we changed, who we worked with, and "
        "the evidence that it made a difference: referral times, repeat incidents and what young people "
        "and families told us. We finish with what we would do differently and what other areas can "
        "take away and adapt."
    )
    return ProposalCreate.model_validate(
        {
            "title": title,
            "abstract": abstract,
            "format": fmt,
            "duration_minutes": minutes,
            "themes": themes,
            "speakers": speakers,
            "audience_level": rng.choice(["introductory", "intermediate", "intermediate", "advanced"]),
            "access_needs": rng.choice(["", "", "", "", "Step-free access to the stage", "A hearing loop"]),
        }
    )


async def load_demo_call(database: Database, settings: Settings, *, seed: int = 2026) -> tuple[int, int]:
    """The call once (proposals, reviews, decisions, answers); stars for delegates who have none yet, each run.
    Returns (proposals, stars added)."""
    async with database.read() as db:
        existing = int((await db.execute(sa.select(sa.func.count()).select_from(Proposal))).scalar_one())
    if not existing:
        await _run_call(database, settings, seed)
    added = await _add_stars(database, seed)
    async with database.read() as db:
        return int((await db.execute(sa.select(sa.func.count()).select_from(Proposal))).scalar_one()), added


async def _run_call(database: Database, settings: Settings, seed: int) -> None:
    rng = random.Random(seed)
    now = utcnow()
    async with database.transaction() as db:
        conference, _call = await calls.get_call(db)
        await calls.update_call(
            db,
            data=CallUpdate(
                opens_at=now - timedelta(days=1),
                closes_at=now + timedelta(days=1),
                themes=list(calls.DEFAULT_THEMES),
                anonymous_review=True,
                formats={ProposalFormat(k): v for k, v in calls.DEFAULT_FORMATS.items()},
            ),
            actor=DEMO,
        )
        options = await calls.time_options(db, conference)
    ids: list[uuid.UUID] = []
    for n, spec in enumerate(PROPOSALS):
        async with database.transaction() as db:
            proposal, _token = await proposals.submit_proposal(
                db, settings=settings, data=_proposal(rng, n, spec, options), actor=Actor("anonymous")
            )
            ids.append(proposal.id)
    withdrawn = set(rng.sample(ids, 2))
    for pid in withdrawn:
        async with database.transaction() as db:
            await proposals.withdraw_proposal(
                db, proposal_id=pid, actor=Actor("speaker", str(pid)[:8], scope_id=pid)
            )
    # The call ran from three months to six weeks before the event (as the demo tells it).
    async with database.transaction() as db:
        await calls.update_call(
            db,
            data=CallUpdate(
                opens_at=conference.starts_at - timedelta(days=100),
                closes_at=conference.starts_at - timedelta(days=42),
            ),
            actor=DEMO,
        )
        reviewers = [
            await review.invite_reviewer(
                db, settings=settings, data=ReviewerInvite(name=name, email=email), actor=DEMO
            )
            for name, email in REVIEWERS
        ]
    # Each proposal has a hidden quality; each reviewer a bias; three reviewers score each proposal.
    quality = {pid: rng.gauss(3.3, 0.8) for pid in ids}
    bias = {r.id: rng.gauss(0, 0.35) for r in reviewers}
    means: dict[uuid.UUID, float] = {}
    for pid in ids:
        if pid in withdrawn:
            continue
        scores = []
        for r in rng.sample(reviewers, 3):
            marks = {
                c: max(1, min(5, round(quality[pid] + bias[r.id] + rng.gauss(0, 0.6))))
                for c in ("relevance", "impact", "transferability")
            }
            comment = rng.choice(
                [
                    "Clear evidence of impact; would transfer well.",
                    "Strong practice, thin on evaluation.",
                    "Relevant, but the abstract is vague about outcomes.",
                    "Very practical; delegates will value this.",
                    "Interesting local story; unclear how others would adopt it.",
                ]
            )
            async with database.transaction() as db:
                await review.save_review(
                    db,
                    reviewer_id=r.id,
                    proposal_id=pid,
                    data=ReviewIn(**marks, comment=comment),
                    actor=Actor("reviewer", str(r.id)[:8], scope_id=r.id),
                )
            scores.append(sum(marks.values()) / 3)
        means[pid] = statistics.fmean(scores)
    ranked = sorted(means, key=lambda pid: -means[pid])
    accepted, rejected = ranked[:ACCEPT], ranked[ACCEPT:]
    async with database.transaction() as db:
        await proposals.decide_proposals(
            db, settings=settings, proposal_ids=accepted, decision=Decision.accept, actor=DEMO
        )
        await proposals.decide_proposals(
            db, settings=settings, proposal_ids=rejected, decision=Decision.reject, actor=DEMO
        )
    # Most speakers confirm; a few decline, and a few have not answered yet.
    for k, pid in enumerate(rng.sample(accepted, len(accepted))):
        if k < 3:
            continue
        async with database.transaction() as db:
            await proposals.answer_acceptance(
                db, proposal_id=pid, confirm=k >= 6, actor=Actor("speaker", str(pid)[:8], scope_id=pid)
            )


async def _add_stars(database: Database, seed: int) -> int:
    async with database.read() as db:
        talks = await stars.starrable(db)
        people = (
            await db.execute(
                sa.select(col(Registration.id), col(Registration.number), col(Registration.sector))
                .where(
                    col(Registration.status) != Status.cancelled,
                    ~sa.exists().where(col(Star.registration_id) == Registration.id),
                )
                .order_by(col(Registration.number))
            )
        ).all()
    if not talks:
        return 0
    rng = random.Random(seed)
    # Some talks draw crowds (a log-normal pull: skewed, but no one talk takes everybody), whatever their theme;
    # confirmed ones are better known.
    pull = {
        t.id: rng.lognormvariate(0.0, 0.8) * (1.2 if t.status == ProposalStatus.confirmed else 1.0)
        for t in talks
    }
    added = 0
    for person_id, number, sector in people:
        person = random.Random(seed * 100_003 + number)
        if person.random() < 0.15:
            continue  # some delegates never star anything
        liked = SECTOR_THEMES.get(sector, ())
        weights = [pull[t.id] * (3.0 if set(t.themes) & set(liked) else 1.0) for t in talks]
        chosen: list[str] = []
        pool = list(range(len(talks)))
        for _ in range(min(len(talks), person.randint(3, 9))):
            pick = person.choices(range(len(pool)), weights=[weights[i] for i in pool])[0]
            chosen.append(str(talks[pool.pop(pick)].id))
        async with database.transaction() as db:
            await stars.set_stars(
                db, registration_id=person_id, data=StarsIn(proposal_ids=chosen), actor=DEMO
            )
        added += len(chosen)
    return added
