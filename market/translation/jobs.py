"""Background work: fill the cache for texts that a page could not get translated within its
budget (through the outbox, never inline). A post's language is detected by the posts feature
(market.posts.translated), with this feature's client."""

from __future__ import annotations

import asyncio
import logging

from market.translation import service, sources
from market.translation.client import PermanentTranslatorError, make_translator
from notifications.outbox import JobContext, claim, register_job

log = logging.getLogger(__name__)

# Jobs are not in a hurry, but a hung server must not hold a worker (arq's timeout is longer).
JOB_TIMEOUT_SECONDS = 30.0


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
            items += await sources.POST_TEXTS()(c.session, post_ids, target)
        if message_ids:
            items += await sources.MESSAGE_TEXTS()(c.session, message_ids, target)
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
