"""Everything stored about a person, for the right of access (GDPR Art. 15)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import services
from market.accounts.models import User
from market.posts import services as posts
from market.posts.models import Post

# Features that store personal data add a section here (matches, messages, notifications).
SECTIONS: dict[str, Callable[[AsyncSession, User], Awaitable[Any]]] = {}


async def export_user(session: AsyncSession, user: User) -> dict[str, Any]:
    org = await services.organisation_of(session, user.id)
    own_posts = list(
        (await session.execute(select(Post).where(Post.author_id == user.id))).scalars()
    )
    result: dict[str, Any] = {
        "profile": services.me(user, org)
        | {
            "created_at": user.created_at.isoformat(),
            "police_certificate_until": user.police_certificate_until.isoformat()
            if user.police_certificate_until
            else None,
        },
        "posts": await posts.to_json_many(session, own_posts, user),
        "matches": [],
        "messages": [],
        "notifications": [],
    }
    for name, section in SECTIONS.items():
        result[name] = await section(session, user)
    return result
