"""Telling an author their post was rejected or taken down, and why, in their language.

Runs inside the coordinator's transaction (market.events), like every notification: the
notification, the outbox row of the mail and the decision commit or roll back together.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market import events
from market.accounts.models import User
from market.i18n import use_locale
from market.posts.models import Post
from market.settings import Settings
from market.vetting.reasons import reason_text
from notifications.tell import tell

KIND = "post.rejected"


def _settings(session: AsyncSession) -> Settings:
    found = session.info.get("settings")
    return found if isinstance(found, Settings) else Settings()


@events.subscribe(events.POST_CLOSED)
async def _on_rejected(session: AsyncSession, post: Post, **_: Any) -> None:
    if post.status != "rejected":
        return
    author = await session.get(User, post.author_id)
    if author is None:
        return
    settings = _settings(session)
    with use_locale(author.locale):
        why = reason_text(post.rejection_reason) or ""
    # In the app the words are made when the notification is shown, in the reader's language.
    await tell(
        session,
        settings,
        author,
        kind=KIND,
        data={"post_id": post.id, "post_title": post.title},
        template="post_rejected",
        context={
            "title": post.title,
            "reason": why,
            "link": f"{settings.base_url.rstrip('/')}/posts/{post.id}/edit",
        },
    )
