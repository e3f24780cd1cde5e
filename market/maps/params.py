"""The map's query parameters: kind, category, language as the search takes them, and bbox."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import ValidationError, field_validator
from starlette.requests import Request

from market.api import validation_errors
from market.errors import Invalid
from market.maps.queries import Box
from market.posts.schemas import Category
from market.validation import LanguageCode, Strict, fail


class MapIn(Strict):
    kind: Literal["offer", "need"] | None = None
    category: Category | None = None
    language: LanguageCode | None = None
    bbox: str | None = None

    @field_validator("bbox")
    @classmethod
    def _bbox(cls, value: str | None) -> str | None:
        if value is not None:
            parse_bbox(value)
        return value


def parse_bbox(raw: str) -> Box:
    """`minlon,minlat,maxlon,maxlat` in degrees (the GeoJSON / OGC order)."""
    parts = raw.split(",")
    message = "Give bbox as minlon,minlat,maxlon,maxlat in degrees."
    if len(parts) != 4:
        raise fail("bbox", message)
    try:
        values = [float(p) for p in parts]
    except ValueError as exc:
        raise fail("bbox", message) from exc
    if not all(math.isfinite(v) for v in values):
        raise fail("bbox", message)
    min_lon, min_lat, max_lon, max_lat = values
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
        raise fail("bbox", "Longitudes lie between -180 and 180.")
    if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
        raise fail("bbox", "Latitudes lie between -90 and 90.")
    if min_lon > max_lon or min_lat > max_lat:
        raise fail("bbox", "The minimum must not be greater than the maximum.")
    return Box(min_lon, min_lat, max_lon, max_lat)


def read_params(request: Request) -> MapIn:
    params = {k: v for k, v in request.query_params.items() if v != "" and k != "lang"}
    try:
        return MapIn.model_validate(params)
    except ValidationError as exc:
        raise Invalid(validation_errors(exc)) from exc


def parse_box(raw: str | None) -> Box | None:
    return parse_bbox(raw) if raw else None
