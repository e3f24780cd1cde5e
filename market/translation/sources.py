"""Where the fill job reads texts again: the features whose texts are translated put their
readers in here at start (market/features.py `provides=`), since translation sits below them.

The outbox holds ids, never people's words; each reader turns ids into the texts still to
translate into `target` (a post already in that language has none).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from market.hooks import Slot
from market.translation.service import Item

TextsOf = Callable[[AsyncSession, Sequence[str], str], Awaitable[list[Item]]]

POST_TEXTS: Slot[TextsOf] = Slot("market.translation.sources:POST_TEXTS")
MESSAGE_TEXTS: Slot[TextsOf] = Slot("market.translation.sources:MESSAGE_TEXTS")
