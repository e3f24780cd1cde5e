"""The two yardsticks benchmarks/web.py serves beside Anlauf, on the same uvicorn:

- `hello`: Starlette answering "Hello, world!"; the ceiling of the stack on this machine.
- `minimal`: the least a real page does: one async SQLAlchemy query for the 20 newest published
  posts (id, title, created_at) and one Jinja template. BENCH_DATABASE_URL names the database.

    uvicorn benchmarks.web_apps:hello
    uvicorn --factory benchmarks.web_apps:minimal
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from jinja2 import Environment
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route


async def _hello(request: Request) -> Response:
    return PlainTextResponse("Hello, world!")


hello = Starlette(routes=[Route("/", _hello)])

PAGE = Environment(autoescape=True).from_string(
    """<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Posts</title></head>
<body><h1>Neueste Einträge</h1><ul>
{% for id, title, created_at in posts %}<li><a href="/posts/{{ id }}">{{ title }}</a>
<time>{{ created_at.date() }}</time></li>
{% endfor %}</ul></body></html>"""
)
NEWEST = text(
    "SELECT id, title, created_at FROM posts WHERE status = 'published' "
    "ORDER BY created_at DESC LIMIT 20"
)


def minimal() -> Starlette:
    engine = create_async_engine(os.environ["BENCH_DATABASE_URL"], pool_size=10)

    async def page(request: Request) -> Response:
        async with engine.connect() as conn:
            rows = (await conn.execute(NEWEST)).all()
        return HTMLResponse(PAGE.render(posts=rows))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    return Starlette(routes=[Route("/", page)], lifespan=lifespan)
