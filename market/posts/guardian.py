"""Who may see, write and change offers and needs: the one place that decides it.

Pages and the JSON API both ask here; neither writes a rule of its own (see
tests/market/test_guardian_rule.py). A published post is public. Anything else (pending,
rejected, closed, expired) is seen by its author and by the coordinators who work its region
(API.md, "Coordinators' regions"), and a closed post also by its matched partners; to everyone
else it does not exist (404).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.actor import Actor
from market.errors import Forbidden, NotFound
from market.posts import queries
from market.posts.models import Post

# What each role may post (API.md, Posts): volunteers offer, seekers and organisations ask.
KINDS_BY_ROLE: dict[str, tuple[str, ...]] = {
    "volunteer": ("offer",),
    "seeker": ("need",),
    "organisation": ("need",),
    "coordinator": ("offer", "need"),
    "admin": ("offer", "need"),
}

# Features above posts register here who else may still read a closed post: the matches
# feature says "its matched partners" (market.matches.services). Each check is
# (session, user_id, post_id) -> bool.
PartnerCheck = Callable[[AsyncSession, str, str], Awaitable[bool]]
PARTNER_CHECKS: list[PartnerCheck] = []


def _as_actor(viewer: Actor | User | None) -> Actor:
    # A bare User comes only from code without a request (serialising for an export, say);
    # its regions are unknown here, so it is judged as staff of every region would be.
    return viewer if isinstance(viewer, Actor) else Actor(user=viewer)


class Placed(Protocol):
    """What the exact-place rule reads of a post: a Post, or a card (market.posts.cards)."""

    @property
    def author_id(self) -> str: ...
    @property
    def region_id(self) -> str | None: ...


def can_see_exact(viewer: Actor | User | None, post: Placed) -> bool:
    """The exact place, the postcode and the rejection reason: the author and the coordinators
    who work the post's region. Everyone else sees the coarse public point."""
    actor = _as_actor(viewer)
    if actor.user is None:
        return False
    return actor.id == post.author_id or actor.works(post.region_id)


def may_read(actor: Actor, post: Post) -> bool:
    """Whether the post is visible without asking the matches feature (see `readable`)."""
    return post.status == "published" or can_see_exact(actor, post)


async def readable(session: AsyncSession, actor: Actor, post_id: str) -> Post:
    """The post if this actor may see it; NotFound otherwise: absent and invisible look alike."""
    post = await queries.get(session, post_id)
    if post is None:
        raise NotFound("There is no such post.")
    if may_read(actor, post):
        return post
    if post.status == "closed" and actor.id is not None:
        for check in PARTNER_CHECKS:
            if await check(session, actor.id, post.id):
                return post
    raise NotFound("There is no such post.")


def may_change(actor: Actor, post: Post) -> bool:
    """Editing, closing and renewing: the author alone (coordinators review instead)."""
    return actor.id is not None and actor.id == post.author_id


async def changeable(session: AsyncSession, actor: Actor, post_id: str) -> Post:
    """The post to edit: 404 when invisible, 403 when visible but someone else's."""
    post = await readable(session, actor, post_id)
    if not may_change(actor, post):
        raise Forbidden("Only the author can change this post.")
    return post


def kinds_for(actor: Actor) -> tuple[str, ...]:
    """The kinds of post this actor may write (none for anonymous visitors)."""
    return KINDS_BY_ROLE.get(actor.role or "", ())


def may_write(actor: Actor, kind: str) -> bool:
    return kind in kinds_for(actor)


def may_have_seats(actor: Actor) -> bool:
    """Postings with seats (mentor programmes) come from organisations and staff."""
    return actor.role in ("organisation", "coordinator", "admin")


def own(actor: Actor, stmt: Select[Post]) -> Select[Post]:
    """The actor's own posts, in any status (nothing for anonymous visitors)."""
    return stmt.where(Post.author_id == (actor.id or ""))


def under_review(actor: Actor, stmt: Select[Post]) -> Select[Post]:
    """Narrow a select of posts to those a reviewer may decide: staff only, and a coordinator
    with regions only the posts located in them."""
    if not actor.is_staff:
        return stmt.where(Post.id.is_(None))
    if actor.region_ids:
        return stmt.where(Post.region_id.in_(sorted(actor.region_ids)))
    return stmt


async def reviewable(session: AsyncSession, actor: Actor, post_id: str) -> Post:
    """A post to publish or reject: NotFound unless the actor works its region."""
    post = await queries.get(session, post_id)
    if post is None or not actor.works(post.region_id):
        raise NotFound("There is no such post.")
    return post
