"""Background work: detect a post's language after each write, fill the cache for texts that a
page could not get translated within its budget. Both run through the outbox (never inline)."""

from __future__ import annotations

import asyncio
import logging
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


@register_job(service.FILL_JOB)
async def fill(ctx: JobContext, outbox_id: str) -> None:
    """Translate what a page showed untranslated, into the cache (texts read again here, so
    the outbox holds ids rather than people's words)."""
    translator = make_translator(ctx.settings)
    async with claim(ctx, outbox_id) as c:
        if c is None:
            return
        payload = c.item.payload
        target = str(payload.get("target", ""))
        if translator is None or not target:
            return
        post_ids = [str(i) for i in payload.get("posts", [])]
        message_ids = [str(i) for i in payload.get("messages", [])]
        items: list[service.Item] = []
        if post_ids:
            posts = await c.session.scalars(select(Post).where(Post.id.in_(post_ids)))
            items += [i for p in posts if p.lang != target for i in service.post_items(p)]
        if message_ids:
            from market.conversations.models import Message  # a feature listed after this one

            found = await c.session.scalars(select(Message).where(Message.id.in_(message_ids)))
            items += [i for m in found for i in service.message_items(m)]
        cached = await service.cached_rows(c.session, {i.text for i in items}, target)
        missing = [i for i in items if i.text not in cached]
        if not missing:
            return
        try:
            async with asyncio.timeout(JOB_TIMEOUT_SECONDS):
                fetched = await service.fetch(translator, missing, target)
        except PermanentTranslatorError as exc:
            log.warning("translation into %s refused: %s", target, exc)
            return
        await service.store(c.session, fetched, target)
