"""What a notification says, in the reader's language, and where it leads.

Notifications store ids and a few names (`data`); the words are made when they are shown, so
they come in the language of whoever reads them, and a post's current title is used. One call
describes a whole page of notifications with a handful of queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.i18n import N_, gettext, ngettext, use_locale
from market.matches.models import Match
from market.posts.models import Post
from notifications.models import Notification

# Kinds the app writes, with a word for each in lists and settings (gettext ids).
KIND_LABELS: dict[str, str] = {
    "match.proposed": N_("New match suggestions"),
    "match.connected": N_("Both of you said yes to a match"),
    "match.reminder": N_("Reminders to answer a match"),
    "match.stalled": N_("Matches waiting for an answer (coordinators)"),
    "match.expired": N_("Match suggestions that ended without an answer"),
    "match.paused": N_("New suggestions paused"),
    "match.outcome": N_("Did you meet? (a week after a match)"),
    "match.reopened": N_("A match was given up and the request goes to someone else"),
    "message.new": N_("New messages"),
    "application.received": N_("Applications for your postings"),
    "application.accepted": N_("Your application was accepted"),
    "application.declined": N_("Your application was declined"),
    "vetting.approved": N_("You were approved as a volunteer"),
    "vetting.rejected": N_("Your vetting was not approved"),
    "service.suggested": N_("Services suggested to you"),
    "account.security": N_("Account and security (email address, password)"),
}


@dataclass(frozen=True)
class Described:
    text: str
    url: str  # a path of the web app; mails put ANLAUF_BASE_URL in front


def _title(value: Any) -> str:
    return str(value or "").strip()


async def describe(
    session: AsyncSession, reader: User | None, notes: Sequence[Notification], locale: str
) -> dict[str, Described]:
    """Text and link of each notification (by id), in `locale`."""
    match_ids = {str(n.data.get("match_id")) for n in notes if n.data.get("match_id")}
    matches: dict[str, Match] = {}
    posts: dict[str, Post] = {}
    if match_ids:
        matches = {
            m.id: m for m in await session.scalars(select(Match).where(Match.id.in_(match_ids)))
        }
        post_ids = {m.offer_id for m in matches.values()} | {m.need_id for m in matches.values()}
        if post_ids:
            posts = {
                p.id: p for p in await session.scalars(select(Post).where(Post.id.in_(post_ids)))
            }
    author_ids = {str(n.data.get("author_id")) for n in notes if n.data.get("author_id")}
    authors: dict[str, User] = {}
    if author_ids:
        authors = {
            u.id: u for u in await session.scalars(select(User).where(User.id.in_(author_ids)))
        }
    result: dict[str, Described] = {}
    with use_locale(locale):
        for note in notes:
            result[note.id] = _describe(note, reader, matches, posts, authors)
    return result


def _match_title(
    note: Notification, reader: User | None, matches: dict[str, Match], posts: dict[str, Post]
) -> str:
    """The title of the reader's own post in the match (the offer for its volunteer)."""
    match = matches.get(str(note.data.get("match_id")))
    if match is None:
        return ""
    own = (
        match.offer_id if reader is not None and reader.id == match.volunteer_id else match.need_id
    )
    post = posts.get(own)
    return _title(post.title) if post is not None else ""


def _author_name(note: Notification, authors: dict[str, User]) -> str:
    author = authors.get(str(note.data.get("author_id")))
    if author is not None and author.deleted_at is None and author.display_name:
        return author.display_name
    return gettext("a deleted account")


def _describe(
    note: Notification,
    reader: User | None,
    matches: dict[str, Match],
    posts: dict[str, Post],
    authors: dict[str, User],
) -> Described:
    data = note.data or {}
    kind = note.kind
    match_id = data.get("match_id")
    conversation_id = data.get("conversation_id")
    if kind in ("match.proposed", "match.connected"):
        title = _match_title(note, reader, matches, posts)
        url = f"/matches/{match_id}" if match_id else "/my/matches"
        if kind == "match.proposed":
            text = (
                gettext("A new match for your post “%(title)s”", title=title)
                if title
                else gettext("We found a new match for you.")
            )
        else:
            text = (
                gettext(
                    "You both said yes: the match for your post “%(title)s” is connected. "
                    "You can now write to each other.",
                    title=title,
                )
                if title
                else gettext("You both said yes. You can now write to each other.")
            )
        return Described(text, url)
    if kind in ("match.reminder", "match.expired"):
        # Follow-through (market.matches.followthrough).
        title = _match_title(note, reader, matches, posts)
        url = f"/matches/{match_id}" if match_id else "/my/matches"
        if kind == "match.reminder":
            text = gettext(
                "A match suggestion for your post “%(title)s” is waiting for your answer.",
                title=title,
            )
        else:
            text = gettext(
                "The match suggestion for your post “%(title)s” ended without an answer. "
                "We are looking for someone else.",
                title=title,
            )
        return Described(text, url)
    if kind == "match.outcome":  # market.matches.followthrough: answered on the page
        title = _match_title(note, reader, matches, posts)
        return Described(
            gettext(
                "Did you meet? Tell us about the match for your post “%(title)s”.", title=title
            ),
            f"/matches/{match_id}#met" if match_id else "/notifications",
        )
    if kind == "match.reopened":  # market.matches.services.reopen: told to the volunteer
        title = _match_title(note, reader, matches, posts)
        return Described(
            gettext(
                "The match for your offer “%(title)s” did not work out and was closed. "
                "Your offer stays published.",
                title=title,
            ),
            f"/matches/{match_id}" if match_id else "/my/matches",
        )
    if kind == "match.stalled":
        return Described(
            gettext("A match in your region has been waiting 5 days for an answer."),
            "/review/waiting",
        )
    if kind == "match.paused":
        return Described(
            gettext(
                "Two suggestions ended without your answer, so we paused new ones. "
                "Tell us when you are available again."
            ),
            "/me/available",
        )
    if kind == "message.new":
        count = int(data.get("count") or 1)
        name = _author_name(note, authors)
        text = ngettext(
            "New message from %(name)s", "%(num)d new messages from %(name)s", count, name=name
        )
        if match_id:
            url = f"/matches/{match_id}#messages"
        elif conversation_id:
            url = f"/conversations/{conversation_id}"
        else:
            url = "/conversations"
        return Described(text, url)
    if kind == "vetting.approved":
        return Described(
            gettext(
                "You are approved as a volunteer. Your offers are published and can be matched."
            ),
            "/my/posts",
        )
    if kind == "vetting.rejected":
        if data.get("revoked"):
            text = gettext(
                "Your approval as a volunteer was withdrawn. Your offers are not shown for now."
            )
        else:
            text = gettext(
                "Your vetting as a volunteer was not approved. Please contact the coordinators "
                "if you have questions."
            )
        return Described(text, "/account")
    title = _title(data.get("post_title"))
    if kind == "post.rejected":  # market.moderation: the reason is on the post's page
        return Described(
            gettext("Your post “%(title)s” is not shown. Please change it.", title=title),
            f"/posts/{data.get('post_id')}" if data.get("post_id") else "/my/posts",
        )
    if kind == "need.confirm":  # market.retention: the link carries the one-time token
        return Described(
            gettext("Is your request “%(title)s” still needed? Please confirm it.", title=title),
            str(data.get("path") or "/my/posts"),
        )
    if kind == "need.closed":
        return Described(
            gettext(
                "Your request “%(title)s” was closed because nobody confirmed it.", title=title
            ),
            f"/posts/{data.get('post_id')}" if data.get("post_id") else "/my/posts",
        )
    if kind == "application.received":
        name = _title(data.get("volunteer_name")) or gettext("A volunteer")
        post_id = data.get("post_id")
        url = f"/posts/{post_id}/applications" if post_id else "/notifications"
        return Described(
            gettext("%(name)s applied for your posting “%(title)s”", name=name, title=title), url
        )
    if kind == "application.accepted":
        url = f"/conversations/{conversation_id}" if conversation_id else "/my/applications"
        return Described(
            gettext("Your application for “%(title)s” was accepted.", title=title), url
        )
    if kind == "application.declined":
        return Described(
            gettext("Your application for “%(title)s” was declined.", title=title),
            "/my/applications",
        )
    if kind == "service.suggested":  # market.directory: a service suggested to the person
        return Described(
            gettext(
                "Someone suggests a place that can help you: %(name)s",
                name=_title(data.get("service_name")),
            ),
            f"/services/{data.get('service_id')}" if data.get("service_id") else "/my/suggestions",
        )
    return Described(gettext("You have a new notification."), "/notifications")
