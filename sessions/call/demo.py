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

from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import Registration, Sector, Status, utcnow
from conference.core.settings import Settings
from conference.server.demo import FIRST, LAST, PLACES
from sessions.call import call as calls
from sessions.call import proposals, review, stars
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

# (title, themes, format, minutes, organisation pattern, email domain pattern)
PROPOSALS: list[tuple[str, list[str], str, int, str, str]] = [
    (
        "One front door: a shared triage desk for children's referrals",
        ["information sharing", "partnership working"],
        "talk",
        30,
        "{place} City Council",
        "{slug}.gov.uk",
    ),
    (
        "What our MASH learned from 2,000 strategy discussions",
        ["information sharing"],
        "talk",
        20,
        "{place} City Council",
        "{slug}.gov.uk",
    ),
    (
        "Lawful, fast, safe: an information-sharing agreement in plain English",
        ["information sharing"],
        "talk",
        20,
        "{place} Police",
        "{slug}.police.uk",
    ),
    (
        "Shared case notes across police, health and social care",
        ["information sharing", "partnership working"],
        "panel",
        60,
        "{place} Police",
        "{slug}.police.uk",
    ),
    (
        "GP practices and school nurses: closing the information gap",
        ["information sharing", "education"],
        "talk",
        30,
        "{place} NHS Foundation Trust",
        "nhs.net",
    ),
    (
        "Cross-border data sharing between neighbouring forces",
        ["information sharing"],
        "talk",
        20,
        "{place} Police",
        "{slug}.police.uk",
    ),
    (
        "Missing-from-home returns: sharing what children tell us",
        ["information sharing", "community engagement"],
        "talk",
        30,
        "{place} Youth Justice Service",
        "{slug}.gov.uk",
    ),
    (
        "Hands-on: writing a data protection impact assessment for a partnership",
        ["information sharing", "evaluation"],
        "workshop",
        120,
        "{place} City Council",
        "{slug}.gov.uk",
    ),
    (
        "County lines: police and youth justice working as one team",
        ["partnership working"],
        "talk",
        30,
        "{place} Police",
        "{slug}.police.uk",
    ),
    (
        "Street triage: mental health nurses in the patrol car",
        ["partnership working"],
        "talk",
        30,
        "{place} NHS Foundation Trust",
        "nhs.net",
    ),
    (
        "Prison leavers and housing: a partnership that works",
        ["partnership working", "evaluation"],
        "talk",
        20,
        "HMP {place}",
        "justice.gov.uk",
    ),
    (
        "Fire and rescue home visits as a safeguarding route",
        ["partnership working", "community engagement"],
        "talk",
        20,
        "{place} Fire and Rescue Service",
        "{slug}fire.gov.uk",
    ),
    (
        "Hospital-based youth violence navigators",
        ["partnership working"],
        "talk",
        30,
        "{place} NHS Foundation Trust",
        "nhs.net",
    ),
    (
        "The serious violence duty, one year in: what partners did",
        ["partnership working", "evaluation"],
        "panel",
        60,
        "{place} City Council",
        "{slug}.gov.uk",
    ),
    (
        "Transitions from youth to adult probation without the cliff edge",
        ["partnership working"],
        "talk",
        20,
        "Probation Service ({place})",
        "justice.gov.uk",
    ),
    (
        "Hands-on: mapping your local partnership, who does what",
        ["partnership working"],
        "workshop",
        60,
        "{place} Community Trust",
        "{slug}community.org.uk",
    ),
    (
        "Contextual safeguarding: mapping the places young people meet",
        ["partnership working", "community engagement"],
        "talk",
        30,
        "{place} City Council",
        "{slug}.gov.uk",
    ),
    (
        "Co-designing services with care-experienced young people",
        ["community engagement"],
        "workshop",
        120,
        "{place} Community Trust",
        "{slug}community.org.uk",
    ),
    (
        "Faith groups as safeguarding partners",
        ["community engagement", "partnership working"],
        "talk",
        20,
        "{place} Community Trust",
        "{slug}community.org.uk",
    ),
    (
        "Neighbourhood policing and community trust after a crisis",
        ["community engagement"],
        "talk",
        30,
        "{place} Police",
        "{slug}.police.uk",
    ),
    (
        "Youth voice in the local safeguarding partnership",
        ["community engagement"],
        "panel",
        60,
        "{place} Youth Justice Service",
        "{slug}.gov.uk",
    ),
    (
        "Volunteers in the safeguarding workforce: recruit, train, keep",
        ["community engagement"],
        "talk",
        20,
        "{place} Community Trust",
        "{slug}community.org.uk",
    ),
    (
        "Mentoring schemes that reduce reoffending",
        ["community engagement", "evaluation"],
        "talk",
        30,
        "Probation Service ({place})",
        "justice.gov.uk",
    ),
    (
        "Sport as a way in: midnight football and knife crime",
        ["community engagement"],
        "talk",
        20,
        "{place} Community Trust",
        "{slug}community.org.uk",
    ),
    (
        "Listening events that changed how our council commissions",
        ["community engagement"],
        "talk",
        20,
        "{place} City Council",
        "{slug}.gov.uk",
    ),
    (
        "Hands-on: running a community conversation that people come to",
        ["community engagement"],
        "workshop",
        60,
        "{place} Fire and Rescue Service",
        "{slug}fire.gov.uk",
    ),
    (
        "Reducing exclusions through early help in the classroom",
        ["education"],
        "talk",
        30,
        "{place} Academy",
        "{slug}academy.sch.uk",
    ),
    (
        "Restorative practice in schools and children's homes",
        ["education", "community engagement"],
        "talk",
        30,
        "{place} Academy",
        "{slug}academy.sch.uk",
    ),
    (
        "Attendance and inclusion: what colleges can do",
        ["education"],
        "talk",
        20,
        "University of {place}",
        "{slug}.ac.uk",
    ),
    (
        "The designated safeguarding lead's first hundred days",
        ["education"],
        "talk",
        20,
        "{place} Academy",
        "{slug}academy.sch.uk",
    ),
    (
        "Relationships education that young people rate",
        ["education", "online safety"],
        "talk",
        30,
        "{place} Academy",
        "{slug}academy.sch.uk",
    ),
    (
        "Police school liaison officers: what the evidence says",
        ["education", "evaluation"],
        "panel",
        60,
        "{place} Police",
        "{slug}.police.uk",
    ),
    (
        "Hands-on: trauma-informed classrooms, practical strategies",
        ["education"],
        "workshop",
        120,
        "{place} Academy",
        "{slug}academy.sch.uk",
    ),
    (
        "Online harms: what teachers need to know this year",
        ["online safety", "education"],
        "talk",
        30,
        "{place} Academy",
        "{slug}academy.sch.uk",
    ),
    (
        "Sextortion: responding well in the first hour",
        ["online safety"],
        "talk",
        20,
        "{place} Police",
        "{slug}.police.uk",
    ),
    (
        "Digital resilience clubs in primary schools",
        ["online safety", "education"],
        "talk",
        20,
        "{place} Academy",
        "{slug}academy.sch.uk",
    ),
    (
        "Online radicalisation: spotting the signs early",
        ["online safety"],
        "talk",
        30,
        "Home Office",
        "homeoffice.gov.uk",
    ),
    (
        "Parents, phones and the group chat: a community programme",
        ["online safety", "community engagement"],
        "talk",
        20,
        "{place} Community Trust",
        "{slug}community.org.uk",
    ),
    (
        "Image-based abuse and the law: a panel of practitioners",
        ["online safety"],
        "panel",
        60,
        "{place} Police",
        "{slug}.police.uk",
    ),
    (
        "Hands-on: setting up a safe online reporting route for young people",
        ["online safety"],
        "workshop",
        60,
        "{place} City Council",
        "{slug}.gov.uk",
    ),
    (
        "Gaming platforms and grooming: what moderators see",
        ["online safety"],
        "talk",
        20,
        "University of {place}",
        "{slug}.ac.uk",
    ),
    (
        "Evaluating small community projects on a small budget",
        ["evaluation", "community engagement"],
        "workshop",
        120,
        "University of {place}",
        "{slug}.ac.uk",
    ),
    (
        "Measuring what matters: an outcomes framework partners share",
        ["evaluation", "partnership working"],
        "talk",
        30,
        "{place} City Council",
        "{slug}.gov.uk",
    ),
    (
        "Exploitation screening tools: do they work?",
        ["evaluation"],
        "talk",
        30,
        "University of {place}",
        "{slug}.ac.uk",
    ),
    (
        "Learning from domestic abuse related death reviews",
        ["evaluation", "partnership working"],
        "talk",
        30,
        "{place} City Council",
        "{slug}.gov.uk",
    ),
    (
        "A randomised trial of a youth diversion scheme",
        ["evaluation"],
        "talk",
        20,
        "University of {place}",
        "{slug}.ac.uk",
    ),
    (
        "Hands-on: a theory of change for your safeguarding project",
        ["evaluation"],
        "workshop",
        60,
        "{place} Community Trust",
        "{slug}community.org.uk",
    ),
    (
        "What the serious case reviews keep telling us",
        ["evaluation", "information sharing"],
        "panel",
        60,
        "Home Office",
        "homeoffice.gov.uk",
    ),
    (
        "Cost-benefit of early help: the numbers finance directors accept",
        ["evaluation"],
        "talk",
        20,
        "{place} City Council",
        "{slug}.gov.uk",
    ),
    (
        "Peer review between safeguarding partnerships",
        ["evaluation", "partnership working"],
        "talk",
        20,
        "{place} Youth Justice Service",
        "{slug}.gov.uk",
    ),
    (
        "Bystander training in further education colleges",
        ["education", "community engagement"],
        "talk",
        20,
        "University of {place}",
        "{slug}.ac.uk",
    ),
    (
        "Night-time economy safety: councils, venues and police together",
        ["partnership working", "community engagement"],
        "talk",
        30,
        "{place} City Council",
        "{slug}.gov.uk",
    ),
    (
        "Joint inspections: what a good multi-agency response looks like",
        ["partnership working", "evaluation"],
        "panel",
        60,
        "{place} City Council",
        "{slug}.gov.uk",
    ),
    (
        "Safer streets funding: bidding, delivering and proving it worked",
        ["evaluation", "community engagement"],
        "panel",
        60,
        "{place} Police",
        "{slug}.police.uk",
    ),
    (
        "Schools, police and parents on knife crime: one conversation",
        ["education", "community engagement"],
        "panel",
        60,
        "{place} Academy",
        "{slug}academy.sch.uk",
    ),
    (
        "Hands-on: a chronology that every agency can read",
        ["information sharing"],
        "workshop",
        60,
        "{place} Youth Justice Service",
        "{slug}.gov.uk",
    ),
    (
        "Hands-on: co-producing a safeguarding leaflet with young people",
        ["community engagement", "education"],
        "workshop",
        60,
        "{place} Community Trust",
        "{slug}community.org.uk",
    ),
    (
        "Hands-on: running a strategy discussion in forty minutes",
        ["information sharing", "partnership working"],
        "workshop",
        60,
        "{place} City Council",
        "{slug}.gov.uk",
    ),
    (
        "Hands-on: tabletop exercise, a missing child across three areas",
        ["partnership working", "information sharing"],
        "workshop",
        120,
        "{place} Police",
        "{slug}.police.uk",
    ),
    (
        "Hands-on: planning a digital safety assembly that lands",
        ["online safety", "education"],
        "workshop",
        120,
        "{place} Academy",
        "{slug}academy.sch.uk",
    ),
]
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
                sa.select(Registration.id, Registration.number, Registration.sector)
                .where(
                    Registration.status != Status.cancelled,
                    ~sa.exists().where(Star.registration_id == Registration.id),
                )
                .order_by(Registration.number)
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
