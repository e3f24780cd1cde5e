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

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

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


def _declared_checks() -> set[str]:
    """The CHECK constraints the models declare (market.db.checked and the outbox's own)."""
    import market.matches.runs  # noqa: F401 - the regional runs' table

    return {
        str(c.name)
        for table in Base.metadata.sorted_tables
        for c in table.constraints
        if isinstance(c, CheckConstraint) and c.name
    }


async def test_the_database_has_every_check_the_models_declare(database_url: str) -> None:
    """Autogenerate does not compare CHECK constraints, so this does: each one the models declare
    exists in the migrated database (PostgreSQL: a constraint; SQLite: its two triggers, see
    migration 0016)."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                rows = await connection.execute(
                    text("SELECT conname FROM pg_constraint WHERE contype = 'c'")
                )
                present = {r[0] for r in rows}
            else:
                rows = await connection.execute(
                    text("SELECT name FROM sqlite_master WHERE type IN ('trigger', 'table')")
                )
                names = {r[0] for r in rows}
                # The outbox's two date from 0001 as real CHECKs inside their CREATE TABLE.
                tables = await connection.execute(
                    text("SELECT sql FROM sqlite_master WHERE type = 'table'")
                )
                created = " ".join(r[0] or "" for r in tables)
                present = {
                    n.removesuffix("_insert")
                    for n in names
                    if n.endswith("_insert") and f"{n.removesuffix('_insert')}_update" in names
                } | {name for name in _declared_checks() if name in created}
    finally:
        await engine.dispose()
    missing = sorted(_declared_checks() - present)
    assert missing == [], f"declared on the models but not in the database: {missing}"


async def test_a_value_outside_its_closed_set_is_refused(database_url: str) -> None:
    engine = make_engine(database_url)
    insert = text(
        "INSERT INTO legal_texts (kind, locale, body, updated_at) "
        "VALUES (:kind, 'de', 'x', CURRENT_TIMESTAMP)"
    )
    try:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            try:
                with pytest.raises(IntegrityError, match=r"(?<![a-z_])ck_legal_texts_kind\b"):
                    await connection.execute(insert, {"kind": "bogus"})
            finally:
                await transaction.rollback()
    finally:
        await engine.dispose()


async def test_posts_is_vacuumed_after_one_percent_changed(database_url: str) -> None:
    """Migration 0022: index-only scans of posts (matcher, map, search) stay index-only because
    autovacuum marks changed pages all-visible again after 1 % of the rows changed, not 20 %."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL storage parameter")
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            options = await connection.scalar(
                text("SELECT reloptions FROM pg_class WHERE oid = 'posts'::regclass")
            )
    finally:
        await engine.dispose()
    assert set(options or []) >= {
        "autovacuum_vacuum_scale_factor=0.01",
        "autovacuum_vacuum_insert_scale_factor=0.01",
        "autovacuum_analyze_scale_factor=0.02",
    }
