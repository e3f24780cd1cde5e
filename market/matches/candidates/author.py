"""The new post's author, open matches and the session settings (one query): `plan_for`."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, String, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User, UserLanguage
from market.matches.candidates.plan import Plan, make_plan
from market.matches.candidates.rows import parse_levels
from market.matches.candidates.sql import Sql, p
from market.matches.facts import post_facts_of, volunteer_facts_of
from market.matches.models import OPEN, Match
from market.posts.models import Post

# Settings for the queries of `best` (SET LOCAL, and back as they were afterwards): the statements
# are prepared once and run for every new post, and a generic plan (made without the post's place
# and radius) reads far more of the index than needed; parallel workers cost more to start than
# these queries take; and an author's few languages are read faster by a plain index scan than by
# a bitmap.
SETTINGS = {
    "plan_cache_mode": "force_custom_plan",
    "max_parallel_workers_per_gather": "0",
    "enable_bitmapscan": "off",
}


@lru_cache(maxsize=2)
def _author_statement(pg: bool) -> Select[Any]:
    """The new post's author, the author's languages, open matches; and the settings."""
    ul = UserLanguage.__table__.alias("ul")
    sql = Sql(pg)
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
        .where(Match.need_id == p("post_id", String), Match.status == "proposed")
        .scalar_subquery()
    )
    columns: list[Any] = [
        User.id,
        User.role,
        User.vetting_status,
        User.police_certificate_until,
        User.max_open_matches,
        levels.label("levels"),
        volunteer_open.label("volunteer_open"),
        need_open.label("need_open"),
    ]
    if pg:
        # Read as setting0, setting1 ... in the order of SETTINGS; set_config's answers unused.
        columns += [
            func.current_setting(name).label(f"setting{i}") for i, name in enumerate(SETTINGS)
        ]
        columns += [
            func.set_config(name, value, True).label(f"set{i}")
            for i, (name, value) in enumerate(SETTINGS.items())
        ]
    # One row even without the author.
    one = select(literal(1).label("one")).subquery()
    return select(*columns).select_from(one).outerjoin(User, User.id == p("author_id", String))


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
    previous = (
        {name: getattr(row, f"setting{i}") for i, name in enumerate(SETTINGS)} if pg else None
    )
    found = row.id is not None
    me = post_facts_of(post, parse_levels(row.levels) if found else [])
    if post.kind == "need":
        plan = make_plan(post, me, now, proposals - row.need_open, None, dialect)
    elif not found:
        plan = None
    else:
        volunteer = volunteer_facts_of(
            row.id,
            row.role,
            row.vetting_status,
            row.police_certificate_until,
            row.max_open_matches,
            row.volunteer_open,
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
        params = {f"s{i}": previous[name] for i, name in enumerate(SETTINGS)}
        await session.execute(_restore_statement(), params)


@lru_cache(maxsize=1)
def _restore_statement() -> Select[Any]:
    return select(
        *(func.set_config(name, p(f"s{i}", String), True) for i, name in enumerate(SETTINGS))
    )
