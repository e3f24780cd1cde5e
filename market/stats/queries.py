"""The figures, computed from the rows by a few GROUP BY queries (never stored by hand).

Each figure is counted once in total and once per category, language and region (the
"dimensions"); a need written in two languages counts under both. Definitions (docs/api-additions.md):

- needs: created in the period; matched within 7 / 30 days: their first connected match came that
  soon after the need was created; waiting: still published and never connected.
- time to first contact: matches connected in the period, from proposal to connected, in days.
- matches: proposed in the period, by their status now; met: either side said they met.
- volunteers: approved now (by the regions, categories of their offers, by the languages they
  speak); active: of those, signed in, used a token or signed up within 90 days before the end.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    case,
    cast,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from market.accounts.models import ApiToken, User, UserLanguage, WebSession
from market.matches.models import Match
from market.posts.models import Post, PostLanguage, Region
from market.stats.figures import (
    DAY,
    DIMENSIONS,
    Figures,
    Period,
    Report,
    Single,
    add_matches,
    days,
    grouped,
    percentile,
    set_needs,
    set_volunteers,
)

ACTIVE_DAYS = 90


def _seconds_between(later: Any, earlier: Any, dialect: str) -> ColumnElement[float]:
    """later - earlier in seconds: date arithmetic is the one thing the two databases spell
    differently."""
    if dialect == "sqlite":
        diff: ColumnElement[float] = (func.julianday(later) - func.julianday(earlier)) * DAY
        return diff
    return cast(func.extract("epoch", later - earlier), Float)


def _in_scope(column: Any, region_ids: frozenset[str] | None) -> ColumnElement[bool]:
    if region_ids is None:
        return true()
    return column.in_(sorted(region_ids))  # type: ignore[no-any-return]


def _by(stmt: Select[Any], dimension: str | None, post: Any, language: Any) -> Select[Any]:
    """Add the dimension's key as the last column and group by it (the total: a NULL key)."""
    if dimension is None:
        return stmt.add_columns(null())
    key = {"category": post.category, "region": post.region_id, "language": language.code}[
        dimension
    ]
    if dimension == "language":
        stmt = stmt.join(language, language.post_id == post.id)
    return stmt.add_columns(key).group_by(key)


class Statistics:
    def __init__(
        self,
        session: AsyncSession,
        region_ids: frozenset[str] | None,
        period: Period,
        now: datetime,
    ) -> None:
        self.session = session
        self.now = now
        self.region_ids = region_ids
        self.period = period
        bind = session.get_bind()
        self.dialect = bind.dialect.name

    async def report(self) -> Report:
        total = Figures()
        groups: dict[str, dict[str | None, Figures]] = {d: defaultdict(Figures) for d in DIMENSIONS}
        if self.dialect == "postgresql":
            # One pass over the needs, one over the matches of the period and one over the
            # connections for the total, categories and regions (GROUPING SETS); languages join
            # post_languages, which repeats rows, so they keep their own queries. The
            # volunteers, counted as distinct people, take the total and languages in one pass
            # and the categories and regions of their offers in another.
            await self._needs_at_once(total, groups)
            await self._matches_at_once(total, groups)
            await self._contact_at_once(total, groups)
            await self._needs("language", groups["language"])
            await self._matches("language", groups["language"])
            await self._contact("language", groups["language"])
            await self._volunteers_with_languages(total, groups["language"])
            await self._volunteers("category", groups["category"], both=groups["region"])
        else:
            for dimension in (None, *DIMENSIONS):
                target: dict[str | None, Figures] = (
                    groups[dimension] if dimension else Single(total)
                )
                await self._needs(dimension, target)
                await self._matches(dimension, target)
                await self._contact(dimension, target)
                await self._volunteers(dimension, target)
        return Report(
            period=self.period, total=total, groups={d: dict(g) for d, g in groups.items()}
        )

    # --- needs

    def _needs_query(self) -> Select[Any]:
        # The first connection of each need of the period only: aggregating every match ever
        # made (as before) cost most of the time at 200,000 posts.
        in_period = aliased(Post)
        first = (
            select(Match.need_id, func.min(Match.connected_at).label("first"))
            .join(in_period, in_period.id == Match.need_id)
            .where(
                Match.connected_at.is_not(None),
                in_period.kind == "need",
                in_period.created_at >= self.period.start,
                in_period.created_at < self.period.end,
                _in_scope(in_period.region_id, self.region_ids),
            )
            .group_by(Match.need_id)
            .subquery()
        )
        delay = _seconds_between(first.c.first, Post.created_at, self.dialect)
        waiting = and_(Post.status == "published", first.c.first.is_(None))

        def within(n_days: int) -> Any:
            return func.sum(case((delay <= n_days * DAY, 1), else_=0))

        return (
            select(
                func.count(),
                within(7),
                within(30),
                func.sum(case((waiting, 1), else_=0)),
            )
            .select_from(Post)
            .outerjoin(first, first.c.need_id == Post.id)
            .where(
                Post.kind == "need",
                Post.created_at >= self.period.start,
                Post.created_at < self.period.end,
                _in_scope(Post.region_id, self.region_ids),
            )
        )

    async def _needs(self, dimension: str | None, target: dict[str | None, Figures]) -> None:
        stmt = _by(self._needs_query(), dimension, Post, PostLanguage)
        for created, week, month, still, key in await self._rows(stmt):
            set_needs(target[key], created, week, month, still)

    async def _needs_at_once(
        self, total: Figures, groups: dict[str, dict[str | None, Figures]]
    ) -> None:
        """PostgreSQL: the total, each category and each region from one GROUPING SETS query;
        grouping() tells the rows apart (bit 1: category left out, bit 0: region left out)."""
        stmt = (
            self._needs_query()
            .add_columns(
                func.grouping(Post.category, Post.region_id), Post.category, Post.region_id
            )
            .group_by(func.grouping_sets(literal_column("()"), Post.category, Post.region_id))
        )
        for created, week, month, still, sets, category, region in await self._rows(stmt):
            set_needs(grouped(total, groups, sets, category, region), created, week, month, still)

    # --- matches (each belongs to its need's category, languages and region)

    def _matches_query(self, need: Any) -> Any:
        met = or_(Match.offer_met.is_(True), Match.need_met.is_(True))
        stmt: Any = (
            select(Match.status, func.count(), func.sum(case((met, 1), else_=0)))
            .select_from(Match)
            .join(need, need.id == Match.need_id)
            .where(
                Match.created_at >= self.period.start,
                Match.created_at < self.period.end,
                _in_scope(need.region_id, self.region_ids),
            )
        )
        return stmt

    async def _matches(self, dimension: str | None, target: dict[str | None, Figures]) -> None:
        need, language = aliased(Post), aliased(PostLanguage)
        stmt = self._matches_query(need).group_by(Match.status)
        for status, count, met_count, key in await self._rows(_by(stmt, dimension, need, language)):
            add_matches(target[key], status, count, met_count)

    async def _matches_at_once(
        self, total: Figures, groups: dict[str, dict[str | None, Figures]]
    ) -> None:
        """PostgreSQL: the total, each category and each region from one GROUPING SETS query,
        as `_needs_at_once`."""
        need = aliased(Post)
        stmt = (
            self._matches_query(need)
            .add_columns(
                func.grouping(need.category, need.region_id), need.category, need.region_id
            )
            .group_by(
                func.grouping_sets(
                    tuple_(Match.status),
                    tuple_(Match.status, need.category),
                    tuple_(Match.status, need.region_id),
                )
            )
        )
        rows = await self._rows(stmt)
        for status, count, met_count, sets, category, region in rows:
            add_matches(grouped(total, groups, sets, category, region), status, count, met_count)

    def _contact_where(self, need: Any) -> tuple[Any, ...]:
        return (
            Match.connected_at >= self.period.start,
            Match.connected_at < self.period.end,
            Match.first_contact_seconds.is_not(None),
            _in_scope(need.region_id, self.region_ids),
        )

    def _percentiles(self, need: Any) -> Select[Any]:
        seconds = Match.first_contact_seconds
        return (
            select(
                func.percentile_cont(0.5).within_group(seconds),
                func.percentile_cont(0.9).within_group(seconds),
            )
            .select_from(Match)
            .join(need, need.id == Match.need_id)
            .where(*self._contact_where(need))
        )

    async def _contact_at_once(
        self, total: Figures, groups: dict[str, dict[str | None, Figures]]
    ) -> None:
        """PostgreSQL: the percentiles of the total, each category and each region in one
        GROUPING SETS query, as `_needs_at_once`."""
        need = aliased(Post)
        stmt = (
            self._percentiles(need)
            .add_columns(
                func.grouping(need.category, need.region_id), need.category, need.region_id
            )
            .group_by(func.grouping_sets(literal_column("()"), need.category, need.region_id))
        )
        for median, p90, sets, category, region in await self._rows(stmt):
            figures = grouped(total, groups, sets, category, region)
            figures.contact_days = {"median": days(median), "p90": days(p90)}

    async def _contact(self, dimension: str | None, target: dict[str | None, Figures]) -> None:
        need, language = aliased(Post), aliased(PostLanguage)
        where = self._contact_where(need)
        if self.dialect == "postgresql":
            stmt: Any = self._percentiles(need)
            for median, p90, key in await self._rows(_by(stmt, dimension, need, language)):
                target[key].contact_days = {"median": days(median), "p90": days(p90)}
            return
        # SQLite has no percentile_cont: the seconds, sorted, and the same interpolation here.
        stmt = (
            select(Match.first_contact_seconds)
            .select_from(Match)
            .join(need, need.id == Match.need_id)
        )
        stmt = stmt.where(*where)
        if dimension is None:
            stmt = stmt.add_columns(null())
        else:
            key = {"category": need.category, "region": need.region_id, "language": language.code}
            if dimension == "language":
                stmt = stmt.join(language, language.post_id == need.id)
            stmt = stmt.add_columns(key[dimension])
        collected: dict[str | None, list[int]] = defaultdict(list)
        for value, key_value in await self._rows(stmt):
            collected[key_value].append(int(value))
        for key_value, values in collected.items():
            target[key_value].contact_days = {
                "median": days(percentile(values, 0.5)),
                "p90": days(percentile(values, 0.9)),
            }

    # --- volunteers

    def _people(self) -> Any:
        """The approved volunteers, one row each, with whether they were active (1 or 0):
        worked out once per person, not again for each of their offers or languages (OFFSET 0
        keeps PostgreSQL from folding the subquery into the query around it)."""
        since = min(self.period.end, self.now) - timedelta(days=ACTIVE_DAYS)
        active = or_(
            User.created_at >= since,
            exists().where(WebSession.user_id == User.id, WebSession.created_at >= since),
            exists().where(ApiToken.user_id == User.id, ApiToken.last_used_at >= since),
        )
        return (
            select(User.id.label("id"), case((active, 1), else_=0).label("active"))
            .where(
                User.role == "volunteer",
                User.vetting_status == "approved",
                User.deleted_at.is_(None),
            )
            .offset(0)
            .subquery("people")
        )

    def _has_offer(self, people: Any) -> Any:
        offer = aliased(Post)
        return exists().where(
            offer.author_id == people.c.id,
            offer.kind == "offer",
            _in_scope(offer.region_id, self.region_ids),
        )

    @staticmethod
    def _counts(people: Any) -> tuple[Any, Any]:
        """Approved and active, each person once (joins repeat them)."""
        return (
            func.count(func.distinct(people.c.id)),
            func.count(func.distinct(case((people.c.active == 1, people.c.id), else_=None))),
        )

    async def _volunteers_with_languages(
        self, total: Figures, languages: dict[str | None, Figures]
    ) -> None:
        """PostgreSQL: the total and each language in one pass (GROUPING SETS over the
        volunteers and their languages; the total keeps those who gave no language)."""
        people = self._people()
        stmt = (
            select(*self._counts(people), func.grouping(UserLanguage.code), UserLanguage.code)
            .select_from(people)
            .outerjoin(UserLanguage, UserLanguage.user_id == people.c.id)
            .group_by(func.grouping_sets(literal_column("()"), UserLanguage.code))
        )
        if self.region_ids is not None:
            stmt = stmt.where(self._has_offer(people))
        for approved_count, active_count, left_out, code in await self._rows(stmt):
            if not left_out and code is None:
                continue  # volunteers without a language: in the total only
            set_volunteers(total if left_out else languages[code], approved_count, active_count)

    async def _volunteers(
        self,
        dimension: str | None,
        target: dict[str | None, Figures],
        both: dict[str | None, Figures] | None = None,
    ) -> None:
        """Approved and active volunteers by `dimension`. With `both` (PostgreSQL), categories
        go to `target` and regions to `both` from one GROUPING SETS pass over the offers."""
        people = self._people()
        counts = self._counts(people)
        # A volunteer belongs to the regions and categories of their offers.
        offer = aliased(Post)
        stmt: Any
        if dimension is None or dimension == "language":
            stmt = select(*counts).select_from(people)
            if self.region_ids is not None:
                stmt = stmt.where(self._has_offer(people))
            if dimension == "language":
                stmt = stmt.join(UserLanguage, UserLanguage.user_id == people.c.id)
                stmt = stmt.add_columns(UserLanguage.code).group_by(UserLanguage.code)
            else:
                stmt = stmt.add_columns(null())
        else:
            stmt = (
                select(*counts)
                .select_from(people)
                .join(offer, and_(offer.author_id == people.c.id, offer.kind == "offer"))
                .where(_in_scope(offer.region_id, self.region_ids))
            )
            if both is not None:
                stmt = stmt.add_columns(
                    func.grouping(offer.category), offer.category, offer.region_id
                ).group_by(func.grouping_sets(offer.category, offer.region_id))
                rows = await self._rows(stmt)
                for approved_count, active_count, left_out, category, region in rows:
                    figures = both[region] if left_out else target[category]
                    set_volunteers(figures, approved_count, active_count)
                return
            key = offer.category if dimension == "category" else offer.region_id
            stmt = stmt.add_columns(key).group_by(key)
        for approved_count, active_count, key_value in await self._rows(stmt):
            set_volunteers(target[key_value], approved_count, active_count)

    async def _rows(self, stmt: Select[Any]) -> list[Any]:
        return list((await self.session.execute(stmt)).all())


async def region_names(session: AsyncSession, ids: Iterable[str | None]) -> dict[str, Region]:
    wanted = sorted(i for i in ids if i)
    if not wanted:
        return {}
    return {r.id: r for r in await session.scalars(select(Region).where(Region.id.in_(wanted)))}
