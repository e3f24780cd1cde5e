"""What a post shows of its author: the display name, read alone.

A whole User row brings the password hash and a second statement for the languages; a page
that prints one name needs neither. A deactivated or erased account shows no name.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.posts.models import Post


async def shown_name(session: AsyncSession, post: Post) -> str | None:
    row = (
        await session.execute(
            select(User.display_name, User.is_active).where(User.id == post.author_id)
        )
    ).first()
    if row is None or not row.is_active or not row.display_name:
        return None
    return str(row.display_name)
