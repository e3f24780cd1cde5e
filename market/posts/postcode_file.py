"""Importing a GeoNames postal-code file into the `postcodes` table (`anlauf import-postcodes`).

Re-exported by market.posts.geo, which looks postcodes up.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import math
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from market.posts.models import Postcode

log = logging.getLogger(__name__)


class PostcodeImportError(ValueError):
    """The postal-code file is missing, unreadable or not in the GeoNames format."""


def normalise_postcode(postcode: str) -> str | None:
    """Upper case, inner white space collapsed (GB "sw1a 1aa"); None when it cannot be one."""
    code = " ".join(postcode.split()).upper()
    if not 0 < len(code) <= 16 or not all(ch.isalnum() or ch in " -" for ch in code):
        return None
    return code


# --------------------------------------------------------------------------------------------
# Importing a GeoNames postal-code file
#
# https://download.geonames.org/export/zip/readme.txt: UTF-8, tab-separated, one postcode and
# place per line: country code, postal code, place name, admin name1, admin code1, admin name2,
# admin code2, admin name3, admin code3, latitude, longitude, accuracy. Shipped as DE.zip (with
# DE.txt and readme.txt inside) or allCountries.zip.

_COLUMNS: Final = 12
_GIVE_UP_AFTER: Final = 100  # malformed lines before the first good one: not a GeoNames file
_COUNTRY_CODE = re.compile(r"[A-Z]{2}")

Row = dict[str, Any]
SkipCallback = Callable[[int, str], None]


def _parse_line(line: str) -> Row | str:
    """The row for one line, or why it was skipped."""
    cols = line.rstrip("\r\n").split("\t")
    # The accuracy column is empty for many places and some writers drop the last tab.
    if len(cols) not in (_COLUMNS - 1, _COLUMNS):
        return f"expected {_COLUMNS} tab-separated columns, found {len(cols)}"
    country = cols[0].strip().upper()
    if not _COUNTRY_CODE.fullmatch(country):
        return f"bad country code {cols[0]!r}"
    code = normalise_postcode(cols[1])
    if code is None:
        return f"bad postal code {cols[1]!r}"
    place = " ".join(cols[2].split())
    if not 0 < len(place) <= 180:
        return "missing or overlong place name"
    try:
        lat, lon = float(cols[9]), float(cols[10])
    except ValueError:
        return f"bad coordinates {cols[9]!r}, {cols[10]!r}"
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return f"coordinates out of range {cols[9]!r}, {cols[10]!r}"
    return {"country": country, "postcode": code, "place": place, "lat": lat, "lon": lon}


class _GeoNamesReader:
    """Reads a file (or the .txt inside a .zip) batch by batch; meant to run in a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stack = contextlib.ExitStack()
        self._lines: Iterator[str] | None = None
        self.lineno = 0
        self.good = 0

    def open(self) -> None:
        if not self.path.is_file():
            raise PostcodeImportError(f"postcode file not found: {self.path}")
        try:
            if zipfile.is_zipfile(self.path):
                archive = self._stack.enter_context(zipfile.ZipFile(self.path))
                member = self._member(archive)
                raw = self._stack.enter_context(archive.open(member))
                text: io.TextIOBase = io.TextIOWrapper(raw, encoding="utf-8-sig")
            else:
                text = open(self.path, encoding="utf-8-sig")  # noqa: SIM115 - closed by the stack
            self._lines = iter(self._stack.enter_context(text))
        except (OSError, zipfile.BadZipFile) as exc:
            self.close()
            raise PostcodeImportError(f"cannot read postcode file {self.path}: {exc}") from exc

    def _member(self, archive: zipfile.ZipFile) -> str:
        # GeoNames zips hold <CC>.txt (or allCountries.txt) next to readme.txt.
        texts = [
            n
            for n in archive.namelist()
            if n.lower().endswith(".txt") and Path(n).name.lower() != "readme.txt"
        ]
        if len(texts) != 1:
            raise PostcodeImportError(
                f"{self.path} should contain one GeoNames .txt file (such as DE.txt), "
                f"found: {', '.join(archive.namelist()) or 'nothing'}"
            )
        return texts[0]

    def batch(self, size: int) -> tuple[list[Row], list[tuple[int, str]]]:
        """Up to `size` good rows and the lines skipped meanwhile; no rows: the end (or give up)."""
        assert self._lines is not None, "open() first"
        rows: list[Row] = []
        skipped: list[tuple[int, str]] = []
        try:
            for line in self._lines:
                self.lineno += 1
                if not line.strip():
                    continue
                parsed = _parse_line(line)
                if isinstance(parsed, str):
                    skipped.append((self.lineno, parsed))
                    if not self.good and len(skipped) >= _GIVE_UP_AFTER:
                        break  # not a GeoNames file: do not read all of it to find out
                else:
                    self.good += 1
                    rows.append(parsed)
                    if len(rows) >= size:
                        break
        except UnicodeDecodeError as exc:
            raise PostcodeImportError(
                f"{self.path} is not UTF-8 text (line {self.lineno + 1}); "
                "expected a GeoNames postal-code file"
            ) from exc
        return rows, skipped

    def close(self) -> None:
        self._stack.close()


def _upsert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (country, postcode, place) DO UPDATE, so a re-import replaces."""
    table = cast(Table, Postcode.__table__)
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        return pg.on_conflict_do_update(
            index_elements=[table.c.country, table.c.postcode, table.c.place],
            set_={"lat": pg.excluded.lat, "lon": pg.excluded.lon},
        )
    if dialect == "sqlite":
        lite = sqlite.insert(table)
        return lite.on_conflict_do_update(
            index_elements=[table.c.country, table.c.postcode, table.c.place],
            set_={"lat": lite.excluded.lat, "lon": lite.excluded.lon},
        )
    raise PostcodeImportError(f"importing postcodes is not supported on {dialect}")


async def import_postcodes(
    session: AsyncSession,
    path: Path,
    *,
    batch: int = 5000,
    on_skip: SkipCallback | None = None,
) -> int:
    """Upsert a GeoNames postal-code file (.txt or .zip) into `postcodes`; the rows written.

    Malformed lines are skipped, logged and counted (`on_skip(line_number, reason)` hears of each);
    a file with no good line at all is refused. The caller commits: this only flushes, so a
    failed import can be rolled back whole.
    """
    path = Path(path)
    dialect = session.get_bind().dialect.name
    statement = _upsert(dialect)
    batch = max(1, batch)
    reader = _GeoNamesReader(path)
    # File reading and parsing run in a thread so a large file does not stall the event loop.
    await asyncio.to_thread(reader.open)
    written = malformed = 0
    try:
        while True:
            rows, skipped = await asyncio.to_thread(reader.batch, batch)
            malformed += len(skipped)
            for lineno, reason in skipped:
                log.warning("%s line %d skipped: %s", path.name, lineno, reason)
                if on_skip is not None:
                    on_skip(lineno, reason)
            if not rows:
                break
            # A key twice in one batch would make PostgreSQL refuse the statement; the later
            # line wins, as it would across batches.
            unique = {(r["country"], r["postcode"], r["place"]): r for r in rows}
            await session.execute(statement, list(unique.values()))
            written += len(unique)
    finally:
        reader.close()
    if not written:
        detail = f"{malformed} malformed lines" if malformed else "no data"
        raise PostcodeImportError(
            f"{path} is not a GeoNames postal-code file ({detail}; expected {_COLUMNS} "
            "tab-separated columns: country, postcode, place, ..., latitude, longitude, accuracy)"
        )
    await session.flush()
    log.info("imported %d postcodes from %s, skipped %d malformed lines", written, path, malformed)
    return written
