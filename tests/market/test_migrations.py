"""Migrations: they build the schema the models describe, and landed ones are never edited.

(a) The session database is built by the Alembic migrations (tests/conftest.py); Alembic's
autogenerate `compare_metadata` must find no difference against the models, on PostgreSQL and on
SQLite. A difference means a model changed without a migration, or a migration that does not
match its model.
(b) Once a migration has landed (been installed somewhere), editing it breaks every upgrade of
that installation. `migrations/landed.txt` holds the sha256 of every landed file; a listed file
must keep its hash and must not disappear.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

import market.models  # noqa: F401 - registers every table
from market.db import Base, make_engine

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = ROOT / "migrations" / "versions"
MANIFEST = ROOT / "migrations" / "landed.txt"

HOW_TO_ADD = (
    "Landed migrations are append-only: write a NEW migration instead of editing one. "
    "When a new migration lands, add its line to migrations/landed.txt with "
    "`sha256sum migrations/versions/NNNN_name.py >> migrations/landed.txt`."
)


def _not_fts(name: str | None, type_: str, _parent: Any) -> bool:
    # SQLite's FTS5 table posts_fts (migration 0015, search) and the shadow tables FTS5 makes
    # for it (posts_fts_data, _idx, _content, _docsize, _config): a virtual table no model can
    # describe; PostgreSQL searches through an index that the Post model does declare.
    return not (type_ == "table" and name is not None and name.startswith("posts_fts"))


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_name": _not_fts,
        },
    )
    # Nothing is ignored: types and server defaults agree on both dialects today. Should a
    # difference ever be truly unavoidable on one dialect, filter it here with the reason.
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_build_the_schema_the_models_describe(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            diffs = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert diffs == [], (
        "The migrations and the models differ (write a new migration that makes them agree):\n"
        + "\n".join(repr(d) for d in diffs)
    )


def _manifest() -> dict[str, str]:
    landed: dict[str, str] = {}
    for line in MANIFEST.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        digest, name = line.split(maxsplit=1)
        landed[Path(name.lstrip("*")).name] = digest
    return landed


def test_landed_migrations_are_never_edited() -> None:
    landed = _manifest()
    assert {"0001_initial_schema.py", "0009_regional_runs.py"} <= set(landed)
    problems = []
    for name, digest in sorted(landed.items()):
        path = VERSIONS / name
        if not path.exists():
            problems.append(f"{name} has landed but is gone")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"{name} has landed but was edited")
    assert problems == [], "; ".join(problems) + ". " + HOW_TO_ADD


def test_every_migration_follows_the_last_landed_one() -> None:
    """Files not yet in the manifest are new: their numbers come after every landed one."""
    landed = sorted(_manifest())
    present = sorted(p.name for p in VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))
    new = [name for name in present if name not in landed]
    assert all(name > landed[-1] for name in new), (
        f"{new} are not in migrations/landed.txt yet sort before {landed[-1]}. " + HOW_TO_ADD
    )
