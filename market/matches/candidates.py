"""The best few partners for a newly published post: exact, without judging every candidate.

A remote-capable post can have thousands of candidates nationwide, yet only the best few are
proposed. So SQL computes for every candidate an upper bound of the matcher's score from columns
that an index covers (`ix_posts_match_cover`), hands the candidates over best bound first, a page
at a time, and the matcher judges them (`matching.check` + `matching.score`) until no candidate
left can change the choice. The choice is then exactly what ranking all candidates gives
(`matching.best_offers_for_need` / `best_needs_for_offer`).

The bound (`ub`), per component of `matching.score`:

- category: exact, from the candidate's category;
- language: the best level the new post has in any of its languages (the candidate's side at its
  best); after the sort, for the rows actually read, a tighter bound (`rub`) from the candidate's
  languages and its author's levels;
- distance: from a lower bound of the distance (the flat measure of `queries.near_box`, shrunk by
  a safety margin); 0.5 for a pair that can only meet remotely;
- availability: 0.5 when either side gives no slots, else the maximum;
- waiting: the new need's own waiting time, or for a new offer each need's, rounded up.

Where every component is known exactly (a remote-only pair, no slots to compare, a known waiting
time), the bound is not a sum computed in SQL but the matcher's own score for that class of pair,
bit for bit. That matters for ties, which are common among remote pairs: the matcher breaks them
by id, the SQL order is (bound descending, id ascending), and a candidate whose bound equals the
last pick's score cannot come before it when its id is larger. Everywhere else a small margin
keeps the sum above the score despite rounding.

Stop rule: with `limit` picks made, the next candidate's (bound, id) sorts after the last pick's
(score, id); every candidate not read sorts after it too, so none of them can be chosen. Once
there are `limit` picks, later pages ask SQL only for candidates that could still get in.

Candidates are read as plain rows: the post's columns, its author's vetting fields and open
matches, its languages and the author's levels (aggregated in the same query). No ORM objects.

Two assumptions: language codes are stored normalised (`market.posts.languages.normalise`:
lower-case primary subtag), as the candidate filter of `queries` assumes too; and the flat
distance is never longer than the great circle by more than its margin (tested). Each judged
candidate's score is checked against its bounds; should one ever exceed them, the post is ranked
the slow way, judging every candidate.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    Select,
    String,
    Text,
    and_,
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
from sqlalchemy.sql.elements import ColumnElement

import matching
from market.accounts.models import User, UserLanguage
from market.db import utcnow
from market.matches import queries
from market.matches.facts import published_at_of, skills, slots_of, volunteer_facts_of
from market.matches.models import OPEN, Match
from market.posts import taxonomy
from market.posts.models import Post, PostLanguage
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
from matching.languages import LEVEL_WEIGHT, primary_tag

log = logging.getLogger(__name__)

# Rows asked for in the first round and in later ones. The first round only has to find a first
# set of picks; later rounds return only candidates that could still get in.
FIRST_PAGE = 16
NEXT_PAGE = 64
# The first round sorts only this many candidates by their bound (a top-N sort instead of a full
# one); later rounds continue behind the last row seen.
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
_LEVELS = {weight: level for level, weight in LEVEL_WEIGHT.items()}
_NEUTRAL_LEVEL = LEVEL_WEIGHT["fluent"]  # a language without a level counts as fluent


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
    extra: dict[str, Any] = field(default_factory=dict)


class BoundViolated(Exception):
    """A judged candidate scored above its bound: the assumptions above do not hold for it."""


@dataclass(frozen=True)
class _Scored:
    key: tuple[float, str]  # (-score, candidate id): the matcher's order for one new post
    scored: matching.Scored
    volunteer: matching.VolunteerFacts


class _Sql:
    """The few places where PostgreSQL and SQLite differ."""

    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"

    def order_id(self, column: Any) -> Any:
        # Python compares ids by code point; so do "C" (PostgreSQL) and BINARY (SQLite).
        return column.collate("C") if self.pg else column

    def hypot_lower(self, dx: Any, dy: Any) -> Any:
        """sqrt(dx^2 + dy^2), or on SQLite (which may lack sqrt) an octagon below it."""
        if self.pg:
            return func.sqrt(dx * dx + dy * dy)
        ax, ay = func.abs(dx), func.abs(dy)
        return self.greatest(ax, ay, (ax + ay) * (1 / math.sqrt(2)) * (1 - 1e-12))

    def days_before(self, now: datetime, column: Any) -> Any:
        if self.pg:
            return (now.timestamp() - func.date_part("epoch", column)) / 86400.0
        return (now.timestamp() / 86400.0 + 2440587.5) - func.julianday(column)

    def aggregate(self, value: Any) -> Any:
        if self.pg:
            return func.string_agg(value, literal_column("','"))
        return func.group_concat(value, ",")

    # Each argument is evaluated once; none of them may be NULL (SQLite's min and max would
    # give NULL, PostgreSQL's least and greatest would ignore it).
    def least(self, *args: Any) -> Any:
        return func.least(*args) if self.pg else func.min(*args)

    def greatest(self, *args: Any) -> Any:
        return func.greatest(*args) if self.pg else func.max(*args)

    def before_dash(self, code: Any) -> Any:
        if self.pg:
            return func.split_part(code, "-", 1)
        dash = func.instr(code, "-")
        return case((dash > 0, func.substr(code, 1, dash - 1)), else_=code)


def _f(x: float) -> Any:
    return literal(float(x), Float)


@dataclass
class _Plan:
    """Everything about the new post that the query and the judging need, worked out once."""

    post: Post
    me: matching.PostFacts
    side: str  # the new post's kind
    now: datetime
    limit: int
    volunteer: matching.VolunteerFacts | None  # the new offer's author
    categories: tuple[str, ...]
    tags: dict[str, float]  # the new post's primary tags -> best weight
    old_primaries: tuple[str, ...]  # what queries._language_filter compares
    class_score: dict[tuple[str, float], float]  # exact score of a remote-only class
    category_fit: dict[str, float]
    waiting: float  # the new need's waiting credit (need side)
    sql: _Sql

    @property
    def best_language(self) -> float:
        return max(self.tags.values())


def _class_scores(
    me: matching.PostFacts, categories: Sequence[str], now: datetime
) -> dict[tuple[str, float], float]:
    """The matcher's score of a pair whose every component is known: remote only, no slots to
    compare, the given category and language weight, and (for a new offer) a need that has
    waited the full time. Computed by the matcher itself so that it is the same float."""
    volunteer = matching.VolunteerFacts(id="v", approved=True)
    full_wait = now - timedelta(days=FULL_WAITING_DAYS)
    out: dict[tuple[str, float], float] = {}
    for category in categories:
        path = taxonomy.path(category) or (category,)
        for weight, level in _LEVELS.items():
            langs = (matching.LanguageSkill("zz", level),)  # type: ignore[arg-type]
            other = matching.PostFacts(
                id="c",
                kind="offer" if me.kind == "need" else "need",
                category=category,
                category_path=path,
                languages=langs,
                mode="remote",
                published_at=full_wait,
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
            offer, need = (other, mine) if me.kind == "need" else (mine, other)
            pair = matching.Candidate(
                offer=offer,
                need=need,
                volunteer=volunteer,
                requires_certificate=False,
                declined_before=False,
            )
            out[(category, weight)] = matching.score(pair, now).score
    return out


def make_plan(
    post: Post,
    me: matching.PostFacts,
    now: datetime,
    limit: int,
    volunteer: matching.VolunteerFacts | None,
    dialect: str,
) -> _Plan | None:
    """None when no candidate can be chosen at all."""
    if limit <= 0:
        return None
    if me.kind == "need":
        categories = taxonomy.path(me.category)
    else:
        assert volunteer is not None
        if not volunteer.approved:
            return None  # rule 4 fails for every pair
        categories = taxonomy.subtree(me.category)
        cert = volunteer.police_certificate_until
        if cert is None or cert < now.date():
            # Rule 4: needs in categories that ask for a certificate all fail.
            categories = tuple(
                c for c in categories if not taxonomy.requires_police_certificate(c)
            )
    tags: dict[str, float] = {}
    for skill in me.languages:
        tag = primary_tag(skill.code)
        tags[tag] = max(tags.get(tag, 0.0), LEVEL_WEIGHT[skill.level])
    old_primaries = tuple(sorted({c.split("-")[0].lower() for c in post.language_codes}))
    if not categories or not tags or not old_primaries:
        return None
    days = max(0.0, (now - me.published_at).total_seconds() / 86400)
    mine_path = me.category_path
    fits = {}
    for category in categories:
        path = taxonomy.path(category) or (category,)
        below = abs(len(path) - len(mine_path))
        fits[category] = float(PARENT_CATEGORY_FIT**below)
    return _Plan(
        post=post,
        me=me,
        side=me.kind,
        now=now,
        limit=limit,
        volunteer=volunteer,
        categories=tuple(categories),
        tags=tags,
        old_primaries=old_primaries,
        class_score=_class_scores(me, categories, now),
        category_fit=fits,
        waiting=min(1.0, days / FULL_WAITING_DAYS),
        sql=_Sql(dialect),
    )


# --- The bound in SQL ---------------------------------------------------------------------------


@dataclass
class _Branch:
    """One way of meeting: in person (near the new post) or remotely (anywhere)."""

    conditions: list[ColumnElement[bool]]
    ub: Any
    exact: Any
    rest: Any


def _pair_radius(plan: _Plan) -> Any:
    """The smaller of the offer's radius (10 km when none) and the need's (when given)."""
    me = plan.me
    if plan.side == "need":
        theirs = func.coalesce(Post.radius_km, matching.DEFAULT_OFFER_RADIUS_KM)
        return theirs if me.radius_km is None else plan.sql.least(theirs, _f(me.radius_km))
    mine = me.radius_km if me.radius_km is not None else matching.DEFAULT_OFFER_RADIUS_KM
    return plan.sql.least(func.coalesce(Post.radius_km, mine), _f(mine))


def _decay(plan: _Plan, distance: Any, radius: Any) -> Any:
    """matching.score._distance_decay, for a distance that is a lower bound: never less."""
    return case(
        (radius <= 0, _f(1.0)),
        else_=_f(1.0)
        - _f(1.0 - EDGE_OF_RADIUS_FIT) * plan.sql.least(distance / radius, _f(1.0)),
    )


def _lower_km(plan: _Plan, flat: Any) -> Any:
    """A lower bound of the great-circle distance from a flat one."""
    return plan.sql.greatest(flat * (1 / _LB_FACTOR) - _LB_KM, _f(0.0))


def _latitude_km(plan: _Plan) -> Any:
    """Kilometres north-south alone: never more than the great circle."""
    assert plan.me.lat is not None
    return func.abs(Post.lat - plan.me.lat) * _KM_PER_DEGREE


def _remote_distance_lower(plan: _Plan) -> Any:
    """A lower bound of the distance to any row (no box around the new post)."""
    me = plan.me
    assert me.lat is not None and me.lon is not None
    north_south = _latitude_km(plan)
    if not plan.sql.pg:
        return north_south
    # The cosine at the latitude nearer the pole keeps east-west distances short enough; the
    # flat measure is only trusted within 10 degrees of longitude.
    pole = plan.sql.greatest(func.abs(Post.lat), _f(abs(me.lat)))
    dx = (Post.lon - me.lon) * _KM_PER_DEGREE * func.cos(func.radians(pole))
    dy = (Post.lat - me.lat) * _KM_PER_DEGREE
    flat = _lower_km(plan, plan.sql.hypot_lower(dx, dy))
    return case(
        (func.abs(Post.lon - me.lon) <= 10.0, plan.sql.greatest(flat, north_south)),
        else_=north_south,
    )


def _availability(plan: _Plan) -> tuple[Any, Any]:
    """(bound, exact) of the availability credit."""
    if not plan.me.slots:
        return _f(UNKNOWN_AVAILABILITY_FIT), true()
    empty = or_(Post.availability.is_(None), cast(Post.availability, Text).in_(("[]", "null")))
    return case((empty, _f(UNKNOWN_AVAILABILITY_FIT)), else_=_f(1.0)), empty


def _waiting(plan: _Plan) -> tuple[Any, Any]:
    """(bound, exact) of the waiting credit."""
    if plan.side == "need":
        return _f(plan.waiting), true()
    full = plan.now - timedelta(days=FULL_WAITING_DAYS)
    # A minute more than measured: the databases' clocks round differently.
    days = plan.sql.greatest(plan.sql.days_before(plan.now, Post.published_at) + 1 / 1440, 0.0)
    bound = case(
        (Post.published_at.is_(None), _f(1.0)),
        (Post.published_at <= full, _f(1.0)),
        else_=days / FULL_WAITING_DAYS,
    )
    return bound, Post.published_at <= full


def _category_fit(plan: _Plan) -> Any:
    return case(
        *((Post.category == c, _f(fit)) for c, fit in plan.category_fit.items()), else_=_f(1.0)
    )


def _class(plan: _Plan, category: Any, weight: float) -> Any:
    return case(
        *((category == c, _f(plan.class_score[(c, weight)])) for c in plan.categories),
        else_=_f(1.0),
    )


def _branch(plan: _Plan, conditions: list[ColumnElement[bool]], distance: Any, dist_exact: Any) -> _Branch:
    avail, avail_exact = _availability(plan)
    wait, wait_exact = _waiting(plan)
    rest = (
        _f(WEIGHT_CATEGORY) * _category_fit(plan)
        + _f(WEIGHT_DISTANCE) * distance
        + _f(WEIGHT_AVAILABILITY) * avail
        + _f(WEIGHT_WAITING) * wait
    )
    exact = and_(dist_exact, avail_exact, wait_exact)
    best = plan.best_language
    ub = case(
        (exact, _class(plan, Post.category, best)),
        else_=rest + _f(WEIGHT_LANGUAGE * best) + _f(MARGIN),
    )
    return _Branch(conditions, ub, case((exact, 1), else_=0), rest)


def _branches(plan: _Plan) -> list[_Branch]:
    me = plan.me
    base = [Post.status == "published", Post.kind == ("offer" if plan.side == "need" else "need")]
    base.append(Post.category.in_(plan.categories))
    if plan.side == "need":
        reach = (
            min(me.radius_km, queries.MAX_RADIUS_KM)
            if me.radius_km is not None
            else queries.MAX_RADIUS_KM
        )
        other_radius: Any = func.coalesce(Post.radius_km, matching.DEFAULT_OFFER_RADIUS_KM)
    else:
        reach = me.radius_km if me.radius_km is not None else matching.DEFAULT_OFFER_RADIUS_KM
        other_radius = func.coalesce(Post.radius_km, reach)
    radius = _pair_radius(plan)
    in_person = me.meets_in_person and me.lat is not None and me.lon is not None
    out = []
    if in_person:
        box = queries.near_box(plan.post, reach, other_radius)
        if box.dx is not None:
            flat = _lower_km(plan, plan.sql.hypot_lower(box.dx, box.dy))
            lower = plan.sql.greatest(flat, _latitude_km(plan))
        else:
            lower = _latitude_km(plan)
        modes = ("in_person",) if me.meets_remotely else ("in_person", "either")
        out.append(
            _branch(
                plan,
                [*base, Post.mode.in_(modes), *box.conditions],
                _decay(plan, lower, radius),
                literal(False),
            )
        )
    if me.meets_remotely:
        conditions = [*base, Post.mode.in_(("remote", "either"))]
        if in_person:
            lower = _remote_distance_lower(plan)
            far = or_(
                Post.mode == "remote",
                Post.lat.is_(None),
                Post.lon.is_(None),
                lower > _f(FAR) * radius,
            )
            distance = case(
                (far, _f(REMOTE_FIT)),
                else_=plan.sql.greatest(_decay(plan, lower, radius), _f(REMOTE_FIT)),
            )
            out.append(_branch(plan, conditions, distance, far))
        else:
            out.append(_branch(plan, conditions, _f(REMOTE_FIT), true()))
    return out


# --- The per-row parts, computed only for the rows read ----------------------------------------


def _weight_of_level(level: Any) -> Any:
    # An unknown level would make the matcher fail; as a bound it counts as the best.
    return case(
        (level == "fluent", _f(LEVEL_WEIGHT["fluent"])),
        (level == "basic", _f(LEVEL_WEIGHT["basic"])),
        else_=_f(1.0),
    )


def _language_bound(plan: _Plan, post_id: Any, author_id: Any) -> Any:
    """The matcher's language credit for the row, or more; NULL when the row is no candidate
    (no language in common by queries._language_filter's test)."""
    pl = PostLanguage.__table__.alias("pl")
    ul = UserLanguage.__table__.alias("ul")
    # The author's level in the code: exactly, else (as a bound) native if any code with the
    # same primary subtag is native, else fluent (facts.skills).
    prefix = plan.sql.before_dash(pl.c.code)
    same_primary = or_(ul.c.code == prefix, ul.c.code.like(prefix + "-%"))
    level = (
        select(
            func.coalesce(
                func.max(case((ul.c.code == pl.c.code, _weight_of_level(ul.c.level)))),
                case(
                    (
                        func.max(
                            case(
                                (
                                    and_(same_primary, ul.c.level.not_in(("fluent", "basic"))),
                                    1,
                                ),
                                else_=0,
                            )
                        )
                        == 1,
                        _f(1.0),
                    ),
                    else_=_f(_NEUTRAL_LEVEL),
                ),
            )
        )
        .where(ul.c.user_id == author_id)
        .scalar_subquery()
    )
    # The new post's weight for the row's code, compared by primary tag as the matcher does.
    norm = func.lower(func.replace(func.trim(pl.c.code), "_", "-"))
    credit = case(
        *(
            (or_(norm == tag, norm.like(tag + "-%")), plan.sql.least(_f(weight), level))
            for tag, weight in sorted(plan.tags.items())
        ),
    )
    old_match = or_(
        *(or_(pl.c.code == p, pl.c.code.like(f"{p}-%")) for p in plan.old_primaries)
    )
    return (
        select(case((func.max(case((old_match, 1), else_=0)) == 1, func.max(credit))))
        .where(pl.c.post_id == post_id)
        .scalar_subquery()
    )


def _refined(plan: _Plan, c: Any, language: Any) -> Any:
    """The row's bound with its language credit known: the class score where the row is exact,
    else the sum. `language` is always one of the three level weights (or NULL), and is
    evaluated once."""
    values = {
        weight: case(
            (c.exact == 1, _class(plan, c.category, weight)),
            else_=c.rest + _f(WEIGHT_LANGUAGE * weight) + _f(MARGIN),
        )
        for weight in sorted(_LEVELS, reverse=True)
    }
    return case(values, value=language)


def _after(plan: _Plan, ub: Any, post_id: Any, key: tuple[float, str] | None) -> Any:
    """Rows that sort after key = (bound, id) in the order (bound desc, id asc)."""
    if key is None:
        return true()
    return tuple_(-ub, plan.sql.order_id(post_id)) > tuple_(_f(-key[0]), literal(key[1]))


def _before(plan: _Plan, ub: Any, post_id: Any, key: tuple[float, str] | None) -> Any:
    """Rows that sort before key = (bound, id): those that could still beat the last pick."""
    if key is None:
        return true()
    return tuple_(-ub, plan.sql.order_id(post_id)) < tuple_(_f(-key[0]), literal(key[1]))


def _query(
    plan: _Plan,
    *,
    after: tuple[float, str] | None,
    threshold: tuple[float, str] | None,
    inner_limit: int | None,
    limit: int | None,
) -> Select[Any]:
    sql = plan.sql
    parts = []
    for branch in _branches(plan):
        ub = branch.ub.label("ub")
        inner = (
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
                ub,
                branch.exact.label("exact"),
                branch.rest.label("rest"),
            )
            .where(
                *branch.conditions,
                _after(plan, branch.ub, Post.id, after),
                _before(plan, branch.ub, Post.id, threshold),
            )
            # Sorting inside keeps the subquery from being merged into the outer query, so the
            # joins and per-row subqueries below run only for the rows read, best bound first.
            .order_by(ub.desc(), sql.order_id(Post.id))
        )
        if inner_limit is not None:
            inner = inner.limit(inner_limit)
        parts.append(inner.subquery())
    if len(parts) == 1:
        c = parts[0]
    else:
        c = union_all(*(select(*p.c) for p in parts)).subquery("c")

    language = _language_bound(plan, c.c.id, c.c.author_id)
    rub = _refined(plan, c.c, language)
    pl = PostLanguage.__table__.alias("pl2")
    ul = UserLanguage.__table__.alias("ul2")
    languages = (
        select(sql.aggregate(cast(pl.c.position, String) + ":" + pl.c.code))
        .where(pl.c.post_id == c.c.id)
        .scalar_subquery()
    )
    levels = (
        select(
            sql.aggregate(cast(ul.c.position, String) + ":" + ul.c.code + ":" + ul.c.level)
        )
        .where(ul.c.user_id == c.c.author_id)
        .scalar_subquery()
    )
    created = (
        select(Post.created_at).where(Post.id == c.c.id).scalar_subquery()
    )
    columns: list[Any] = [
        c.c.id,
        c.c.author_id,
        c.c.category,
        c.c.mode,
        c.c.lat,
        c.c.lon,
        c.c.radius_km,
        c.c.published_at,
        case((c.c.published_at.is_(None), created)).label("created_at"),
        c.c.availability,
        c.c.ub,
        rub.label("rub"),
        languages.label("languages"),
        levels.label("levels"),
    ]
    me_id = plan.me.id
    conditions: list[Any] = []
    if threshold is None:
        conditions.append(rub.is_not(None))
    else:
        conditions.append(_before(plan, rub, c.c.id, threshold))
    if plan.side == "need":
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
            or_(User.vetting_status == "approved", User.role.in_(("coordinator", "admin"))),
            queries._certificate_filter(plan.me.category),
            ~exists().where(Match.offer_id == c.c.id, Match.need_id == me_id),
            # A volunteer without room for another match is never chosen.
            User.max_open_matches > open_count,
        ]
    else:
        stmt = select(*columns).select_from(c)
        conditions.append(~exists().where(Match.offer_id == me_id, Match.need_id == c.c.id))
    stmt = stmt.where(*conditions).order_by(c.c.ub.desc(), sql.order_id(c.c.id))
    if limit is not None:
        stmt = stmt.limit(limit)
    return stmt


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


def _judge(plan: _Plan, row: Any) -> _Scored | None:
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
    if matching.check(pair, plan.now.date()):
        return None
    scored = matching.score(pair, plan.now)
    if scored.score > row.rub or scored.score > row.ub:
        raise BoundViolated(f"{row.id}: score {scored.score!r} above {row.rub!r} / {row.ub!r}")
    return _Scored((-scored.score, row.id), scored, volunteer)


def _picks(plan: _Plan, pool: list[_Scored]) -> list[_Scored]:
    """matching.best_offers_for_need / best_needs_for_offer on the pairs judged so far."""
    ordered = sorted(pool, key=lambda s: s.key)
    if plan.side == "offer":
        assert plan.volunteer is not None
        return ordered[: min(plan.limit, plan.volunteer.room_for_matches)]
    proposed: Counter[str] = Counter()
    chosen = []
    for s in ordered:
        if len(chosen) >= plan.limit:
            break
        if proposed[s.volunteer.id] >= s.volunteer.room_for_matches:
            continue
        proposed[s.volunteer.id] += 1
        chosen.append(s)
    return chosen


def _wanted(plan: _Plan) -> int:
    if plan.side == "offer":
        assert plan.volunteer is not None
        return min(plan.limit, plan.volunteer.room_for_matches)
    return plan.limit


async def best(
    session: AsyncSession,
    plan: _Plan,
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


async def _best(
    session: AsyncSession, plan: _Plan, exhaustive: bool, stats: Stats
) -> list[matching.Scored]:
    wanted = _wanted(plan)
    pool: list[_Scored] = []
    picks: list[_Scored] = []
    last: tuple[float, str] | None = None  # (bound, id) of the last row read
    first = True
    while True:
        full = len(picks) >= wanted
        threshold = (-picks[-1].key[0], picks[-1].key[1]) if full and not exhaustive else None
        if exhaustive:
            stmt = _query(plan, after=None, threshold=None, inner_limit=None, limit=None)
        elif first:
            stmt = _query(
                plan, after=None, threshold=None, inner_limit=FIRST_SORT_LIMIT, limit=FIRST_PAGE
            )
        else:
            stmt = _query(plan, after=last, threshold=threshold, inner_limit=None, limit=NEXT_PAGE)
        t0 = time.perf_counter()
        rows = (await session.execute(stmt)).all()
        t1 = time.perf_counter()
        stats.sql_seconds += t1 - t0
        stats.rounds += 1
        stats.rows += len(rows)
        done = False
        for row in rows:
            if picks and len(picks) >= wanted and not exhaustive:
                k_score, k_id = -picks[-1].key[0], picks[-1].key[1]
                # Stop: this row and every row after it sort after the last pick.
                if row.ub < k_score or (row.ub == k_score and row.id > k_id):
                    done = True
                    break
                # Skip: this row cannot get in.
                if row.rub < k_score or (row.rub == k_score and row.id > k_id):
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
        # A round without an inner limit that returned less than asked has seen everything.
        if not first and len(rows) < NEXT_PAGE:
            break
        first = False
    return [p.scored for p in _picks(plan, pool)]
