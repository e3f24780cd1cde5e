"""The bound in SQL: per way of meeting for every candidate (`branches`), and per row read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)

import matching
from market.accounts.models import UserLanguage
from market.matches import queries
from market.matches.candidates.plan import (
    _BOX_INTS,
    _KM_PER_DEGREE,
    _LB_FACTOR,
    _LB_KM,
    _NEUTRAL,
    _WEIGHTS,
    FAR,
    MARGIN,
    Shape,
)
from market.matches.candidates.sql import Sql, abs_, c_, exact, p
from market.posts.models import Post, PostLanguage
from matching.model import LEVEL_WEIGHT
from matching.score import (
    EDGE_OF_RADIUS_FIT,
    FULL_WAITING_DAYS,
    REMOTE_FIT,
    UNKNOWN_AVAILABILITY_FIT,
    WEIGHT_AVAILABILITY,
    WEIGHT_CATEGORY,
    WEIGHT_DISTANCE,
    WEIGHT_LANGUAGE,
    WEIGHT_WAITING,
)


def categories(shape: Shape, column: Any, value: str) -> Any:
    """A value per candidate category (the parameters value0, value1 ...)."""
    return case(
        *((column == p(f"cat{i}", String), p(value.format(i=i))) for i in range(shape.categories)),
        else_=c_(1.0),
    )


def _pair_radius(shape: Shape, sql: Sql) -> Any:
    """The smaller of the offer's radius (10 km when none) and the need's (when given)."""
    if shape.side == "need":
        theirs = func.coalesce(Post.radius_km, c_(matching.DEFAULT_OFFER_RADIUS_KM))
        return sql.least(theirs, p("my_radius"))
    return sql.least(func.coalesce(Post.radius_km, p("mine")), p("mine"))


def _decay(sql: Sql, distance: Any, radius: Any) -> Any:
    """matching.bounds.distance_fit in SQL (for a distance that is a lower bound: never less)."""
    return case(
        (radius <= 0, c_(1.0)),
        else_=c_(1.0) - c_(1.0 - EDGE_OF_RADIUS_FIT) * sql.least(distance / radius, c_(1.0)),
    )


def _lower_km(sql: Sql, flat: Any) -> Any:
    """matching.bounds.lower_km in SQL: a lower bound of the great circle from a flat measure."""
    return sql.greatest(flat * c_(1 / _LB_FACTOR) - c_(_LB_KM), c_(0.0))


def _north_south_km() -> Any:
    """Kilometres north-south alone: never more than the great circle."""
    return abs_(Post.lat - p("lat")) * c_(_KM_PER_DEGREE)


def _anywhere_lower(sql: Sql) -> Any:
    """A lower bound of the distance to a row anywhere (no box around the new post)."""
    north_south = _north_south_km()
    if not sql.pg:
        return north_south
    # The cosine at the latitude nearer the pole keeps east-west distances short enough; the
    # flat measure is only trusted within 10 degrees of longitude.
    pole = sql.greatest(abs_(Post.lat), p("abslat"))
    dx = (
        (Post.lon - p("lon"))
        * c_(_KM_PER_DEGREE)
        * func.cos(func.radians(pole, type_=Float), type_=Float)
    )
    dy = (Post.lat - p("lat")) * c_(_KM_PER_DEGREE)
    flat = _lower_km(sql, sql.hypot_lower(dx, dy))
    return case(
        (abs_(Post.lon - p("lon")) <= c_(10.0), sql.greatest(flat, north_south)),
        else_=north_south,
    )


def _waiting_at_most(sql: Sql, days: Any) -> Any:
    """matching.bounds.waiting_fit_at_most in SQL: a minute more than measured, for the
    databases' clocks round differently."""
    return sql.least(sql.greatest(days + c_(1 / 1440), c_(0.0)) / c_(FULL_WAITING_DAYS), c_(1.0))


def _availability(shape: Shape) -> tuple[Any, Any]:
    """(bound, exact) of the availability credit: neutral when either side gives no slots."""
    exact = or_(
        p("slots", Integer) == 0,
        Post.availability.is_(None),
        cast(Post.availability, Text).in_(("[]", "null")),
    )
    return case((exact, c_(UNKNOWN_AVAILABILITY_FIT)), else_=c_(1.0)), exact


def _waiting(shape: Shape, sql: Sql) -> tuple[Any, Any]:
    """(bound, exact) of the waiting credit."""
    if shape.side == "need":
        return p("waiting"), true()
    full = Post.published_at <= p("cutoff", Post.published_at.type)
    bound = case(
        (Post.published_at.is_(None), c_(1.0)),
        (full, c_(1.0)),
        else_=_waiting_at_most(sql, sql.days_before_now(Post.published_at)),
    )
    return bound, full


@dataclass
class _Branch:
    """One way of meeting: in person (near the new post) or remotely (anywhere)."""

    conditions: list[Any]
    exact: Any  # 1 where every component of the score is known exactly (see _class_scores)
    rest: Any  # the bound without its language credit


def _branch(
    shape: Shape, sql: Sql, conditions: list[Any], distance: Any, dist_exact: Any
) -> _Branch:
    avail, avail_exact = _availability(shape)
    wait, wait_exact = _waiting(shape, sql)
    rest = (
        c_(WEIGHT_CATEGORY) * categories(shape, Post.category, "fit{i}")
        + c_(WEIGHT_DISTANCE) * distance
        + c_(WEIGHT_AVAILABILITY) * avail
        + c_(WEIGHT_WAITING) * wait
    )
    exact = case((and_(dist_exact, avail_exact, wait_exact), 1), else_=0)
    return _Branch(conditions, exact, rest)


def branches(shape: Shape, sql: Sql) -> list[_Branch]:
    base = [
        Post.status == "published",
        Post.kind == ("offer" if shape.side == "need" else "need"),
        Post.category.in_(bindparam("cats", expanding=True)),
    ]
    if shape.side == "need":
        other_radius = func.coalesce(Post.radius_km, c_(matching.DEFAULT_OFFER_RADIUS_KM))
    else:
        other_radius = func.coalesce(Post.radius_km, p("mine"))
    radius = _pair_radius(shape, sql)
    out = []
    if shape.in_person:
        names = [*queries.Box.__dataclass_fields__]
        v = {n: p(n, Integer if n in _BOX_INTS else Float) for n in names}
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
                _north_south_km() > c_(FAR) * radius,
                lower > c_(FAR) * radius,
            )
            distance = case(
                (far, c_(REMOTE_FIT)),
                else_=sql.greatest(_decay(sql, lower, radius), c_(REMOTE_FIT)),
            )
            out.append(_branch(shape, sql, conditions, distance, far))
        else:
            out.append(_branch(shape, sql, conditions, c_(REMOTE_FIT), true()))
    return out


# --- The per-row parts, computed only for the rows read ----------------------------------------


def _weight_of_level(level: Any) -> Any:
    # An unknown level would make the matcher fail; as a bound it counts as the best.
    return case(
        (level == "fluent", exact(LEVEL_WEIGHT["fluent"])),
        (level == "basic", exact(LEVEL_WEIGHT["basic"])),
        else_=exact(1.0),
    )


def language_bound(shape: Shape, sql: Sql, post_id: Any, author_id: Any) -> Any:
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
                    (func.max(case((native_like, 1), else_=0)) == 1, exact(1.0)),
                    else_=exact(_NEUTRAL),
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
                or_(pl.c.code == p(f"tag{j}", String), pl.c.code.like(p(f"tagl{j}", String))),
                p(f"tw{j}"),
            )
            for j in range(shape.tags)
        ),
    )
    credit = case((mine.is_(None), None), else_=sql.least(mine, level))
    old_match = or_(
        *(
            or_(pl.c.code == p(f"op{m}", String), pl.c.code.like(p(f"opl{m}", String)))
            for m in range(shape.primaries)
        )
    )
    return (
        select(case((func.max(case((old_match, 1), else_=0)) == 1, func.max(credit))))
        .where(pl.c.post_id == post_id)
        .correlate_except(pl)
        .scalar_subquery()
    )


def refined(shape: Shape, c: Any, language: Any) -> Any:
    """The row's bound with its language credit known: the class score where the row is exact,
    else the sum. `language` is evaluated once."""
    values = {
        weight: case(
            (c.exact == 1, categories(shape, c.category, f"cls{{i}}_{j}")),
            else_=c.rest + c_(WEIGHT_LANGUAGE * weight) + c_(MARGIN),
        )
        for j, weight in enumerate(_WEIGHTS)
    }
    return case(values, value=language)


def could_beat_without_native(shape: Shape, sql: Sql, c: Any) -> Any:
    """A cheap test every row that can still get in passes: it would beat the last pick with
    less than the best language credit, or its author is native (or of unknown level) in one of
    the new post's native languages. The second part reads only the author's languages, not the
    post's; rows of authors who are nobody's native speakers fail it before the costly bound."""
    second = _WEIGHTS[1]
    value = case(
        (c.exact == 1, categories(shape, c.category, "cls{i}_1")),
        else_=c.rest + c_(WEIGHT_LANGUAGE * second) + c_(MARGIN),
    )
    ul = UserLanguage.__table__.alias("ul3")
    native = (
        select(literal(1))
        .where(
            ul.c.user_id == c.author_id,
            ul.c.level.not_in(("fluent", "basic")),
            or_(
                *(
                    or_(ul.c.code == p(f"nt{j}", String), ul.c.code.like(p(f"ntl{j}", String)))
                    for j in range(shape.tags)
                )
            ),
        )
        # OFFSET 0 keeps PostgreSQL from hashing the test: it would read every native speaker
        # of the languages from the whole table once per round (9,206 rows of 153,000 for
        # German, 30 ms), where the few rows that get this far need one index probe each.
        .offset(0)
        .correlate_except(ul)
        .exists()
    )
    return or_(before(shape, sql, value, _tie(shape, c), c.id, "thr"), native)


def _tie(shape: Shape, c: Any) -> Any:
    return c.tk if shape.side == "offer" else None


def order_key(shape: Shape, sql: Sql, bound: Any, tie: Any, post_id: Any) -> list[Any]:
    """The order rows are read in, as the columns of a row value (ascending): (-bound, id) for a
    new need's offers, the matcher's tie-break; for a new offer's needs (-bound, publication,
    id), as far as SQL can follow `matching.fair_key` (score, longest wait, fewest matches, id):
    a need's matches so far are unknown until its row is read. `tie` is the publication
    (`plan.NO_PUBLICATION` where none is stored, never later than the matcher's date)."""
    if shape.side == "need":
        return [-bound, sql.order_id(post_id)]
    return [-bound, tie, sql.order_id(post_id)]


def order_by(shape: Shape, sql: Sql, bound: Any, tie: Any, post_id: Any) -> list[Any]:
    """ORDER BY clauses of `order_key`."""
    if shape.side == "need":
        return [bound.desc(), sql.order_id(post_id)]
    return [bound.desc(), tie, sql.order_id(post_id)]


def _key_params(shape: Shape, name: str) -> Any:
    names = [p(f"{name}_ub")]
    if shape.side == "offer":
        names.append(p(f"{name}_tk", Post.published_at.type))
    names.append(p(f"{name}_id", String))
    return tuple_(*names)


def after(shape: Shape, sql: Sql, bound: Any, tie: Any, post_id: Any, name: str) -> Any:
    """Rows whose key (`order_key`) sorts after the parameters {name}_ub (the negated bound),
    {name}_tk (a new offer's only) and {name}_id."""
    return tuple_(*order_key(shape, sql, bound, tie, post_id)) > _key_params(shape, name)


def before(shape: Shape, sql: Sql, bound: Any, tie: Any, post_id: Any, name: str) -> Any:
    return tuple_(*order_key(shape, sql, bound, tie, post_id)) < _key_params(shape, name)
