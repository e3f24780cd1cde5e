"""Moved to market.languages (spoken languages are the foundation's: accounts use them too);
kept here for this session so callers in other modules keep working."""

from market.languages import COMMON, is_known, name, native_name, normalise, reference

__all__ = ["COMMON", "is_known", "name", "native_name", "normalise", "reference"]
