"""The best few partners for a newly published post: exact, without judging every candidate.

A remote-capable post can have thousands of candidates nationwide, yet only the best few are
proposed. So SQL computes for every candidate an upper bound of the matcher's score from columns
that one index covers (`ix_posts_match_cover`, an index-only scan), hands the candidates over
best bound first, a few at a time, and the matcher judges them (`matching.check` +
`matching.score`) until no candidate left can change the choice. The choice is then exactly what
`matching.best_offers_for_need` / `best_needs_for_offer` pick from all candidates of
`queries.offers_for_need` / `needs_for_offer` (tests/market/matches/test_topk.py).

The bound `ub`, per component of `matching.score`:

- category: exact, from the candidate's category;
- language: the best weight the new post has in any of its languages (as if the candidate's
  author were native in it);
- distance: from a lower bound of the distance (the flat measure of `queries.box_conditions`,
  shrunk by a safety margin); 0.5 for a pair that can only meet remotely or is too far apart for
  more;
- availability: 0.5 when either side gives no slots, else 1;
- waiting: the new need's own waiting time, or for a new offer each need's, a minute more.

Only the rows actually read (lazily, after the sort) get a tighter bound `rub` with the language
credit worked out from the row's languages and its author's levels, and the author's vetting
fields, open matches and languages for the matcher. No ORM objects are built.

Where every component is known exactly (a remote-only pair, no slots to compare, a known waiting
time), the bound is not a sum computed in SQL but the matcher's own score for that class of pair,
bit for bit (`_class_scores`). That matters for ties, which are common among remote pairs: the
matcher breaks them by id, the SQL order is (bound descending, id ascending), and a candidate
whose bound equals the last pick's score cannot come before it when its id is larger. Elsewhere a
small margin keeps the sum above the score despite rounding.

Rounds: the first asks for 16 rows (sorting only the best 400 bounds when there are candidates
anywhere); with `limit` picks made, the next candidate's (bound, id) sorting after the last
pick's (score, id) ends it, for every candidate not read sorts after it too. Otherwise the next
round continues behind the last row read and returns only rows that could still get in (bound
and `rub` before the last pick; a cheap test of the author's native languages first), a few at a
time, for every pick judged may raise the bar.

The SQL is built once per shape of new post and parameterised (`statement`); it runs with custom
plans, no parallel workers and no bitmap scans (`_SETTINGS`, SET LOCAL, restored afterwards).

Two assumptions: language codes are stored normalised (`market.posts.languages.normalise`:
lower-case primary subtag), as the candidate filter of `queries` assumes too; and the flat
distance is never longer than the great circle by more than its margin. Each judged candidate's
score is checked against its bounds; should one ever exceed them, the post is ranked the slow
way, judging every candidate (and a warning is logged).
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    Integer,
    Select,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

import matching
from market.accounts.models import User, UserLanguage
from market.matches import queries
from market.matches.facts import (
    post_facts_of,
    published_at_of,
    skills,
    slots_of,
    volunteer_facts_of,
)
from market.matches.models import OPEN, Match
from market.posts import taxonomy
from market.posts.models import Post, PostLanguage
from matching.model import LEVEL_WEIGHT, primary_tag
from matching.score import (
    EDGE_OF_RADIUS_FIT,
    FULL_WAITING_DAYS,
    PARENT_CATEGORY_FIT,
    REMOTE_FIT,
    UNKNOWN_AVAILABILITY_FIT,
    WEIGHT_AVAILABILITY,
    WEIGHT_CATEGORY,
    WEIGHT_DISTANCE,
    WEIGHT_LANGUAGE,
    WEIGHT_WAITING,
)

log = logging.getLogger(__name__)

# Rows asked for in the first round and in later ones. The first round only has to find a first
# set of picks; later rounds return only candidates that could still get in.
FIRST_PAGE = 16
# Later rounds start small, because every pair judged may raise the bar the rest must pass, and
# grow, so that a long run of candidates that do not get in costs few rounds.
NEXT_PAGES = (4, 16, 64, 256)
# The first round sorts only this many of the candidates anywhere (remote-capable ones) by their
# bound (a top-N sort instead of a full one); later rounds continue behind the last row seen.
FIRST_SORT_LIMIT = 400
# Added to every bound that is a sum computed in SQL, so that rounding never puts it below the
# matcher's score (which is computed in a different order).
MARGIN = 1e-9
# A pair this far apart relative to its radius gets the remote credit (0.5), never more:
# 1 - 0.9 * 0.56 < 0.5 (see matching.score._distance_decay).
FAR = 0.56
# The flat distance may exceed the great circle by 0.5 % + 10 m (queries._generous); the lower
# bound divides by a little more and subtracts a little more.
_LB_FACTOR = 1.01
_LB_KM = 0.02
_KM_PER_DEGREE = 111.19  # shorter than the matcher's degree, as in queries
# The three language credits, best first; a language without a level counts as fluent.
_WEIGHTS = tuple(sorted(set(LEVEL_WEIGHT.values()), reverse=True))
_LEVEL_OF = {weight: level for level, weight in LEVEL_WEIGHT.items()}
_NEUTRAL = LEVEL_WEIGHT["fluent"]
_BOX_INTS = ("cell_south", "cell_north", "cell_west", "cell_east")
_NO_RADIUS = 1e9  # a need without a radius of its own


@dataclass
class Stats:
    """What one call did; the benchmark prints it."""

    rounds: int = 0
    rows: int = 0  # rows SQL returned
    judged: int = 0  # rows the matcher checked and scored
    matches: int = 0  # of them, pairs that satisfy every rule
    sql_seconds: float = 0.0
    python_seconds: float = 0.0
    exhaustive: bool = False
    fallback: bool = False


class BoundViolated(Exception):
    """A judged candidate scored above its bound: the assumptions above do not hold for it."""


@dataclass(frozen=True)
class _Scored:
    key: tuple[float, str]  # (-score, candidate id): the matcher's order for one new post
    scored: matching.Scored
    volunteer: matching.VolunteerFacts


# --- The new post, worked out once --------------------------------------------------------------


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
    """The matcher's score of a pair whose every component is known: remote only, no slots to
    compare, the candidate's `category`, each language credit, and (for a new offer) a need that
    has waited the full time. Computed by the matcher itself so that it is the same float as for
    a real pair of that class."""
    volunteer = matching.VolunteerFacts(id="v", approved=True)
    out = {}
    for weight in _WEIGHTS:
        langs = (matching.LanguageSkill("zz", _LEVEL_OF[weight]),)  # type: ignore[arg-type]
        theirs = matching.PostFacts(
            id="c",
            kind="offer" if me.kind == "need" else "need",
            category=category,
            category_path=taxonomy.path(category) or (category,),
            languages=langs,
            mode="remote",
            published_at=now - timedelta(days=FULL_WAITING_DAYS),
        )
        mine = matching.PostFacts(
            id="m",
            kind=me.kind,
            category=me.category,
            category_path=me.category_path,
            languages=langs,
            mode="remote",
            published_at=me.published_at if me.kind == "need" else now,
        )
        offer, need = (theirs, mine) if me.kind == "need" else (mine, theirs)
        pair = matching.Candidate(
            offer=offer,
            need=need,
            volunteer=volunteer,
            requires_certificate=False,
            declined_before=False,
        )
        out[weight] = matching.score(pair, now).score
    return out


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
    if me.kind == "need":
        categories = taxonomy.path(me.category)
    else:
        assert volunteer is not None
        if not volunteer.approved or volunteer.room_for_matches <= 0:
            return None  # rule 4 fails for every pair, or nobody may be proposed
        categories = taxonomy.subtree(me.category)
        until = volunteer.police_certificate_until
        if until is None or until < now.date():
            # Rule 4: needs in categories that ask for a certificate all fail.
            categories = tuple(c for c in categories if not taxonomy.requires_police_certificate(c))
    tags: dict[str, float] = {}
    for skill in me.languages:
        tag = primary_tag(skill.code)
        tags[tag] = max(tags.get(tag, 0.0), LEVEL_WEIGHT[skill.level])
    # What queries._language_filter compares a candidate's codes with.
    primaries = sorted({c.split("-")[0].lower() for c in post.language_codes})
    if not categories or not tags or not primaries:
        return None
    in_person = me.meets_in_person and me.lat is not None and me.lon is not None
    n_categories = max(_max_categories(), len(categories))
    padded = [*categories, *[categories[0]] * (n_categories - len(categories))]
    params: dict[str, Any] = {"me_id": me.id, "cats": padded}
    best = max(tags.values())
    bounds: dict[str, float] = {}
    for i in range(n_categories):
        if i < len(categories):
            category = categories[i]
            path = taxonomy.path(category) or (category,)
            classes = _class_scores(me, category, now)
            fit = float(PARENT_CATEGORY_FIT ** abs(len(path) - len(me.category_path)))
        else:
            category, classes, fit = _NOTHING, dict.fromkeys(_WEIGHTS, 1.0), 1.0
        params[f"cat{i}"] = category
        params[f"fit{i}"] = fit
        params[f"top{i}"] = classes[best]
        if i < len(categories):
            waiting = _waiting_credit(me, now) if me.kind == "need" else 1.0
            bounds[category] = max(classes[best], _highest_sum(me, fit, best, waiting))
        for j, weight in enumerate(_WEIGHTS):
            params[f"cls{i}_{j}"] = classes[weight]
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
    params["best"] = WEIGHT_LANGUAGE * best
    params["slots"] = 1 if me.slots else 0
    if me.kind == "need":
        reach = (
            min(me.radius_km, queries.MAX_RADIUS_KM)
            if me.radius_km is not None
            else queries.MAX_RADIUS_KM
        )
        params["waiting"] = _waiting_credit(me, now)
        params["my_radius"] = me.radius_km if me.radius_km is not None else _NO_RADIUS
        # A day's margin, as in queries._certificate_filter: the matcher judges by its today.
        params["certificate"] = 1 if taxonomy.requires_police_certificate(me.category) else 0
        params["cert_from"] = now.date() - timedelta(days=1)
    else:
        reach = me.radius_km if me.radius_km is not None else matching.DEFAULT_OFFER_RADIUS_KM
        params["mine"] = reach
        params["cutoff"] = now - timedelta(days=FULL_WAITING_DAYS)
        params["now_x"] = (
            now.timestamp() if dialect == "postgresql" else now.timestamp() / 86400 + 2440587.5
        )
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


def _waiting_credit(me: matching.PostFacts, now: datetime) -> float:
    """The new need's waiting credit (matching.score._waiting)."""
    days = max(0.0, (now - me.published_at).total_seconds() / 86400)
    return min(1.0, days / FULL_WAITING_DAYS)


def _highest_sum(
    me: matching.PostFacts, category_fit: float, best_language: float, waiting: float
) -> float:
    """The largest value of the summed bound (see _branch) for a category: every part at its
    most. A little generous: it only decides which categories a round reads."""
    in_person = me.meets_in_person and me.lat is not None
    distance = 1.0 if in_person else REMOTE_FIT
    availability = 1.0 if me.slots else UNKNOWN_AVAILABILITY_FIT
    return (
        WEIGHT_CATEGORY * category_fit
        + WEIGHT_LANGUAGE * best_language
        + WEIGHT_DISTANCE * distance
        + WEIGHT_AVAILABILITY * availability
        + WEIGHT_WAITING * waiting
        + 2 * MARGIN
        + 1e-9
    )


# Settings for the queries of `best` (SET LOCAL, and back as they were afterwards): the statements
# are prepared once and run for every new post, and a generic plan (made without the post's place
# and radius) reads far more of the index than needed; parallel workers cost more to start than
# these queries take; and an author's few languages are read faster by a plain index scan than by
# a bitmap.
_SETTINGS = {
    "plan_cache_mode": "force_custom_plan",
    "max_parallel_workers_per_gather": "0",
    "enable_bitmapscan": "off",
}


@lru_cache(maxsize=2)
def _author_statement(pg: bool) -> Select[Any]:
    """The new post's author, the author's languages, open matches; and the settings."""
    ul = UserLanguage.__table__.alias("ul")
    sql = _Sql(pg)
    levels = (
        select(sql.aggregate(cast(ul.c.position, String) + ":" + ul.c.code + ":" + ul.c.level))
        .where(ul.c.user_id == User.id)
        .correlate_except(ul)
        .scalar_subquery()
    )
    volunteer_open = (
        select(func.count())
        .select_from(Match)
        .where(Match.volunteer_id == User.id, Match.status.in_(OPEN))
        .scalar_subquery()
    )
    need_open = (
        select(func.count())
        .select_from(Match)
        .where(Match.need_id == _p("post_id", String), Match.status == "proposed")
        .scalar_subquery()
    )
    columns: list[Any] = [
        User.id,
        User.role,
        User.vetting_status,
        User.police_certificate_until,
        User.max_open_matches,
        levels,
        volunteer_open,
        need_open,
    ]
    if pg:
        columns += [func.current_setting(name) for name in _SETTINGS]
        columns += [func.set_config(name, value, True) for name, value in _SETTINGS.items()]
    # One row even without the author.
    one = select(literal(1).label("one")).subquery()
    return select(*columns).select_from(one).outerjoin(User, User.id == _p("author_id", String))


async def plan_for(session: AsyncSession, post: Post, now: datetime, proposals: int) -> Plan | None:
    """The plan for a published post, with what the matcher needs to know about its author and
    its open matches (one query); None when nobody can be proposed. A new need may be proposed
    to `proposals` offers at a time (fewer while some proposals are open), a new offer to as many
    needs as that and its volunteer's room allow."""
    dialect = session.get_bind().dialect.name
    pg = dialect == "postgresql"
    stmt = _author_statement(pg)
    params = {"author_id": post.author_id, "post_id": post.id}
    row = (await session.execute(stmt, params)).one()
    previous = dict(zip(_SETTINGS, row[8 : 8 + len(_SETTINGS)], strict=True)) if pg else None
    author = row if row[0] is not None else None
    me = post_facts_of(post, _parse_levels(author[5]) if author is not None else [])
    if post.kind == "need":
        plan = make_plan(post, me, now, proposals - row[7], None, dialect)
    elif author is None:
        plan = None
    else:
        volunteer = volunteer_facts_of(
            author[0], author[1], author[2], author[3], author[4], author[6]
        )
        plan = make_plan(post, me, now, proposals, volunteer, dialect)
    if plan is None:
        await restore(session, previous)
        return None
    plan.previous_settings = previous
    return plan


async def restore(session: AsyncSession, previous: dict[str, str] | None) -> None:
    """Put back the settings `plan_for` changed."""
    if previous:
        params = {f"s{i}": previous[name] for i, name in enumerate(_SETTINGS)}
        await session.execute(_restore_statement(), params)


@lru_cache(maxsize=1)
def _restore_statement() -> Select[Any]:
    return select(
        *(func.set_config(name, _p(f"s{i}", String), True) for i, name in enumerate(_SETTINGS))
    )


# --- The bound in SQL ---------------------------------------------------------------------------


def _p(name: str, type_: Any = Float) -> Any:
    return bindparam(name, type_=type_)


def _c(x: float) -> Any:
    """A constant in the SQL text (fewer parameters to send); for arithmetic only."""
    return literal_column(f"CAST({float(x)!r} AS FLOAT)", Float)


def _exact(x: float) -> Any:
    """A constant that must arrive as exactly this double (it is compared for equality)."""
    return literal(float(x), Float)


def _abs(x: Any) -> Any:
    return func.abs(x, type_=Float)


class _Sql:
    """The few places where PostgreSQL and SQLite differ."""

    def __init__(self, pg: bool) -> None:
        self.pg = pg

    def order_id(self, column: Any) -> Any:
        # Python compares ids by code point; so do "C" (PostgreSQL) and BINARY (SQLite).
        return column.collate("C") if self.pg else column

    # Each argument is evaluated once; none of them may be NULL (SQLite's min and max would
    # give NULL, PostgreSQL's least and greatest would ignore it).
    def least(self, *args: Any) -> Any:
        return func.least(*args, type_=Float) if self.pg else func.min(*args, type_=Float)

    def greatest(self, *args: Any) -> Any:
        return func.greatest(*args, type_=Float) if self.pg else func.max(*args, type_=Float)

    def hypot_lower(self, dx: Any, dy: Any) -> Any:
        """sqrt(dx^2 + dy^2), or on SQLite (which may lack sqrt) an octagon below it."""
        if self.pg:
            return func.sqrt(dx * dx + dy * dy, type_=Float)
        ax, ay = _abs(dx), _abs(dy)
        return self.greatest(ax, ay, (ax + ay) * _c((1 / math.sqrt(2)) * (1 - 1e-12)))

    def days_before_now(self, column: Any) -> Any:
        """Days from `column` to the parameter now_x (epoch seconds or a Julian day)."""
        if self.pg:
            return (_p("now_x") - func.date_part("epoch", column, type_=Float)) / _c(86400.0)
        return _p("now_x") - func.julianday(column, type_=Float)

    def aggregate(self, value: Any) -> Any:
        if self.pg:
            return func.string_agg(value, literal_column("','"))
        return func.group_concat(value, ",")

    def before_dash(self, code: Any) -> Any:
        if self.pg:
            return func.split_part(code, "-", 1)
        dash = func.instr(code, "-")
        return case((dash > 0, func.substr(code, 1, dash - 1)), else_=code)


def _categories(shape: Shape, column: Any, value: str) -> Any:
    """A value per candidate category (the parameters value0, value1 ...)."""
    return case(
        *(
            (column == _p(f"cat{i}", String), _p(value.format(i=i)))
            for i in range(shape.categories)
        ),
        else_=_c(1.0),
    )


def _pair_radius(shape: Shape, sql: _Sql) -> Any:
    """The smaller of the offer's radius (10 km when none) and the need's (when given)."""
    if shape.side == "need":
        theirs = func.coalesce(Post.radius_km, _c(matching.DEFAULT_OFFER_RADIUS_KM))
        return sql.least(theirs, _p("my_radius"))
    return sql.least(func.coalesce(Post.radius_km, _p("mine")), _p("mine"))


def _decay(sql: _Sql, distance: Any, radius: Any) -> Any:
    """matching.score._distance_decay, for a distance that is a lower bound: never less."""
    return case(
        (radius <= 0, _c(1.0)),
        else_=_c(1.0) - _c(1.0 - EDGE_OF_RADIUS_FIT) * sql.least(distance / radius, _c(1.0)),
    )


def _lower_km(sql: _Sql, flat: Any) -> Any:
    """A lower bound of the great-circle distance from a flat one."""
    return sql.greatest(flat * _c(1 / _LB_FACTOR) - _c(_LB_KM), _c(0.0))


def _north_south_km() -> Any:
    """Kilometres north-south alone: never more than the great circle."""
    return _abs(Post.lat - _p("lat")) * _c(_KM_PER_DEGREE)


def _anywhere_lower(sql: _Sql) -> Any:
    """A lower bound of the distance to a row anywhere (no box around the new post)."""
    north_south = _north_south_km()
    if not sql.pg:
        return north_south
    # The cosine at the latitude nearer the pole keeps east-west distances short enough; the
    # flat measure is only trusted within 10 degrees of longitude.
    pole = sql.greatest(_abs(Post.lat), _p("abslat"))
    dx = (
        (Post.lon - _p("lon"))
        * _c(_KM_PER_DEGREE)
        * func.cos(func.radians(pole, type_=Float), type_=Float)
    )
    dy = (Post.lat - _p("lat")) * _c(_KM_PER_DEGREE)
    flat = _lower_km(sql, sql.hypot_lower(dx, dy))
    return case(
        (_abs(Post.lon - _p("lon")) <= _c(10.0), sql.greatest(flat, north_south)),
        else_=north_south,
    )


def _availability(shape: Shape) -> tuple[Any, Any]:
    """(bound, exact) of the availability credit: neutral when either side gives no slots."""
    exact = or_(
        _p("slots", Integer) == 0,
        Post.availability.is_(None),
        cast(Post.availability, Text).in_(("[]", "null")),
    )
    return case((exact, _c(UNKNOWN_AVAILABILITY_FIT)), else_=_c(1.0)), exact


def _waiting(shape: Shape, sql: _Sql) -> tuple[Any, Any]:
    """(bound, exact) of the waiting credit."""
    if shape.side == "need":
        return _p("waiting"), true()
    full = Post.published_at <= _p("cutoff", Post.published_at.type)
    # A minute more than measured: the databases' clocks round differently.
    days = sql.greatest(sql.days_before_now(Post.published_at) + _c(1 / 1440), _c(0.0))
    bound = case(
        (Post.published_at.is_(None), _c(1.0)),
        (full, _c(1.0)),
        else_=sql.least(days / _c(FULL_WAITING_DAYS), _c(1.0)),
    )
    return bound, full


@dataclass
class _Branch:
    """One way of meeting: in person (near the new post) or remotely (anywhere)."""

    conditions: list[Any]
    exact: Any  # 1 where every component of the score is known exactly (see _class_scores)
    rest: Any  # the bound without its language credit


def _branch(
    shape: Shape, sql: _Sql, conditions: list[Any], distance: Any, dist_exact: Any
) -> _Branch:
    avail, avail_exact = _availability(shape)
    wait, wait_exact = _waiting(shape, sql)
    rest = (
        _c(WEIGHT_CATEGORY) * _categories(shape, Post.category, "fit{i}")
        + _c(WEIGHT_DISTANCE) * distance
        + _c(WEIGHT_AVAILABILITY) * avail
        + _c(WEIGHT_WAITING) * wait
    )
    exact = case((and_(dist_exact, avail_exact, wait_exact), 1), else_=0)
    return _Branch(conditions, exact, rest)


def _branches(shape: Shape, sql: _Sql) -> list[_Branch]:
    base = [
        Post.status == "published",
        Post.kind == ("offer" if shape.side == "need" else "need"),
        Post.category.in_(bindparam("cats", expanding=True)),
    ]
    if shape.side == "need":
        other_radius = func.coalesce(Post.radius_km, _c(matching.DEFAULT_OFFER_RADIUS_KM))
    else:
        other_radius = func.coalesce(Post.radius_km, _p("mine"))
    radius = _pair_radius(shape, sql)
    out = []
    if shape.in_person:
        names = [*queries.Box.__dataclass_fields__]
        v = {n: _p(n, Integer if n in _BOX_INTS else Float) for n in names}
        box, dx, dy = queries.box_conditions(v, shape.flat, other_radius)
        lower = _north_south_km()
        if shape.flat:
            lower = sql.greatest(_lower_km(sql, sql.hypot_lower(dx, dy)), lower)
        # A candidate that meets either way goes with the remote ones when the new post does.
        modes = ("in_person",) if shape.remote else ("in_person", "either")
        out.append(
            _branch(
                shape,
                sql,
                [*base, Post.mode.in_(modes), *box],
                _decay(sql, lower, radius),
                literal(False),
            )
        )
    if shape.remote:
        conditions = [*base, Post.mode.in_(("remote", "either"))]
        if shape.in_person:
            lower = _anywhere_lower(sql)
            far = or_(
                Post.mode == "remote",
                Post.lat.is_(None),
                Post.lon.is_(None),
                # Most rows are far north or south already; the full measure is dearer.
                _north_south_km() > _c(FAR) * radius,
                lower > _c(FAR) * radius,
            )
            distance = case(
                (far, _c(REMOTE_FIT)),
                else_=sql.greatest(_decay(sql, lower, radius), _c(REMOTE_FIT)),
            )
            out.append(_branch(shape, sql, conditions, distance, far))
        else:
            out.append(_branch(shape, sql, conditions, _c(REMOTE_FIT), true()))
    return out


# --- The per-row parts, computed only for the rows read ----------------------------------------


def _weight_of_level(level: Any) -> Any:
    # An unknown level would make the matcher fail; as a bound it counts as the best.
    return case(
        (level == "fluent", _exact(LEVEL_WEIGHT["fluent"])),
        (level == "basic", _exact(LEVEL_WEIGHT["basic"])),
        else_=_exact(1.0),
    )


def _language_bound(shape: Shape, sql: _Sql, post_id: Any, author_id: Any) -> Any:
    """The matcher's language credit for the row, or more: always one of the level weights;
    NULL when the row is no candidate (no language in common by queries._language_filter)."""
    pl = PostLanguage.__table__.alias("pl")
    ul = UserLanguage.__table__.alias("ul")
    # The author's level in the code: exactly, else (as a bound) native if any code with the
    # same primary subtag is native, else fluent (facts.skills).
    prefix = sql.before_dash(pl.c.code)
    same_primary = or_(ul.c.code == prefix, ul.c.code.like(prefix + "-%"))
    native_like = and_(same_primary, ul.c.level.not_in(("fluent", "basic")))
    level = (
        select(
            func.coalesce(
                func.max(case((ul.c.code == pl.c.code, _weight_of_level(ul.c.level)))),
                case(
                    (func.max(case((native_like, 1), else_=0)) == 1, _exact(1.0)),
                    else_=_exact(_NEUTRAL),
                ),
            )
        )
        .where(ul.c.user_id == author_id)
        .correlate_except(ul)
        .scalar_subquery()
    )
    # The new post's weight for the row's code, compared by primary tag as the matcher does
    # (codes are stored normalised: lower-case primary subtag); NULL for a code it does not share.
    mine = case(
        *(
            (
                or_(pl.c.code == _p(f"tag{j}", String), pl.c.code.like(_p(f"tagl{j}", String))),
                _p(f"tw{j}"),
            )
            for j in range(shape.tags)
        ),
    )
    credit = case((mine.is_(None), None), else_=sql.least(mine, level))
    old_match = or_(
        *(
            or_(pl.c.code == _p(f"op{m}", String), pl.c.code.like(_p(f"opl{m}", String)))
            for m in range(shape.primaries)
        )
    )
    return (
        select(case((func.max(case((old_match, 1), else_=0)) == 1, func.max(credit))))
        .where(pl.c.post_id == post_id)
        .correlate_except(pl)
        .scalar_subquery()
    )


def _refined(shape: Shape, c: Any, language: Any) -> Any:
    """The row's bound with its language credit known: the class score where the row is exact,
    else the sum. `language` is evaluated once."""
    values = {
        weight: case(
            (c.exact == 1, _categories(shape, c.category, f"cls{{i}}_{j}")),
            else_=c.rest + _c(WEIGHT_LANGUAGE * weight) + _c(MARGIN),
        )
        for j, weight in enumerate(_WEIGHTS)
    }
    return case(values, value=language)


def _could_beat_without_native(shape: Shape, sql: _Sql, c: Any) -> Any:
    """A cheap test every row that can still get in passes: it would beat the last pick with
    less than the best language credit, or its author is native (or of unknown level) in one of
    the new post's native languages. The second part reads only the author's languages, not the
    post's; rows of authors who are nobody's native speakers fail it before the costly bound."""
    second = _WEIGHTS[1]
    value = case(
        (c.exact == 1, _categories(shape, c.category, "cls{i}_1")),
        else_=c.rest + _c(WEIGHT_LANGUAGE * second) + _c(MARGIN),
    )
    ul = UserLanguage.__table__.alias("ul3")
    native = (
        exists()
        .where(
            ul.c.user_id == c.author_id,
            ul.c.level.not_in(("fluent", "basic")),
            or_(
                *(
                    or_(ul.c.code == _p(f"nt{j}", String), ul.c.code.like(_p(f"ntl{j}", String)))
                    for j in range(shape.tags)
                )
            ),
        )
        .correlate_except(ul)
    )
    return or_(_before(sql, value, c.id, "thr"), native)


def _after(sql: _Sql, ub: Any, post_id: Any, name: str) -> Any:
    """Rows that sort after (bound, id) = (-{name}_ub, {name}_id) in the order (bound desc, id
    asc), i.e. whose (-bound, id) is larger."""
    key = tuple_(_p(f"{name}_ub"), _p(f"{name}_id", String))
    return tuple_(-ub, sql.order_id(post_id)) > key


def _before(sql: _Sql, ub: Any, post_id: Any, name: str) -> Any:
    key = tuple_(_p(f"{name}_ub"), _p(f"{name}_id", String))
    return tuple_(-ub, sql.order_id(post_id)) < key


@dataclass(frozen=True)
class _Round:
    kind: str  # "first", "next" or "all"
    after: bool = False
    threshold: bool = False


def _candidates(shape: Shape, rnd: _Round, sql: _Sql) -> Any:
    """The candidates with their bound, best first (a subquery: posts columns only)."""
    parts = []
    for branch in _branches(shape, sql):
        rows = (
            select(
                Post.id,
                Post.author_id,
                Post.category,
                Post.mode,
                Post.lat,
                Post.lon,
                Post.radius_km,
                Post.published_at,
                Post.availability,
                branch.exact.label("exact"),
                branch.rest.label("rest"),
            )
            .where(*branch.conditions)
            # OFFSET 0 keeps PostgreSQL from merging this into the query around it, which
            # would copy the expressions into every use and compute them again.
            .offset(0)
            .subquery()
        )
        # The bound: the class score where the row is exact, else the sum with the best
        # language credit the new post could get.
        bound = case(
            (rows.c.exact == 1, _categories(shape, rows.c.category, "top{i}")),
            else_=rows.c.rest + _p("best") + _c(MARGIN),
        )
        ub = bound.label("ub")
        inner = select(*rows.c, ub)
        if rnd.after:
            inner = inner.where(_after(sql, bound, rows.c.id, "after"))
        if rnd.threshold:
            inner = inner.where(_before(sql, bound, rows.c.id, "thr"))
        # Sorting inside keeps the subquery from being merged into the outer query, so the joins
        # and per-row subqueries there run only for the rows read, best bound first.
        inner = inner.order_by(ub.desc(), sql.order_id(rows.c.id))
        parts.append(inner.subquery())
    c = parts[0] if len(parts) == 1 else union_all(*(select(*p.c) for p in parts)).subquery("c")
    if rnd.kind == "first" and shape.remote:
        # Candidates near a post are few; those anywhere may be thousands: the first round
        # sorts only the best few hundred of all (a top-N sort). The limit applies to all ways
        # of meeting together, so that every row before the last one read has been seen.
        c = (
            select(*c.c)
            .order_by(c.c.ub.desc(), sql.order_id(c.c.id))
            .limit(FIRST_SORT_LIMIT)
            .subquery("c")
        )
    return c


@lru_cache(maxsize=512)
def statement(shape: Shape, rnd: _Round) -> Select[Any]:
    """The query for one round; its parameters come from the plan and the round."""
    sql = _Sql(shape.pg)
    c = _candidates(shape, rnd, sql)
    language = _language_bound(shape, sql, c.c.id, c.c.author_id)
    rub = _refined(shape, c.c, language)
    pl = PostLanguage.__table__.alias("pl2")
    ul = UserLanguage.__table__.alias("ul2")
    languages = (
        select(sql.aggregate(cast(pl.c.position, String) + ":" + pl.c.code))
        .where(pl.c.post_id == c.c.id)
        .correlate_except(pl)
        .scalar_subquery()
    )
    levels = (
        select(sql.aggregate(cast(ul.c.position, String) + ":" + ul.c.code + ":" + ul.c.level))
        .where(ul.c.user_id == c.c.author_id)
        .correlate_except(ul)
        .scalar_subquery()
    )
    created = select(Post.created_at).where(Post.id == c.c.id).correlate_except(Post)
    columns: list[Any] = [
        c.c.id,
        c.c.author_id,
        c.c.category,
        c.c.mode,
        c.c.lat,
        c.c.lon,
        c.c.radius_km,
        c.c.published_at,
        case((c.c.published_at.is_(None), created.scalar_subquery())).label("created_at"),
        c.c.availability,
        c.c.ub,
        rub.label("rub"),
        languages.label("languages"),
        levels.label("levels"),
    ]
    me_id = _p("me_id", String)
    if rnd.threshold:
        conditions: list[Any] = [
            _could_beat_without_native(shape, sql, c.c),
            _before(sql, rub, c.c.id, "thr"),
        ]
    else:
        conditions = [rub.is_not(None)]
    if shape.side == "need":
        open_count = (
            select(func.count())
            .select_from(Match)
            .where(Match.volunteer_id == c.c.author_id, Match.status.in_(OPEN))
            .scalar_subquery()
        )
        columns += [
            User.role,
            User.vetting_status,
            User.police_certificate_until,
            User.max_open_matches,
            open_count.label("open_matches"),
        ]
        stmt = select(*columns).select_from(c).join(User, User.id == c.c.author_id)
        conditions += [
            User.is_active.is_(True),
            # A volunteer paused after letting proposals expire (matches.followthrough).
            User.available.is_(True),
            or_(User.vetting_status == "approved", User.role.in_(("coordinator", "admin"))),
            ~exists().where(Match.offer_id == c.c.id, Match.need_id == me_id),
            # A volunteer without room for another match is never chosen.
            User.max_open_matches > open_count,
        ]
        conditions.append(
            or_(
                _p("certificate", Integer) == 0,
                User.police_certificate_until >= _p("cert_from", Date),
            )
        )
    else:
        stmt = select(*columns).select_from(c)
        conditions.append(~exists().where(Match.offer_id == me_id, Match.need_id == c.c.id))
    stmt = stmt.where(*conditions).order_by(c.c.ub.desc(), sql.order_id(c.c.id))
    if rnd.kind != "all":
        stmt = stmt.limit(_p("page", Integer))
    return stmt


def round_query(
    plan: Plan,
    kind: str,
    after: tuple[float, str] | None = None,
    threshold: tuple[float, str] | None = None,
    page: int = FIRST_PAGE,
) -> tuple[Select[Any], dict[str, Any]]:
    """The statement and parameters of one round: `after` and `threshold` are (bound, id)."""
    params = dict(plan.params)
    params["page"] = page
    if after is not None:
        params["after_ub"], params["after_id"] = -after[0], after[1]
    if threshold is not None:
        params["thr_ub"], params["thr_id"] = -threshold[0], threshold[1]
        params["cats"] = plan.categories_above(threshold[0])
    rnd = _Round(kind, after is not None, threshold is not None)
    return statement(plan.shape, rnd), params


# --- Judging the rows ---------------------------------------------------------------------------


def _parse_languages(text: str | None) -> list[str]:
    if not text:
        return []
    items = []
    for item in text.split(","):
        position, _, code = item.partition(":")
        items.append((int(position), code))
    return [code for _, code in sorted(items)]


def _parse_levels(text: str | None) -> list[tuple[str, str]]:
    if not text:
        return []
    items = []
    for item in text.split(","):
        position, code, level = item.split(":", 2)
        items.append((int(position), code, level))
    return [(code, level) for _, code, level in sorted(items)]


def _judge(plan: Plan, row: Any) -> _Scored | None:
    """The matcher's verdict on one row; None when the pair breaks a rule."""
    theirs = matching.PostFacts(
        id=row.id,
        kind="offer" if plan.side == "need" else "need",
        category=row.category,
        category_path=taxonomy.path(row.category) or (row.category,),
        languages=skills(_parse_languages(row.languages), _parse_levels(row.levels)),
        mode=row.mode,
        lat=row.lat,
        lon=row.lon,
        radius_km=row.radius_km,
        published=True,
        published_at=published_at_of(row.published_at, row.created_at),
        slots=slots_of(row.availability),
    )
    if plan.side == "need":
        volunteer = volunteer_facts_of(
            row.author_id,
            row.role,
            row.vetting_status,
            row.police_certificate_until,
            row.max_open_matches,
            row.open_matches,
        )
        offer, need = theirs, plan.me
    else:
        assert plan.volunteer is not None
        volunteer = plan.volunteer
        offer, need = plan.me, theirs
    pair = matching.Candidate(
        offer=offer,
        need=need,
        volunteer=volunteer,
        requires_certificate=taxonomy.requires_police_certificate(need.category),
        declined_before=False,
    )
    scored = matching.judge(pair, plan.now, plan.now.date())
    if scored is None:
        return None
    if scored.score > row.rub or scored.score > row.ub:
        raise BoundViolated(f"{row.id}: score {scored.score!r} above {row.rub!r} / {row.ub!r}")
    return _Scored((-scored.score, row.id), scored, volunteer)


def _wanted(plan: Plan) -> int:
    if plan.side == "offer":
        assert plan.volunteer is not None
        return min(plan.limit, plan.volunteer.room_for_matches)
    return plan.limit


def _picks(plan: Plan, pool: list[_Scored]) -> list[_Scored]:
    """matching.best_offers_for_need / best_needs_for_offer on the pairs judged so far."""
    ordered = sorted(pool, key=lambda s: s.key)
    if plan.side == "offer":
        return ordered[: _wanted(plan)]
    proposed: Counter[str] = Counter()
    chosen = []
    for s in ordered:
        if len(chosen) >= plan.limit:
            break
        # Two offers by the same volunteer may both fit; together they must not exceed the cap.
        if proposed[s.volunteer.id] >= s.volunteer.room_for_matches:
            continue
        proposed[s.volunteer.id] += 1
        chosen.append(s)
    return chosen


async def best(
    session: AsyncSession,
    plan: Plan,
    *,
    exhaustive: bool = False,
    stats: Stats | None = None,
) -> list[matching.Scored]:
    """The pairs to propose for the plan's post, best first: exactly the matcher's choice among
    all candidates. `exhaustive` reads and judges every candidate (for tests and checks)."""
    stats = stats if stats is not None else Stats()
    stats.exhaustive = exhaustive
    try:
        return await _best(session, plan, exhaustive, stats)
    except BoundViolated as exc:
        if exhaustive:
            raise
        log.warning("matching bound violated (%s); judging every candidate", exc)
        stats.fallback = True
        return await _best(session, plan, True, stats)
    finally:
        await restore(session, plan.previous_settings)


async def _best(
    session: AsyncSession, plan: Plan, exhaustive: bool, stats: Stats
) -> list[matching.Scored]:
    wanted = _wanted(plan)
    pool: list[_Scored] = []
    picks: list[_Scored] = []
    last: tuple[float, str] | None = None  # (bound, id) of the last row read
    first = True
    while True:
        if exhaustive:
            stmt, params = round_query(plan, "all")
        elif first:
            page = FIRST_PAGE
            stmt, params = round_query(plan, "first", page=page)
        else:
            k = (-picks[-1].key[0], picks[-1].key[1]) if len(picks) >= wanted else None
            page = NEXT_PAGES[min(stats.rounds - 1, len(NEXT_PAGES) - 1)]
            stmt, params = round_query(plan, "next", after=last, threshold=k, page=page)
        t0 = time.perf_counter()
        rows = (await session.execute(stmt, params)).all()
        t1 = time.perf_counter()
        stats.sql_seconds += t1 - t0
        stats.rounds += 1
        stats.rows += len(rows)
        done = False
        for row in rows:
            if len(picks) >= wanted and not exhaustive:
                k_score, k_id = -picks[-1].key[0], picks[-1].key[1]
                # Stop: this row and every row after it sort after the last pick.
                if (-row.ub, row.id) > (-k_score, k_id):
                    done = True
                    break
                # Skip: this row cannot get in.
                if (-row.rub, row.id) > (-k_score, k_id):
                    last = (row.ub, row.id)
                    continue
            last = (row.ub, row.id)
            stats.judged += 1
            judged = _judge(plan, row)
            if judged is None:
                continue
            stats.matches += 1
            pool.append(judged)
            if not exhaustive:
                picks = _picks(plan, pool)
        stats.python_seconds += time.perf_counter() - t1
        if done or exhaustive:
            break
        # A round without a sort limit that returned less than asked has seen everything.
        if len(rows) < page and not (first and plan.shape.remote):
            break
        first = False
    return [p.scored for p in _picks(plan, pool)]
