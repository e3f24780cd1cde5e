"""Demo data for `anlauf serve --demo`: a living marketplace in Leipzig and Halle (Saale).

Everything here is invented: the people, the organisations (none is a real association) and
their posts. They are data files in `market/data/demo/` (city, volunteers, seekers,
organisations: TOML, packaged with the wheel); this module reads them into frozen dataclasses.
The data goes through the same services as real use (posts.create, vetting decisions,
organisation approval), so statuses, regions, events and matches follow the rules.

`build_plan()` is pure and deterministic (random.Random(2026)): the same people, places and
relative times every run. `load_demo()` writes the plan into an empty database, oldest event
first, then moves the timestamps into the past so that waiting times differ.

Every demo account has the password DEMO_PASSWORD; the README lists the five named accounts.
One argon2 hash is computed and shared by all accounts, which keeps loading to a few seconds.
"""

from __future__ import annotations

import random
import tomllib
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.accounts.services import count_users, set_languages
from market.db import utcnow
from market.directory.demo import load_directory
from market.i18n import LOCALES
from market.organisations.models import Organisation, OrganisationMember
from market.posts import services as posts
from market.posts.models import Post, Region
from market.posts.schemas import PostIn
from market.security import hash_password
from market.settings import Settings
from market.vetting import services as vetting
from market.vetting.schemas import Checks, OrganisationDecisionIn, VolunteerDecisionIn

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - published in the README on purpose
DEMO_DOMAIN = "demo.anlauf.local"
SEED = 2026
DATA = Path(__file__).resolve().parent / "data" / "demo"

COORDINATOR_EMAIL = f"koordination@{DEMO_DOMAIN}"
ADMIN_EMAIL = f"admin@{DEMO_DOMAIN}"
VOLUNTEER_EMAIL = f"volunteer@{DEMO_DOMAIN}"
SEEKER_EMAIL = f"seeker@{DEMO_DOMAIN}"
ORGANISATION_EMAIL = f"org@{DEMO_DOMAIN}"
DEMO_ACCOUNTS = {
    COORDINATOR_EMAIL: "coordinator",
    ADMIN_EMAIL: "admin",
    VOLUNTEER_EMAIL: "volunteer",
    SEEKER_EMAIL: "seeker",
    ORGANISATION_EMAIL: "organisation",
}
JITTER_LAT, JITTER_LON = 0.006, 0.009  # about 650 m either way


# --------------------------------------------------------------------------------------------
# What people write, read from market/data/demo/


@dataclass(frozen=True)
class DemoPost:
    category: str
    title: str
    body: str
    languages: str  # space-separated tags; the first is the language the post is written in
    mode: str = "in_person"
    radius_km: float | None = None
    seats: int | None = None


@dataclass(frozen=True)
class Person:
    name: str
    speaks: str  # "de native, en fluent, fr basic"
    home: str  # a key of DISTRICTS
    posts: tuple[DemoPost, ...] = ()
    vetting: str | None = None  # volunteers: approved | pending | rejected | expired
    certificate: bool = False  # volunteers: an extended police certificate a year ahead
    email: str | None = None  # derived from the name unless given


@dataclass(frozen=True)
class DemoOrganisation:
    name: str
    website: str
    description: str
    approved: bool
    member: Person


def _read(name: str) -> dict[str, Any]:
    with (DATA / f"{name}.toml").open("rb") as file:
        return tomllib.load(file)


def _person(raw: dict[str, Any]) -> Person:
    # A misspelt key in the data fails here (TypeError names it) instead of being ignored.
    posts = tuple(DemoPost(**post) for post in raw.get("posts", ()))
    return Person(**{**raw, "posts": posts})


def _organisation(raw: dict[str, Any]) -> DemoOrganisation:
    return DemoOrganisation(**{**raw, "member": _person(raw["member"])})


_CITY = _read("city")
# slug, name, centre, radius in km
REGIONS: tuple[tuple[str, str, float, float, float], ...] = tuple(
    (r["slug"], r["name"], r["lat"], r["lon"], r["radius_km"]) for r in _CITY["regions"]
)
# Points inside districts; each person lives a few hundred metres from one of them.
DISTRICTS: dict[str, tuple[float, float]] = {
    name: (lat, lon) for name, (lat, lon) in _CITY["districts"].items()
}
VOLUNTEERS: tuple[Person, ...] = tuple(_person(raw) for raw in _read("volunteers")["volunteers"])
SEEKERS: tuple[Person, ...] = tuple(_person(raw) for raw in _read("seekers")["seekers"])
ORGANISATIONS: tuple[DemoOrganisation, ...] = tuple(
    _organisation(raw) for raw in _read("organisations")["organisations"]
)

STAFF: tuple[tuple[str, str, str], ...] = (
    (COORDINATOR_EMAIL, "Birgit Sommer", "coordinator"),
    (ADMIN_EMAIL, "Anlauf Admin", "admin"),
)


# --------------------------------------------------------------------------------------------
# The plan: who, where and when, decided by a seeded random generator


@dataclass(frozen=True)
class PlannedPost:
    post: DemoPost
    age_days: float


@dataclass(frozen=True)
class PlannedPerson:
    person: Person
    role: str
    email: str
    display_name: str
    locale: str
    lat: float
    lon: float
    age_days: float  # when the account was made
    decided_days: float | None  # volunteers and organisations: when a coordinator decided
    posts: tuple[PlannedPost, ...]
    organisation: DemoOrganisation | None = None


def speaks(text: str) -> list[tuple[str, str]]:
    """Parse "de native, en basic" into [("de", "native"), ("en", "basic")]."""
    skills = []
    for item in text.split(","):
        code, level = item.split()
        skills.append((code, level))
    return skills


_ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ı": "i"})


def email_of(person: Person) -> str:
    if person.email:
        return person.email
    folded = person.name.lower().translate(_ASCII)
    plain = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    local = ".".join(part for part in plain.replace("-", " ").split() if part)
    return f"{local}@{DEMO_DOMAIN}"


def locale_of(person: Person) -> str:
    """The first page language the person reads (Dari readers get the Persian pages)."""
    for code, _level in speaks(person.speaks):
        code = "fa" if code == "prs" else code
        if code in LOCALES:
            return code
    return "de"


def _plan_person(
    rng: random.Random,
    person: Person,
    role: str,
    *,
    display_name: str | None = None,
    organisation: DemoOrganisation | None = None,
    recent: bool = False,
) -> PlannedPerson:
    lat, lon = DISTRICTS[person.home]
    lat = round(lat + rng.uniform(-JITTER_LAT, JITTER_LAT), 6)
    lon = round(lon + rng.uniform(-JITTER_LON, JITTER_LON), 6)
    # People still waiting for review joined recently; the rest posted over the last 40 days.
    low, high = (0.3, 5.0) if recent else (0.2, 40.0)
    planned = tuple(PlannedPost(post, round(rng.uniform(low, high), 4)) for post in person.posts)
    first_post = max((pp.age_days for pp in planned), default=rng.uniform(3.0, 20.0))
    age = round(first_post + rng.uniform(1.0, 3.0 if recent else 25.0), 4)
    decided: float | None = None
    if (role == "volunteer" and person.vetting != "pending") or organisation is not None:
        # Between registering and the first post (after the approval, so it goes out at once).
        decided = round(first_post + (age - first_post) * rng.uniform(0.2, 0.6), 4)
        if person.vetting == "expired":
            decided = age = round(age + 340.0, 4)  # vetted almost a year ago
    return PlannedPerson(
        person=person,
        role=role,
        email=email_of(person),
        display_name=display_name or person.name,
        locale=locale_of(person),
        lat=lat,
        lon=lon,
        age_days=age,
        decided_days=decided,
        posts=planned,
        organisation=organisation,
    )


def _short_name(name: str) -> str:
    """Newcomers often show only a first name and an initial: "Rasha Al-Hamwi" -> "Rasha A."."""
    first, *rest = name.split()
    return f"{first} {rest[-1][0]}." if rest else first


def build_plan() -> list[PlannedPerson]:
    """Everyone with their place and times; the same on every run."""
    rng = random.Random(SEED)
    # In this order: each call draws from the one generator.
    people = [
        _plan_person(rng, person, "volunteer", recent=person.vetting == "pending")
        for person in VOLUNTEERS
    ]
    people += [
        _plan_person(rng, person, "seeker", display_name=_short_name(person.name))
        for person in SEEKERS
    ]
    people += [
        _plan_person(rng, org.member, "organisation", organisation=org, recent=not org.approved)
        for org in ORGANISATIONS
    ]
    return people


# --------------------------------------------------------------------------------------------
# Loading


def _subscribe_features() -> None:
    """Import the features as create_app does, so matching reacts to the demo posts as well
    (`anlauf serve --demo` loads the demo before it builds the app)."""
    from market import features

    for _route in features.api_routes():
        pass


async def _region(
    session: AsyncSession, slug: str, name: str, lat: float, lon: float, radius_km: float
) -> Region:
    found = (await session.execute(select(Region).where(Region.slug == slug))).scalar_one_or_none()
    if found is not None:
        return found
    region = Region(slug=slug, name=name, lat=lat, lon=lon, radius_km=radius_km)
    session.add(region)
    return region


def _decision_note(person: Person, until: date | None) -> str:
    if person.vetting == "rejected":
        return (
            "Zum Kennenlerngespräch zweimal nicht erschienen, Verhaltenskodex nicht unterschrieben."
        )
    note = "Ausweis gesehen, Kennenlerngespräch geführt, Verhaltenskodex unterschrieben."
    if until is not None:
        note += f" Erweitertes Führungszeugnis gültig bis {until.strftime('%d.%m.%Y')}."
    return note


async def load_demo(session: AsyncSession, settings: Settings) -> bool:
    """Fill an empty database with the demo city; False (and nothing done) if it has users."""
    if await count_users(session) > 0:
        return False
    _subscribe_features()
    now = utcnow()
    today = now.date()

    def ago(days: float) -> datetime:
        return now - timedelta(days=days)

    password_hash = await hash_password(
        DEMO_PASSWORD, settings.argon2_memory_kib, settings.argon2_time_cost
    )
    for region in REGIONS:
        await _region(session, *region)

    def account(
        email: str, name: str, role: str, locale: str, created: datetime, verified: bool
    ) -> User:
        return User(
            email=email,
            password_hash=password_hash,
            display_name=name,
            role=role,
            locale=locale,
            created_at=created,
            password_changed_at=created,
            # The named demo accounts count as verified; the crowd does not, so that their
            # notifications stay in the app instead of filling the outbox with demo mail.
            email_verified_at=created + timedelta(minutes=7) if verified else None,
            vetting_status="pending" if role == "volunteer" else None,
        )

    staff: dict[str, User] = {}
    for email, name, role in STAFF:
        staff[role] = account(email, name, role, "de", ago(120), verified=True)
        session.add(staff[role])
    coordinator = staff["coordinator"]

    plan = build_plan()
    users: dict[str, User] = {}
    orgs: dict[str, Organisation] = {}
    for planned in plan:
        user = account(
            planned.email,
            planned.display_name,
            planned.role,
            planned.locale,
            ago(planned.age_days),
            verified=planned.email in DEMO_ACCOUNTS,
        )
        set_languages(user, speaks(planned.person.speaks))
        session.add(user)
        users[planned.email] = user
        if planned.organisation is not None:
            org = Organisation(
                name=planned.organisation.name,
                website=planned.organisation.website,
                description=planned.organisation.description,
                created_at=ago(planned.age_days),
            )
            session.add(org)
            orgs[planned.email] = org
    await session.flush()
    for email, org in orgs.items():
        session.add(
            OrganisationMember(
                organisation_id=org.id,
                user_id=users[email].id,
                role="owner",
                created_at=org.created_at,
            )
        )
    await session.flush()

    # Replay what happened, oldest first: vetting decisions, approvals and posts.
    timeline: list[tuple[float, int, str, PlannedPerson, DemoPost | None]] = []
    for planned in plan:
        if planned.decided_days is not None:
            timeline.append((planned.decided_days, len(timeline), "decide", planned, None))
        for pp in planned.posts:
            timeline.append((pp.age_days, len(timeline), "post", planned, pp.post))
    timeline.sort(key=lambda item: (-item[0], item[1]))

    lifetime = timedelta(days=settings.post_lifetime_days)
    for age, _seq, action, planned, demo_post in timeline:
        user = users[planned.email]
        when = ago(age)
        if action == "decide" and planned.organisation is not None:
            if planned.organisation.approved:
                await vetting.decide_organisation(
                    session,
                    settings,
                    orgs[planned.email],
                    OrganisationDecisionIn(decision="approve"),
                )
        elif action == "decide":
            person = planned.person
            until: date | None = None
            if person.certificate:
                until = today + timedelta(days=365)
            elif person.vetting == "expired":
                until = today - timedelta(days=20)
            approve = person.vetting != "rejected"
            decision = await vetting.decide_volunteer(
                session,
                settings,
                coordinator,
                user,
                VolunteerDecisionIn(
                    decision="approve" if approve else "reject",
                    checks=Checks(identity=True, interview=approve, code_of_conduct=approve),
                    police_certificate_until=until,
                    note=_decision_note(person, until),
                ),
            )
            decision.created_at = when
        elif demo_post is not None:
            post = await posts.create(
                session,
                settings,
                user,
                PostIn.model_validate(
                    {
                        "kind": "offer" if planned.role == "volunteer" else "need",
                        "category": demo_post.category,
                        "title": demo_post.title,
                        "body": demo_post.body,
                        "languages": demo_post.languages.split(),
                        "mode": demo_post.mode,
                        "location": {"lat": planned.lat, "lon": planned.lon},
                        "radius_km": demo_post.radius_km,
                        "seats": demo_post.seats,
                    }
                ),
            )
            _backdate(post, when, lifetime)
    await session.flush()
    await load_directory(session, now)
    return True


def _backdate(post: Post, when: datetime, lifetime: timedelta) -> None:
    """Move a freshly made post into the past so lists and waiting times look lived-in."""
    post.created_at = when
    post.updated_at = when  # set explicitly, or the column's onupdate would say "now"
    if post.status == "published":
        post.published_at = when
        post.expires_at = when + lifetime
