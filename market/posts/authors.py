"""What a post shows of its author: the display name, read alone.

A whole User row brings the password hash and a second statement for the languages; a page
that prints one name needs neither. A deactivated or erased account shows no name.
The rule is written once, in SQL (`_SHOWN`), so that a listing can read the name in the same
statement as its posts (`shown_name_of`) and a single page by itself (`shown_name`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, and_, case, null, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from market.accounts.models import User
from market.posts.models import Post

# An inactive account (deactivated, erased) or one without a name shows none.
_SHOWN: ColumnElement[Any] = case(
    (and_(User.is_active, User.display_name != ""), User.display_name), else_=null()
)


def shown_name_of(author_id: ColumnElement[str] | InstrumentedAttribute[str]) -> ScalarSelect[Any]:
    """The name shown for the author `author_id` as a column of another select (a correlated
    subquery on the users' primary key): NULL when none is shown or the user is gone."""
    return select(_SHOWN).where(User.id == author_id).scalar_subquery()


async def shown_name(session: AsyncSession, post: Post) -> str | None:
    name = await session.scalar(select(_SHOWN).where(User.id == post.author_id))
    return None if name is None else str(name)
