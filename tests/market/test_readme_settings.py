"""Every setting has a row in the README's settings table (a setting added without one is
a setting nobody finds)."""

from __future__ import annotations

from pathlib import Path

from market.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme() -> None:
    rows = [line for line in README.read_text().splitlines() if line.startswith("| `ANLAUF_")]
    missing = [
        name
        for name in (f"ANLAUF_{field.upper()}" for field in Settings.model_fields)
        if not any(f"`{name}`" in row for row in rows)
    ]
    assert not missing, f"README.md's settings table lacks {missing}"
