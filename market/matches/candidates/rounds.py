"""The statement of one round (built once per shape of new post) and its parameters."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    Select,
    String,
    case,
    cast,
    exists,
    func,
    or_,
    select,
    union_all,
)

from market.accounts.models import User, UserLanguage
from market.matches.candidates import tuning
from market.matches.candidates.bound import (
    after,
    before,
    branches,
    categories,
    could_beat_without_native,
    language_bound,
    order_by,
    refined,
)
from market.matches.candidates.plan import MARGIN, Plan, Shape
from market.matches.candidates.sql import Sql, c_, p
from market.matches.models import OPEN, Match
from market.posts.models import Post, PostLanguage


@dataclass(frozen=True)
class _Round:
    kind: str  # "first", "next" or "all"
    after: bool = False
    threshold: bool = False


def _candidates(shape: Shape, rnd: _Round, sql: Sql) -> Any:
    """The candidates with their bound, best first (a subquery: posts columns only)."""
    parts = []
    # A new offer's rows are read by publication among equal bounds (bound.order_key).
    tie = []
    if shape.side == "offer":
        no_publication = p("no_pub", Post.published_at.type)
        tie = [func.coalesce(Post.published_at, no_publication).label("tk")]
    for branch in branches(shape, sql):
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
                *tie,
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
            (rows.c.exact == 1, categories(shape, rows.c.category, "top{i}")),
            else_=rows.c.rest + p("best") + c_(MARGIN),
        )
        ub = bound.label("ub")
        inner = select(*rows.c, ub)
        rtk = rows.c.tk if tie else None
        if rnd.after:
            inner = inner.where(after(shape, sql, bound, rtk, rows.c.id, "after"))
        if rnd.threshold:
            inner = inner.where(before(shape, sql, bound, rtk, rows.c.id, "thr"))
        # Sorting inside keeps the subquery from being merged into the outer query, so the joins
        # and per-row subqueries there run only for the rows read, best bound first.
        inner = inner.order_by(*order_by(shape, sql, ub, rtk, rows.c.id))
        parts.append(inner.subquery())
    c = parts[0] if len(parts) == 1 else union_all(*(select(*p.c) for p in parts)).subquery("c")
    if rnd.kind == "first" and shape.remote:
        # Candidates near a post are few; those anywhere may be thousands: the first round
        # sorts only the best few hundred of all (a top-N sort). The limit applies to all ways
        # of meeting together, so that every row before the last one read has been seen.
        c = (
            select(*c.c)
            .order_by(*order_by(shape, sql, c.c.ub, _tie_of(shape, c), c.c.id))
            .limit(tuning.FIRST_SORT_LIMIT)
            .subquery("c")
        )
    return c


def _tie_of(shape: Shape, c: Any) -> Any:
    return c.c.tk if shape.side == "offer" else None


@lru_cache(maxsize=512)
def statement(shape: Shape, rnd: _Round) -> Select[Any]:
    """The query for one round; its parameters come from the plan and the round."""
    sql = Sql(shape.pg)
    c = _candidates(shape, rnd, sql)
    language = language_bound(shape, sql, c.c.id, c.c.author_id)
    rub = refined(shape, c.c, language)
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
    me_id = p("me_id", String)
    if rnd.threshold:
        conditions: list[Any] = [
            could_beat_without_native(shape, sql, c.c),
            before(shape, sql, rub, _tie_of(shape, c), c.c.id, "thr"),
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
                p("certificate", Integer) == 0,
                User.police_certificate_until >= p("cert_from", Date),
            )
        )
    else:
        # The need's matches so far, whatever became of them (the fairness rule's second key).
        had = (
            select(func.count())
            .select_from(Match)
            .where(Match.need_id == c.c.id)
            .correlate_except(Match)
            .scalar_subquery()
        )
        columns += [had.label("need_matches"), c.c.tk]
        stmt = select(*columns).select_from(c)
        conditions.append(~exists().where(Match.offer_id == me_id, Match.need_id == c.c.id))
    stmt = stmt.where(*conditions).order_by(
        *order_by(shape, sql, c.c.ub, _tie_of(shape, c), c.c.id)
    )
    if rnd.kind != "all":
        stmt = stmt.limit(p("page", Integer))
    return stmt


def _key(params: dict[str, Any], name: str, key: tuple[Any, ...]) -> None:
    params[f"{name}_ub"], params[f"{name}_id"] = key[0], key[-1]
    if len(key) == 3:
        params[f"{name}_tk"] = key[1]


def round_query(
    plan: Plan,
    kind: str,
    after: tuple[Any, ...] | None = None,
    threshold: tuple[Any, ...] | None = None,
    page: int | None = None,
) -> tuple[Select[Any], dict[str, Any]]:
    """The statement and parameters of one round: `after` and `threshold` are keys in the order
    of `bound.order_key`: (-bound, id), for a new offer (-bound, publication, id)."""
    params = dict(plan.params)
    params["page"] = tuning.FIRST_PAGE if page is None else page
    if after is not None:
        _key(params, "after", after)
    if threshold is not None:
        _key(params, "thr", threshold)
        params["cats"] = plan.categories_above(-threshold[0])
    rnd = _Round(kind, after is not None, threshold is not None)
    return statement(plan.shape, rnd), params
