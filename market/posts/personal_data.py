"""The posts' part of a person's export (market.accounts.export) and of erasing them
(market.accounts.erasure); both listed in market/features.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.erasure import Eraser, Person, ids
from market.accounts.models import User
from market.posts import services
from market.posts.models import Post


async def posts(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    stmt = select(Post).where(Post.author_id == user.id).order_by(Post.created_at, Post.id)
    return await services.to_json_many(session, list(await session.scalars(stmt)), user)


# Post columns that hold the place or what the author wrote; public_* come with the places work.
POST_FIELDS: dict[str, Any] = {
    "title": "",
    "body": "",
    "search_text": "",
    "search_translations": None,
    "lat": None,
    "lon": None,
    "public_lat": None,
    "public_lon": None,
    "cell_lat": None,
    "cell_lon": None,
    "city": None,
    "postcode": None,
    "rejection_reason": None,
    "availability": [],
}


class PostsEraser(Eraser):
    """A deleted person's posts are closed (matches withdrawn, applicants told), then blanked."""

    async def close(self, session: AsyncSession, person: Person) -> None:
        await services.close_all_of_author(session, person.id)

    async def erase(self, session: AsyncSession, person: Person) -> None:
        values = {k: v for k, v in POST_FIELDS.items() if hasattr(Post, k)}
        await session.execute(update(Post).where(Post.author_id == person.id).values(**values))

    async def related(self, session: AsyncSession, person: Person) -> set[str]:
        return await ids(session, select(Post.id).where(Post.author_id == person.id))


ERASER = PostsEraser()
