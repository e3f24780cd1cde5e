"""Offer and need use cases: create, edit, close, publish, and what each viewer may see."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NamedTuple, Protocol, cast

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from market import events
from market.accounts.models import User
from market.actor import Actor, actor_for
from market.db import lock_row, utcnow
from market.errors import Conflict, FieldError, Forbidden, Invalid
from market.posts import cards, geo, guardian, queries, search
from market.posts.authors import shown_name_of
from market.posts.models import Post, PostLanguage, PostMode, PostStatus
from market.posts.organisations import ORGANISATIONS, Organisation
from market.posts.schemas import LocationIn, PostIn, PostPatch
from market.settings import Settings
from market.text import plain_text
from market.translation import service as translation

OFFER_RADIUS_DEFAULT = 10.0


def clean_text(text: str) -> str:
    """Users write plain text; strip any markup so nothing can run in another person's page."""
    return plain_text(text)


def _checked_title(title: str) -> str:
    """The title without markup; what is left must still say something."""
    cleaned = clean_text(title).strip()
    if len(cleaned) < 3:
        raise Invalid.one("title", "This is too short.")
    return cleaned


async def _apply_location(session: AsyncSession, post: Post, location: LocationIn | None) -> None:
    if location is None:
        post.lat = post.lon = None
        post.public_lat = post.public_lon = None
        post.cell_lat = post.cell_lon = None
        post.city = post.postcode = post.country = None
        post.region_id = None
        return
    try:
        place = await geo.resolve(
            session,
            lat=location.lat,
            lon=location.lon,
            postcode=location.postcode,
            city=location.city,
            country=location.country,
        )
    except geo.GeoError as exc:
        raise Invalid.one(exc.field, exc.message) from exc
    post.lat, post.lon = place.lat, place.lon
    # Fixed here, once per place, never per request (models._fix_public_point keeps it so).
    post.public_lat, post.public_lon = geo.coarsen(place.lat, place.lon)
    post.cell_lat, post.cell_lon = geo.cell_of(place.lat, place.lon)
    post.city, post.postcode, post.country = place.city, place.postcode, place.country
    region = await geo.region_for(session, place.lat, place.lon)
    post.region_id = region.id if region else None


def _set_languages(post: Post, codes: list[str]) -> None:
    post.languages = [PostLanguage(code=c, position=i) for i, c in enumerate(codes)]


def _search_text(post: Post) -> str:
    # Folded words (accents, case, Arabic/Persian letter variants), as search folds queries.
    return search.stored_text(post.title, post.body, post.city)


async def organisation_of(session: AsyncSession, post: Post) -> Organisation | None:
    """The organisation the post was made for, if any."""
    if not post.organisation_id:
        return None
    return await ORGANISATIONS().get(session, post.organisation_id)


async def _organisation_for(
    session: AsyncSession, user: User, organisation_id: str | None
) -> Organisation | None:
    if user.role != "organisation":
        if organisation_id and user.role not in ("coordinator", "admin"):
            raise Forbidden("Only members of an organisation can post for it.")
        return await ORGANISATIONS().get(session, organisation_id) if organisation_id else None
    org = await ORGANISATIONS().of_member(session, user.id, organisation_id)
    if org is None:
        raise Invalid.one("organisation_id", "You are not a member of this organisation.")
    return org


def _initial_status(user: User, org: Organisation | None) -> str:
    if user.role == "volunteer":
        return "published" if user.vetting_status == "approved" else "pending_review"
    if user.role == "organisation":
        return "published" if org is not None and org.status == "approved" else "pending_review"
    return "published"  # seekers' needs go out at once; coordinators are trusted


def _check_role(user: User, kind: str) -> None:
    allowed = {
        "volunteer": {"offer"},
        "seeker": {"need"},
        "organisation": {"need"},
        "coordinator": {"offer", "need"},
        "admin": {"offer", "need"},
    }[user.role]
    if kind not in allowed:
        raise Forbidden("Volunteers post offers; seekers and organisations post needs.")


async def create(session: AsyncSession, settings: Settings, user: User, data: PostIn) -> Post:
    _check_role(user, data.kind)
    if data.location is None and data.mode != "remote":
        raise Invalid.one("location", "Please say where: a postcode or a city.")
    if data.seats is not None and data.kind != "need":
        raise Invalid.one("seats", "Only needs can have seats.")
    title = _checked_title(data.title)
    org = await _organisation_for(session, user, data.organisation_id)
    radius = data.radius_km
    if radius is None and data.kind == "offer":
        radius = OFFER_RADIUS_DEFAULT
    post = Post(
        kind=data.kind,
        category=data.category,
        title=title,
        body=clean_text(data.body),
        mode=data.mode,
        radius_km=radius,
        author_id=user.id,
        organisation_id=org.id if org else None,
        seats=data.seats,
        status=_initial_status(user, org),
        availability=[slot.model_dump() for slot in data.availability],
    )
    _set_languages(post, data.languages)
    await _apply_location(session, post, data.location)
    post.search_text = _search_text(post)
    session.add(post)
    await session.flush()
    if post.status == "published":
        await publish(session, settings, post)
    return post


async def publish(session: AsyncSession, settings: Settings, post: Post) -> None:
    now = utcnow()
    post.status = PostStatus.PUBLISHED
    post.published_at = post.published_at or now
    post.expires_at = now + timedelta(days=settings.post_lifetime_days)
    post.rejection_reason = None
    await session.flush()
    await events.emit(session, events.POST_PUBLISHED, post=post)


async def update(
    session: AsyncSession, settings: Settings, user: User, post: Post, patch: PostPatch
) -> Post:
    if post.author_id != user.id:
        raise Forbidden("Only the author can change this post.")
    if post.status not in ("pending_review", "published"):
        raise Conflict("This post is closed and cannot be changed.")
    fields = patch.model_fields_set
    if "category" in fields and patch.category is not None:
        post.category = patch.category
    if "title" in fields and patch.title is not None:
        post.title = _checked_title(patch.title)
    if "body" in fields and patch.body is not None:
        post.body = clean_text(patch.body)
    if "languages" in fields and patch.languages is not None:
        _set_languages(post, patch.languages)
    if "availability" in fields and patch.availability is not None:
        post.availability = [slot.model_dump() for slot in patch.availability]
    if "mode" in fields and patch.mode is not None:
        post.mode = PostMode(patch.mode)
    if "radius_km" in fields:
        if patch.radius_km is None and post.kind == "offer":
            raise Invalid.one("radius_km", "An offer needs a radius.")
        post.radius_km = patch.radius_km
    if "seats" in fields:
        if post.kind != "need" and patch.seats is not None:
            raise Invalid.one("seats", "Only needs can have seats.")
        post.seats = patch.seats
    if "location" in fields:
        await _apply_location(session, post, patch.location)
    if post.lat is None and post.mode != "remote":
        raise Invalid.one("location", "Please say where: a postcode or a city.")
    post.search_text = _search_text(post)
    post.updated_at = utcnow()
    await session.flush()
    if post.status == "published":
        await events.emit(session, events.POST_PUBLISHED, post=post)
    return post


async def resubmit(session: AsyncSession, user: User, post: Post) -> Post:
    """The author changes a rejected post: it waits for a coordinator again (pending_review).

    Called before the changes are saved, so `update`'s rules apply to them as to any edit.
    """
    if post.author_id != user.id:
        raise Forbidden("Only the author can change this post.")
    await lock_row(session, Post, post.id)
    if post.status == "rejected":
        post.status = PostStatus.PENDING_REVIEW
        post.rejection_reason = None
        post.closed_at = None
        await session.flush()
    return post


async def close(session: AsyncSession, user: User, post: Post) -> Post:
    if post.author_id != user.id:
        raise Forbidden("Only the author can close this post.")
    # Closing races with a coordinator's review or an accepted application: decide on the
    # state as it is once the row is ours.
    await lock_row(session, Post, post.id)
    if post.status not in ("pending_review", "published"):
        raise Conflict("This post is closed already.")
    await _end(session, post, "closed")
    return post


async def _end(session: AsyncSession, post: Post, status: str) -> None:
    post.status = PostStatus(status)
    post.closed_at = utcnow()
    await session.flush()
    await events.emit(session, events.POST_CLOSED, post=post)


async def end(session: AsyncSession, post: Post, status: str) -> None:
    """Close, expire, reject or unpublish a post, withdrawing whatever depends on it."""
    await _end(session, post, status)


async def close_all_of_author(session: AsyncSession, author_id: str) -> None:
    for post in (await session.execute(queries.open_of_author(author_id))).scalars():
        await _end(session, post, "closed")


async def publish_waiting_offers(session: AsyncSession, settings: Settings, user_id: str) -> int:
    """Approving a volunteer publishes the offers that waited for it (not rejected ones)."""
    stmt = select(Post).where(
        Post.author_id == user_id,
        Post.status == "pending_review",
        Post.kind == "offer",
        Post.rejection_reason.is_(None),
    )
    posts = list((await session.execute(stmt)).scalars())
    for post in posts:
        await publish(session, settings, post)
    return len(posts)


# --- Visibility


# The rules live in market.posts.guardian; these names stay for callers that hold a User
# rather than an Actor (their regions are loaded here).
can_see_exact = guardian.can_see_exact
PARTNER_CHECKS = guardian.PARTNER_CHECKS


async def visible(session: AsyncSession, viewer: Actor | User | None, post_id: str) -> Post:
    """The post if this viewer may see it; 404 otherwise, never revealing that it exists."""
    return await guardian.readable(session, await actor_for(session, viewer), post_id)


async def authored(session: AsyncSession, user: Actor | User, post_id: str) -> Post:
    """The post to change: 404 when invisible, 403 when someone else's."""
    return await guardian.changeable(session, await actor_for(session, user), post_id)


# --- Serialisation


class PostFields(Protocol):
    """What a post's JSON reads of it: a Post, or a row of `listing` (same names)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def radius_km(self) -> float | None: ...
    @property
    def status(self) -> str: ...
    @property
    def lat(self) -> float | None: ...
    @property
    def lon(self) -> float | None: ...
    @property
    def public_lat(self) -> float | None: ...
    @property
    def public_lon(self) -> float | None: ...
    @property
    def city(self) -> str | None: ...
    @property
    def postcode(self) -> str | None: ...
    @property
    def author_id(self) -> str: ...
    @property
    def organisation_id(self) -> str | None: ...
    @property
    def region_id(self) -> str | None: ...
    @property
    def seats(self) -> int | None: ...
    @property
    def availability(self) -> list[dict[str, Any]] | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def rejection_reason(self) -> str | None: ...
    @property
    def lang(self) -> str | None: ...


def public_point(post: PostFields) -> tuple[float, float]:
    """Where the public sees, searches and measures the post (the stored coarse point).

    Only for posts with a place. Computed from the exact point only if the row was written
    without the model's hooks (a bulk load); the result is the same cell centre either way.
    """
    if post.public_lat is not None and post.public_lon is not None:
        return post.public_lat, post.public_lon
    assert post.lat is not None and post.lon is not None
    return geo.coarsen(post.lat, post.lon)


def to_json(
    post: Post,
    viewer: Actor | User | None,
    author: User | None,
    organisation: Organisation | None,
    translation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return _json(
        post,
        post.language_codes,
        author.display_name if author and author.is_active else None,
        can_see_exact(viewer, post),
        organisation,
        translation,
    )


def _json(
    post: PostFields,
    language_codes: list[str],
    author_name: str | None,
    exact: bool,
    organisation: Organisation | None,
    translation: dict[str, Any] | None,
) -> dict[str, Any]:
    """The one shape of a post object (API.md), whatever the post was read as."""
    location: dict[str, Any] | None = None
    if post.lat is not None and post.lon is not None:
        lat, lon = (post.lat, post.lon) if exact else public_point(post)
        location = {
            "lat": round(lat, 6),
            "lon": round(lon, 6),
            "city": post.city,
            "postcode": post.postcode if exact else None,
            "approximate": not exact,
        }
    return {
        "id": post.id,
        "kind": post.kind,
        "category": post.category,
        "title": post.title,
        "body": post.body,
        "languages": language_codes,
        "mode": post.mode,
        "radius_km": post.radius_km,
        "status": post.status,
        "location": location,
        "author": {"id": post.author_id, "display_name": author_name},
        "organisation": {"id": organisation.id, "name": organisation.name}
        if organisation
        else None,
        "seats": post.seats,
        "availability": post.availability or [],
        "created_at": post.created_at.isoformat(),
        "expires_at": post.expires_at.isoformat() if post.expires_at else None,
        "rejection_reason": post.rejection_reason if exact else None,
        # {"lang", "title", "body"} in the reader's language, machine-translated (API.md R2).
        "translation": translation,
    }


async def to_json_many(
    session: AsyncSession, posts: list[Post], viewer: Actor | User | None
) -> list[dict[str, Any]]:
    """Serialise a page of posts with two batched loads instead of two per post."""
    viewer = await actor_for(session, viewer)  # who sees the exact place depends on regions
    author_ids = {p.author_id for p in posts}
    org_ids = {p.organisation_id for p in posts if p.organisation_id}
    # Only what a post object shows of its author: whole User rows brought their password
    # hashes and one more statement for their languages, for a name.
    authors: dict[str, Any] = (
        {
            row.id: row
            for row in await session.execute(
                select(User.id, User.display_name, User.is_active).where(User.id.in_(author_ids))
            )
        }
        if author_ids
        else {}
    )
    orgs = await ORGANISATIONS().many(session, org_ids)
    translations = await translation.for_posts(session, posts, reader_id=viewer.id)
    return [
        to_json(
            p,
            viewer,
            authors.get(p.author_id),
            orgs.get(p.organisation_id or ""),
            translations.get(p.id),
        )
        for p in posts
    ]


# --- A listing read as rows: what the JSON shows, in one statement


class Listed(NamedTuple):
    """A post as `listing` reads it: the columns its JSON, the exact-place rule and translation
    read (a PostFields), its language codes as the database aggregated them, and its author's
    shown name. A named tuple: its attributes cost a tenth of a Row's, and a page reads ~30 of
    each of its posts."""

    id: str
    kind: str
    category: str
    title: str
    body: str
    mode: str
    radius_km: float | None
    status: str
    lat: float | None
    lon: float | None
    public_lat: float | None
    public_lon: float | None
    city: str | None
    postcode: str | None
    author_id: str
    organisation_id: str | None
    region_id: str | None
    seats: int | None
    availability: list[dict[str, Any]] | None
    created_at: datetime
    expires_at: datetime | None
    rejection_reason: str | None
    lang: str | None
    language_codes: list[str] | str | None  # an array (PostgreSQL) or "a,b" (SQLite)
    author_name: str | None


# The table's own columns, in Listed's order: with_only_columns takes them as they are, where
# the mapped attributes would be coerced anew on each request.
_LISTED = tuple(Post.__table__.c[name] for name in Listed._fields[:-2])


@cache
def _listed_columns(dialect: str) -> tuple[ColumnElement[Any], ...]:
    # Built once per dialect: the subqueries are immutable and cost more to build than to run.
    return (
        *_LISTED,
        cards.language_codes(dialect).label("language_codes"),
        shown_name_of(Post.author_id).label("author_name"),
    )


def listing(stmt: Select[Any], dialect: str) -> Select[*tuple[Any, ...]]:
    """A select of posts (its WHERE, who may see what, untouched) reading only what the posts'
    JSON shows: their columns, languages and author's shown name in one round trip, instead of
    Post objects, a second statement for their languages and a third for their authors."""
    return stmt.with_only_columns(*_listed_columns(dialect))


def listed(rows: Iterable[Sequence[Any]]) -> list[Listed]:
    """The rows of a `listing` select as Listed posts."""
    return [Listed._make(row) for row in rows]


async def listing_json(
    session: AsyncSession, posts: Sequence[Listed], viewer: Actor | User | None
) -> list[dict[str, Any]]:
    """The JSON of posts read by `listing`: the same objects `to_json_many` makes of Posts."""
    viewer = await actor_for(session, viewer)
    org_ids = {p.organisation_id for p in posts if p.organisation_id}
    orgs = await ORGANISATIONS().many(session, org_ids)
    translations = await translation.for_posts(session, posts, reader_id=viewer.id)
    return [
        _json(
            post,
            cards.codes(post.language_codes),
            post.author_name,
            # The guardian's rule reads a post's author_id and region_id, which Listed has.
            can_see_exact(viewer, cast(Post, post)),
            orgs.get(post.organisation_id or ""),
            translations.get(post.id),
        )
        for post in posts
    ]


def field_errors(exc: Invalid) -> dict[str, str]:
    return {e.field: e.message for e in exc.errors}


__all__ = ["FieldError"]
