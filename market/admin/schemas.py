"""Input shapes of the admin forms."""

from __future__ import annotations

from pydantic import Field

from market.validation import Strict


class RegionIn(Strict):
    slug: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=2, max_length=120)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_km: float = Field(gt=0, le=500)


class CoordinatorIn(Strict):
    email: str = Field(min_length=3, max_length=254)
    display_name: str | None = Field(default=None, max_length=80)
