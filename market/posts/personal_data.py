"""The posts' part of a person's export (market.accounts.export; listed in market/features.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.posts import services
from market.posts.models import Post


async def posts(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    stmt = select(Post).where(Post.author_id == user.id).order_by(Post.created_at, Post.id)
    return await services.to_json_many(session, list(await session.scalars(stmt)), user)
