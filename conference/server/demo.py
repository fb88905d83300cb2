"""The demo event: the two-day national conference in December, its ticket types, and synthetic delegates."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from conference import bookings, places, questions, registration
from conference.core import audit, errors
from conference.core.db import Database
from conference.core.models import (
    REGIONS,
    Approval,
    Conference,
    PaymentMethod,
    Registration,
    Sector,
    TicketType,
    utcnow,
)
from conference.core.schemas import BillingDetails, RegistrationCreate
from conference.core.settings import Settings

TIMEZONE = "Europe/London"  # the demo conference's own zone (Conference.timezone)
LONDON = ZoneInfo(TIMEZONE)
PUBLIC_SECTOR_DOMAINS = "gov.uk,police.uk,nhs.net,nhs.uk,sch.uk,ac.uk,mod.uk,gov.scot,gov.wales,llyw.cymru"

FIRST = [
    "Aisha",
    "Ben",
    "Chloe",
    "Daniel",
    "Eleanor",
    "Farah",
    "George",
    "Hannah",
    "Imran",
    "Jess",
    "Kwame",
    "Laura",
    "Mohammed",
    "Niamh",
    "Owen",
    "Priya",
    "Rhys",
    "Sarah",
    "Tom",
    "Uzma",
    "Victoria",
    "Will",
    "Yasmin",
    "Zoe",
    "Amir",
    "Bethan",
    "Callum",
    "Deborah",
    "Ewan",
    "Fiona",
    "Gareth",
    "Harpreet",
    "Isla",
    "James",
    "Kirsty",
    "Liam",
    "Megan",
    "Nathan",
    "Olivia",
    "Patrick",
    "Rachel",
    "Sunita",
    "Tariq",
    "Wendy",
]
LAST = [
    "Ahmed",
    "Baker",
    "Campbell",
    "Davies",
    "Evans",
    "Fraser",
    "Green",
    "Hughes",
    "Iqbal",
    "Jones",
    "Khan",
    "Lewis",
    "Morgan",
    "Nowak",
    "O'Brien",
    "Patel",
    "Quinn",
    "Roberts",
    "Singh",
    "Thomas",
    "Usman",
    "Walker",
    "Williams",
    "Wright",
    "Young",
    "Begum",
    "Clarke",
    "Edwards",
    "Hall",
    "Kaur",
    "Murphy",
    "Okafor",
    "Shaw",
]
PLACES = [
    "Leeds",
    "Manchester",
    "Birmingham",
    "Bristol",
    "Kent",
    "Lancashire",
    "Norfolk",
    "Cardiff",
    "Newcastle",
    "Sheffield",
    "Devon",
    "Essex",
    "Surrey",
    "Nottingham",
    "Liverpool",
    "Cumbria",
    "Hampshire",
    "Suffolk",
]
# sector: (share of delegates, organisation pattern, email domain pattern, job titles)
SECTORS: dict[Sector, tuple[int, str, str, list[str]]] = {
    Sector.local_authority: (
        24,
        "{place} City Council",
        "{slug}.gov.uk",
        ["Community Safety Manager", "Early Help Coordinator", "Head of Children's Services"],
    ),
    Sector.police: (
        16,
        "{place} Police",
        "{slug}.police.uk",
        ["Detective Sergeant", "Neighbourhood Inspector", "Safeguarding Lead"],
    ),
    Sector.school: (
        12,
        "{place} Academy",
        "{slug}academy.sch.uk",
        ["Designated Safeguarding Lead", "Headteacher", "Pastoral Lead"],
    ),
    Sector.further_higher_education: (
        8,
        "University of {place}",
        "{slug}.ac.uk",
        ["Lecturer in Criminology", "Student Wellbeing Manager", "Researcher"],
    ),
    Sector.health: (
        10,
        "{place} NHS Foundation Trust",
        "nhs.net",
        ["Named Nurse for Safeguarding", "Mental Health Practitioner", "GP"],
    ),
    Sector.youth_offending_team: (
        7,
        "{place} Youth Justice Service",
        "{slug}.gov.uk",
        ["YOT Case Manager", "Youth Justice Officer"],
    ),
    Sector.probation: (
        5,
        "Probation Service ({place})",
        "justice.gov.uk",
        ["Probation Officer", "Senior Probation Officer"],
    ),
    Sector.prison: (3, "HMP {place}", "justice.gov.uk", ["Governor", "Head of Reducing Reoffending"]),
    Sector.fire_rescue: (
        4,
        "{place} Fire and Rescue Service",
        "{slug}fire.gov.uk",
        ["Prevention Manager", "Community Safety Advocate"],
    ),
    Sector.community_faith: (
        7,
        "{place} Community Trust",
        "{slug}community.org.uk",
        ["Project Coordinator", "Volunteer Lead", "Chief Executive"],
    ),
    Sector.central_government: (
        3,
        "Home Office",
        "homeoffice.gov.uk",
        ["Policy Adviser", "Senior Policy Lead"],
    ),
    Sector.other: (1, "{place} Consulting", "{slug}consulting.co.uk", ["Consultant"]),
}
DIETS = ["", "", "", "", "", "", "Vegetarian", "Vegan", "Halal", "Gluten free", "No nuts (allergy)"]
ACCESS = [
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "Step-free access",
    "Hearing loop",
    "BSL interpreter",
    "Seat near an exit",
]


def demo_conference() -> Conference:
    return Conference(
        name="Safer Communities National Conference 2026",
        venue="Manchester Central, Windmill Street, Manchester M2 3GX",
        timezone=TIMEZONE,
        starts_at=datetime(2026, 12, 8, 9, 0, tzinfo=LONDON),
        ends_at=datetime(2026, 12, 9, 17, 0, tzinfo=LONDON),
        capacity=1000,
        registration_open=True,
    )


def demo_ticket_types(conference_id: int) -> list[TicketType]:
    return [
        TicketType(
            conference_id=conference_id,
            position=1,
            name="Public sector delegate",
            price_pence=0,
            approval=Approval.domain,
            approval_domains=PUBLIC_SECTOR_DOMAINS,
            description="Free for public bodies. Work addresses on gov.uk, police.uk, nhs.net, sch.uk and "
            "ac.uk are confirmed once you follow the link we email you; others are checked by the organisers.",
        ),
        TicketType(
            conference_id=conference_id,
            position=2,
            name="Community and voluntary sector",
            price_pence=0,
            approval=Approval.manual,
            cap=150,
            description="Free for charities, faith and community groups; confirmed by the organisers.",
        ),
        TicketType(
            conference_id=conference_id,
            position=3,
            name="Commercial delegate",
            price_pence=29500,
            cap=60,
            description="For private companies. £295 + VAT.",
        ),
        TicketType(
            conference_id=conference_id,
            position=4,
            name="Exhibitor",
            price_pence=45000,
            cap=30,
            description="One exhibition stand place. £450 + VAT.",
        ),
        TicketType(
            conference_id=conference_id,
            position=5,
            name="Press",
            price_pence=0,
            approval=Approval.manual,
            cap=20,
            description="Accredited journalists; confirmed by the organisers.",
        ),
        TicketType(
            conference_id=conference_id,
            position=6,
            name="Speaker",
            price_pence=0,
            public=False,
            description="Given to accepted speakers by the organisers.",
        ),
    ]


# The organisers' own registration questions (conference/questions.py), asked of every public ticket type but the
# last (a Speaker's only); synthetic delegates answer them (demo_answers).
DEMO_QUESTIONS: list[dict[str, Any]] = [
    {
        "label": "Will you join the evening reception on 8 December?",
        "kind": "yes_no",
        "required": True,
        "help_text": "Drinks and networking at Manchester Central, 18:00 to 20:00.",
    },
    {
        "label": "Which themes interest you most?",
        "kind": "multiple_choice",
        "options": ["Early intervention", "Information sharing", "Serious violence", "Mental health", "Data"],
        "help_text": "Tick any: it helps us size the workshop rooms.",
    },
    {
        "label": "Pronouns for your badge",
        "kind": "text",
        "on_badge": True,
        "help_text": "Printed on your badge, for example she/her.",
    },
    {
        "label": "How did you hear about the conference?",
        "kind": "single_choice",
        "options": [
            "A colleague",
            "An email from the organisers",
            "A sector newsletter",
            "Social media",
            "Other",
        ],
    },
    {
        "label": "Speaker biography",
        "kind": "long_text",
        "ticket_types": ["Speaker"],
        "help_text": "About 100 words for the programme.",
    },
]


async def add_demo_questions(db: AsyncSession, ticket_ids: dict[str, str]) -> None:
    for spec in DEMO_QUESTIONS:
        values = {**spec, "ticket_type_ids": [ticket_ids[name] for name in spec.get("ticket_types", [])]}
        data = questions.check_question(values, ticket_types=ticket_ids.values())
        await questions.create_question(db, data=data, actor=audit.Actor("cli", "demo"))


def demo_answers(n: int, asked: dict[str, str]) -> dict[str, Any]:
    """Synthetic delegate n's answers, by question id (from their own generator: the delegates stay the same)."""
    rng = random.Random(f"answers-{n}")
    themes = DEMO_QUESTIONS[1]["options"]
    heard = DEMO_QUESTIONS[3]["options"]
    given: dict[str, Any] = {
        DEMO_QUESTIONS[0]["label"]: rng.random() < 0.6,
        DEMO_QUESTIONS[1]["label"]: rng.sample(themes, k=rng.randint(0, 3)),
        DEMO_QUESTIONS[2]["label"]: rng.choice(["", "", "", "she/her", "he/him", "they/them"]),
        DEMO_QUESTIONS[3]["label"]: rng.choice([*heard, None]),
    }
    return {
        asked[label]: value for label, value in given.items() if label in asked and value not in ("", None)
    }


def _slug(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def synthetic_delegate(rng: random.Random, n: int, ticket_ids: dict[str, str]) -> RegistrationCreate:
    sector = rng.choices(list(SECTORS), weights=[v[0] for v in SECTORS.values()])[0]
    _, org_pattern, domain_pattern, titles = SECTORS[sector]
    place = rng.choice(PLACES)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = f"{_slug(first)}.{_slug(last)}{n}"
    ticket = (
        "Community and voluntary sector"
        if sector == Sector.community_faith
        else ("Commercial delegate" if sector == Sector.other else "Public sector delegate")
    )
    domain = domain_pattern.format(slug=_slug(place))
    organisation = org_pattern.format(place=place)
    # The demo has no Stripe keys, so the commercial delegates' companies are invoiced against a PO.
    billing = (
        BillingDetails(
            organisation=organisation,
            contact_name="Accounts Payable",
            email=f"accounts@{domain}",
            address=f"{rng.randint(1, 200)} High Street\n{place}",
            purchase_order=f"PO-{2026_0000 + n}",
        )
        if ticket == "Commercial delegate"
        else None
    )
    return RegistrationCreate(
        name=f"{first} {last}",
        email=f"{local}@{domain}",
        organisation=organisation,
        payment_method=PaymentMethod.invoice if billing else None,
        billing=billing,
        sector=sector,
        ticket_type_id=ticket_ids[ticket],
        consent=True,
        job_title=rng.choice(titles),
        region=rng.choice(REGIONS[:9]),
        dietary=rng.choice(DIETS),
        access_needs=rng.choice(ACCESS),
    )


# Bookings an organiser made by hand in the console (conference/bookings.py): speakers on the hidden Speaker type,
# a sponsor's complimentary place, and a phone booking invoiced to a company. (name, email, organisation, sector,
# ticket type, complimentary, emailed)
HAND_BOOKINGS = (
    (
        "Dr Amara Nwosu",
        "amara.nwosu@nhs.net",
        "Leeds Teaching Hospitals NHS Trust",
        "health",
        "Speaker",
        True,
        True,
    ),
    (
        "Supt. Tom Hale",
        "tom.hale@westyorkshire.police.uk",
        "West Yorkshire Police",
        "police",
        "Speaker",
        True,
        True,
    ),
    (
        "Priya Shah",
        "priya.shah@leeds.gov.uk",
        "Leeds City Council",
        "local_authority",
        "Speaker",
        True,
        False,
    ),
    (
        "Jo Whitfield",
        "jo.whitfield@saferdata.example",
        "SaferData Ltd (sponsor)",
        "other",
        "Commercial delegate",
        True,
        True,
    ),
    (
        "Mark Ellison",
        "mark.ellison@carehomes.example",
        "Northern Care Homes Ltd",
        "other",
        "Commercial delegate",
        False,
        True,
    ),
)


async def add_hand_bookings(database: Database, settings: Settings, ticket_ids: dict[str, str]) -> int:
    """The demo's hand-made bookings, through the console's own service (one transaction each, as the form)."""
    made = 0
    for name, email, organisation, sector, ticket, complimentary, emailed in HAND_BOOKINGS:
        values = {
            "ticket_type_id": ticket_ids[ticket],
            "name": name,
            "email": email,
            "organisation": organisation,
            "sector": sector,
            "complimentary": "yes" if complimentary else "",
            "no_email": "" if emailed else "yes",
        }
        if not complimentary:  # booked on the phone, invoiced to the company against its purchase order
            values |= {
                "payment_method": PaymentMethod.invoice.value,
                "billing_organisation": organisation,
                "billing_contact_name": "Accounts payable",
                "billing_email": "accounts@carehomes.example",
                "billing_address": "4 Mill Lane\nBradford BD1 2AB",
                "billing_purchase_order": "PO-88412",
            }
        async with database.transaction() as db:
            await bookings.book_by_hand(
                db, settings=settings, values=values, actor=audit.Actor("cli", "demo")
            )
        made += 1
    return made


ARRIVAL_WEEKS = 10  # the demo's delegates registered over the ten weeks before the event (or before now)
LAUNCH_SHARE = 0.25  # a quarter in the burst when registration opened, the rest building up to the event


def arrival_times(rng: random.Random, count: int, *, closes: datetime) -> list[datetime]:
    """When `count` synthetic delegates registered, oldest first: a burst when registration opened, a quiet
    middle and a rush in the last weeks (a mixture of two Beta distributions over the window), at waking hours
    in London and never after `closes`. Registrations made all in the same instant drew the dashboard's
    "Registrations over time" as a single dot."""
    opens = closes - timedelta(weeks=ARRIVAL_WEEKS)
    days = (closes - opens).days
    times = []
    for _ in range(count):
        share = rng.betavariate(1, 8) if rng.random() < LAUNCH_SHARE else rng.betavariate(4, 1.3)
        day = (opens + timedelta(days=int(share * days))).astimezone(LONDON).date()
        hour = rng.triangular(7, 23, 11)  # mostly in office hours, some in the evening
        at = datetime(day.year, day.month, day.day, tzinfo=LONDON) + timedelta(hours=hour)
        times.append(min(at, closes - timedelta(minutes=rng.randint(1, 600))))
    return sorted(times)


async def load_demo(settings: Settings, *, attendees: int = 0, reset: bool = False, seed: int = 2026) -> str:
    database = Database.from_settings(settings)
    try:
        async with database.transaction() as db:
            if reset:
                for table in reversed(SQLModel.metadata.sorted_tables):
                    await db.execute(table.delete())
            conference = (await db.execute(sa.select(Conference).limit(1))).scalar_one_or_none()
            if conference is None:
                conference = demo_conference()
                db.add(conference)
                await db.flush()
                assert conference.id is not None
                for ticket in demo_ticket_types(conference.id):
                    db.add(ticket)
                await audit.record(db, "conference.demo.loaded", actor=audit.Actor("cli"))
            types = (await db.execute(sa.select(TicketType))).scalars()
            ticket_ids = {t.name: str(t.id) for t in types}
            if not await questions.all_questions(db):
                await add_demo_questions(db, ticket_ids)
            asked = {q.label: str(q.id) for q in await questions.all_questions(db, include_hidden=False)}
            start = conference.registration_seq
        if start == 0:  # a new demo: the organisers' hand-made bookings come first
            await add_hand_bookings(database, settings, ticket_ids)
            async with database.read() as db:
                start = (await places.get_conference(db)).registration_seq
        # One transaction per delegate, as through the web, so the waiting list and mail queue behave alike.
        rng = random.Random(seed + start)
        arrivals = arrival_times(
            random.Random(seed + start + 1), attendees, closes=min(utcnow(), conference.starts_at)
        )
        added = 0
        for n in range(start + 1, start + attendees + 1):
            async with database.transaction() as db:
                try:
                    registered = await registration.register(
                        db,
                        settings=settings,
                        data=synthetic_delegate(rng, n, ticket_ids).model_copy(
                            update={"answers": demo_answers(n, asked)}
                        ),
                        actor=audit.Actor("cli", "demo"),
                        # Synthetic people with made-up addresses: treated as having confirmed them, so the
                        # public-sector delegates are confirmed at once, as the demo's figures expect.
                        email_verified=True,
                    )
                    at = arrivals[n - start - 1]
                    await db.execute(
                        sa.update(Registration)
                        .where(col(Registration.id) == registered.row["id"])
                        .values(created_at=at, updated_at=at)
                    )
                    added += 1
                except errors.DomainError:
                    pass  # a capped ticket type filled up: skip this one
        async with database.read() as db:
            conference = await places.get_conference(db)
            seen = await places.availability(db, conference)
        return (
            f"demo: {conference.name}: {seen.registered} holding places of {seen.capacity}, "
            f"{seen.waitlisted} waitlisted ({added} delegates added)"
        )
    finally:
        await database.dispose()
