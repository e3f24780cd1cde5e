"""Posts and machine translation (market.translation, below posts): a post's language is
detected after each write, and the translation fill job reads posts' texts again through
`post_texts`, which market/features.py puts into market.translation.sources.POST_TEXTS."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market import events
from market.posts.models import Post
from market.translation import service
from market.translation.client import PermanentTranslatorError, make_translator
from notifications.outbox import JobContext, claim, enqueue, register_job

log = logging.getLogger(__name__)

# Jobs are not in a hurry, but a hung server must not hold a worker (arq's timeout is longer).
JOB_TIMEOUT_SECONDS = 30.0


@events.subscribe(events.POST_PUBLISHED)
async def _post_written(session: AsyncSession, post: Post, **_: Any) -> None:
    """A published post was created or edited: find out its language, later."""
    settings = service.settings_of(session)
    if settings is None or not settings.translate_url:
        return
    await enqueue(session, service.DETECT_JOB, {"post_id": post.id})


# The job keeps its name from when it lived in market.translation (rows may be pending).
@register_job(service.DETECT_JOB)
async def detect_post(ctx: JobContext, outbox_id: str) -> None:
    translator = make_translator(ctx.settings)
    async with claim(ctx, outbox_id) as c:
        if c is None:
            return
        post = await c.session.get(Post, str(c.item.payload.get("post_id", "")))
        if post is None or translator is None:
            return  # deleted since, or translation switched off: nothing to do
        try:
            async with asyncio.timeout(JOB_TIMEOUT_SECONDS):
                lang = await translator.detect(f"{post.title}\n{post.body}".strip())
        except PermanentTranslatorError as exc:
            log.warning("language detection refused for post %s: %s", post.id, exc)
            return
        if lang and lang != post.lang:
            # Not through the ORM: the post's updated_at must not move for this.
            await c.session.execute(
                update(Post)
                .where(Post.id == post.id)
                .values(lang=lang[:16], updated_at=Post.updated_at)
            )


async def post_texts(
    session: AsyncSession, post_ids: Sequence[str], target: str
) -> list[service.Item]:
    """The titles and bodies of these posts not written in `target`."""
    posts = await session.scalars(select(Post).where(Post.id.in_(list(post_ids))))
    return [i for p in posts if p.lang != target for i in service.post_items(p)]
