"""The new post, worked out once: the shape that decides the SQL text and its parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import matching
from market.matches import queries
from market.posts import taxonomy
from market.posts.models import Post
from matching import bounds
from matching.model import LEVEL_WEIGHT, primary_tag
from matching.score import (
    FULL_WAITING_DAYS,
    PARENT_CATEGORY_FIT,
    WEIGHT_LANGUAGE,
)

# The bounds' maths is matching.bounds (one source, next to the scorer); these are its names here.
MARGIN = bounds.MARGIN
FAR = bounds.FAR
_LB_FACTOR = bounds.LOWER_BOUND_FACTOR
_LB_KM = bounds.LOWER_BOUND_KM
_KM_PER_DEGREE = bounds.KM_PER_DEGREE
_WEIGHTS = bounds.LANGUAGE_WEIGHTS
_NEUTRAL = bounds.NEUTRAL_LANGUAGE
_BOX_INTS = ("cell_south", "cell_north", "cell_west", "cell_east")
_NO_RADIUS = 1e9  # a need without a radius of its own
# Where a need has no publication time stored, its row is ordered as if published in 1970: never
# later than the matcher's date for it (its creation), so it is never read too late.
NO_PUBLICATION = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Shape:
    """What decides the SQL text; everything else about the new post is a parameter. Statements
    are built once per shape (building one costs far more than running it), so lists are padded
    to a few fixed lengths."""

    pg: bool
    side: str  # the new post's kind
    in_person: bool  # it meets in person and has a place: candidates near it
    flat: bool  # the box around it allows the flat distance measure
    remote: bool  # it meets remotely: remote-capable candidates anywhere
    categories: int
    tags: int
    primaries: int


def _bucket(n: int) -> int:
    # Posts have one to four languages as a rule (ten at most).
    return next(b for b in (4, 10, n) if b >= n)


# Padding for unused list slots: no language code or category looks like this.
_NOTHING = "~"


@lru_cache(maxsize=1)
def _max_categories() -> int:
    """The most candidate categories a post can have: its path or its subtree."""
    return max(
        max(len(taxonomy.path(c.slug)), len(taxonomy.subtree(c.slug))) for c in taxonomy.CATEGORIES
    )


@dataclass
class Plan:
    post: Post
    me: matching.PostFacts
    now: datetime
    limit: int
    volunteer: matching.VolunteerFacts | None  # the new offer's author
    shape: Shape
    params: dict[str, Any]
    # The highest bound any candidate of each category can have: a round that only wants rows
    # above some bound leaves out the categories below it.
    category_bounds: dict[str, float] = field(default_factory=dict)
    # What plan_for changed and `best` puts back (PostgreSQL).
    previous_settings: dict[str, str] | None = None

    @property
    def side(self) -> str:
        return self.me.kind

    def categories_above(self, bound: float) -> list[str]:
        """The categories worth reading for rows with a bound of at least `bound`, padded."""
        wanted = [c for c, b in self.category_bounds.items() if b >= bound]
        padded: list[str] = self.params["cats"]
        if not wanted:
            return [_NOTHING] * len(padded)
        return [*wanted, *[wanted[0]] * (len(padded) - len(wanted))]


def _class_scores(me: matching.PostFacts, category: str, now: datetime) -> dict[float, float]:
    """matching.bounds.class_scores for a candidate category."""
    return bounds.class_scores(me, category, taxonomy.path(category) or (category,), now)


def make_plan(
    post: Post,
    me: matching.PostFacts,
    now: datetime,
    limit: int,
    volunteer: matching.VolunteerFacts | None,
    dialect: str,
) -> Plan | None:
    """None when no candidate can be chosen at all."""
    if limit <= 0:
        return None
    categories = _candidate_categories(me, volunteer, now)
    tags = _language_tags(me)
    # What queries._language_filter compares a candidate's codes with.
    primaries = sorted({c.split("-")[0].lower() for c in post.language_codes})
    if not categories or not tags or not primaries:
        return None
    params: dict[str, Any] = {"me_id": me.id}
    n_categories, bounds = _category_params(params, me, categories, max(tags.values()), now)
    n_tags, n_primaries = _language_params(params, tags, primaries)
    reach = _side_params(params, me, now, dialect)
    in_person = me.meets_in_person and me.lat is not None and me.lon is not None
    flat = False
    if in_person:
        assert me.lat is not None and me.lon is not None
        box = queries.box_around(me.lat, me.lon, reach)
        flat = box.flat
        params |= box.values()
        params["abslat"] = abs(me.lat)
    shape = Shape(
        pg=dialect == "postgresql",
        side=me.kind,
        in_person=in_person,
        flat=flat,
        remote=me.meets_remotely,
        categories=n_categories,
        tags=n_tags,
        primaries=n_primaries,
    )
    return Plan(post, me, now, limit, volunteer, shape, params, bounds)


def _candidate_categories(
    me: matching.PostFacts, volunteer: matching.VolunteerFacts | None, now: datetime
) -> tuple[str, ...]:
    """The categories a candidate may have: a need's path, an offer's subtree (empty when the
    offer's volunteer can be proposed nothing)."""
    if me.kind == "need":
        return tuple(taxonomy.path(me.category))
    assert volunteer is not None
    if not volunteer.approved or volunteer.room_for_matches <= 0:
        return ()  # rule 4 fails for every pair, or nobody may be proposed
    categories = tuple(taxonomy.subtree(me.category))
    until = volunteer.police_certificate_until
    if until is None or until < now.date():
        # Rule 4: needs in categories that ask for a certificate all fail.
        categories = tuple(c for c in categories if not taxonomy.requires_police_certificate(c))
    return categories


def _language_tags(me: matching.PostFacts) -> dict[str, float]:
    """The new post's primary language tags with the best credit each can give."""
    tags: dict[str, float] = {}
    for skill in me.languages:
        tag = primary_tag(skill.code)
        tags[tag] = max(tags.get(tag, 0.0), LEVEL_WEIGHT[skill.level])
    return tags


def _category_params(
    params: dict[str, Any],
    me: matching.PostFacts,
    categories: tuple[str, ...],
    best: float,
    now: datetime,
) -> tuple[int, dict[str, float]]:
    """Per candidate category (padded): its fit, class scores and top bound. Returns the padded
    count and each category's highest bound."""
    n_categories = max(_max_categories(), len(categories))
    params["cats"] = [*categories, *[categories[0]] * (n_categories - len(categories))]
    bounds: dict[str, float] = {}
    for i in range(n_categories):
        if i < len(categories):
            category = categories[i]
            path = taxonomy.path(category) or (category,)
            classes = _class_scores(me, category, now)
            fit = float(PARENT_CATEGORY_FIT ** abs(len(path) - len(me.category_path)))
            waiting = _waiting_credit(me, now) if me.kind == "need" else 1.0
            bounds[category] = max(classes[best], _highest_sum(me, fit, best, waiting))
        else:
            category, classes, fit = _NOTHING, dict.fromkeys(_WEIGHTS, 1.0), 1.0
        params[f"cat{i}"] = category
        params[f"fit{i}"] = fit
        params[f"top{i}"] = classes[best]
        for j, weight in enumerate(_WEIGHTS):
            params[f"cls{i}_{j}"] = classes[weight]
    return n_categories, bounds


def _language_params(
    params: dict[str, Any], tags: dict[str, float], primaries: list[str]
) -> tuple[int, int]:
    """The new post's tags with their credit, its native tags, its primaries (each padded);
    returns the padded counts of tags and primaries."""
    n_tags = _bucket(len(tags))
    for j, (tag, weight) in enumerate(
        [*sorted(tags.items()), *[(_NOTHING, 0.0)] * (n_tags - len(tags))]
    ):
        params[f"tag{j}"] = tag
        params[f"tagl{j}"] = tag + "-%"
        params[f"tw{j}"] = weight
    natives = [tag for tag, weight in sorted(tags.items()) if weight == 1.0]
    for j, tag in enumerate([*natives, *[_NOTHING] * (n_tags - len(natives))]):
        params[f"nt{j}"] = tag
        params[f"ntl{j}"] = tag + "-%"
    n_primaries = _bucket(len(primaries))
    for m, primary in enumerate([*primaries, *[_NOTHING] * (n_primaries - len(primaries))]):
        params[f"op{m}"] = primary
        params[f"opl{m}"] = primary + "-%"
    params["best"] = WEIGHT_LANGUAGE * max(tags.values())
    return n_tags, n_primaries


def _side_params(
    params: dict[str, Any], me: matching.PostFacts, now: datetime, dialect: str
) -> float:
    """What depends on the new post's kind; returns how far its candidates may be (km)."""
    params["slots"] = 1 if me.slots else 0
    if me.kind == "need":
        params["waiting"] = _waiting_credit(me, now)
        params["my_radius"] = me.radius_km if me.radius_km is not None else _NO_RADIUS
        # A day's margin, as in queries._certificate_filter: the matcher judges by its today.
        params["certificate"] = 1 if taxonomy.requires_police_certificate(me.category) else 0
        params["cert_from"] = now.date() - timedelta(days=1)
        if me.radius_km is None:
            return float(queries.MAX_RADIUS_KM)
        return min(me.radius_km, queries.MAX_RADIUS_KM)
    reach = me.radius_km if me.radius_km is not None else matching.DEFAULT_OFFER_RADIUS_KM
    params["mine"] = reach
    params["cutoff"] = now - timedelta(days=FULL_WAITING_DAYS)
    params["no_pub"] = NO_PUBLICATION
    params["now_x"] = (
        now.timestamp() if dialect == "postgresql" else now.timestamp() / 86400 + 2440587.5
    )
    return reach


def _waiting_credit(me: matching.PostFacts, now: datetime) -> float:
    """The new need's waiting credit."""
    return bounds.waiting_fit(me.published_at, now)


def _highest_sum(
    me: matching.PostFacts, category_fit: float, best_language: float, waiting: float
) -> float:
    """matching.bounds.highest_sum for the new post."""
    in_person = me.meets_in_person and me.lat is not None
    return bounds.highest_sum(in_person, bool(me.slots), category_fit, best_language, waiting)
