"""Renewing a post: the signed link in the reminder mail, and another full lifetime.

Here, beside the posts, rather than in market.maintenance (which sends the reminders): the
posts' pages and API renew, and a feature never imports the periodic rules above it.
"""

from __future__ import annotations

from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.ext.asyncio import AsyncSession

from market.db import lock_row, utcnow
from market.errors import Conflict
from market.posts import services as posts
from market.posts.models import Post
from market.settings import Settings

# A renew link is good for this long: the reminder goes out seven days before the expiry,
# and an expired post may still be renewed a while after it.
LINK_MAX_AGE_SECONDS = 30 * 24 * 3600


def _signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt="anlauf-renew-post")


def renew_token(settings: Settings, post: Post) -> str:
    return _signer(settings).dumps({"post": post.id})


def post_from_token(settings: Settings, token: str) -> str | None:
    """The post id in a renew link, if the link is genuine and not older than 30 days."""
    try:
        data = _signer(settings).loads(token, max_age=LINK_MAX_AGE_SECONDS)
    except (BadSignature, SignatureExpired):
        return None
    return str(data.get("post")) if isinstance(data, dict) else None


async def renew(session: AsyncSession, settings: Settings, post: Post) -> Post:
    """Another full lifetime from now; a post that expired already is published again."""
    # A renew link clicked twice, or a renewal racing the expiry run: one after the other.
    await lock_row(session, Post, post.id)
    if post.status == "expired":
        post.reminder_sent_at = None
        await posts.publish(session, settings, post)
        return post
    if post.status != "published":
        raise Conflict("Only published or expired posts can be renewed.")
    post.expires_at = utcnow() + timedelta(days=settings.post_lifetime_days)
    post.reminder_sent_at = None
    await session.flush()
    return post
