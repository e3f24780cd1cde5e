"""Proposing the partners of a closed post to others, after the closing has committed.

A post that closes (closed by its author, expired, rejected, or every post of a deleted
account) withdraws its open matches; each partner whose proposal was withdrawn may now fit
someone else. Finding that is the matcher's work for each partner, so the request only adds an
outbox job (matches.services._on_closed) and this job does the matching in its own transaction,
in the arq worker or in-process, as every job.
"""

from __future__ import annotations

from market.matches.services import REMATCH_JOB, match_post
from market.posts.models import Post
from notifications.outbox import JobContext, claim, register_job


@register_job(REMATCH_JOB)
async def rematch_job(ctx: JobContext, outbox_id: str) -> None:
    async with claim(ctx, outbox_id) as c:
        if c is None:
            return  # done already, or running elsewhere
        for post_id in c.item.payload.get("post_ids", []):
            partner = await c.session.get(Post, post_id)
            if partner is not None:
                # match_post proposes only published posts; a partner closed meanwhile stays.
                await match_post(c.session, ctx.settings, partner)
