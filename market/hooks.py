"""Slots: what a lower feature needs from a higher one, filled by the composition at start.

A feature may import only the features below it (pyproject.toml's layers). When a lower one
needs something only a higher one knows (posts show the organisation they were made for, but
organisations sit above posts), the lower one declares a `Slot` typed with a protocol of its own,
and the higher one's implementation is put in it by market/features.py (`provides=`). The start
fails when a slot is left empty, so a forgotten registration cannot pass silently.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

T = TypeVar("T")

_slots: list[Slot[Any]] = []


class Slot(Generic[T]):
    """One implementation of a protocol, put in at start (market/features.py `provides=`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._impl: T | None = None
        _slots.append(self)

    def fill(self, impl: T) -> None:
        self._impl = impl

    @property
    def filled(self) -> bool:
        return self._impl is not None

    def __call__(self) -> T:
        if self._impl is None:
            raise RuntimeError(
                f"slot {self.name} is empty: market/features.build() fills it "
                "(a feature's provides=)"
            )
        return self._impl


def slots() -> tuple[Slot[Any], ...]:
    """Every slot declared by an imported module (for the composition check)."""
    return tuple(_slots)
