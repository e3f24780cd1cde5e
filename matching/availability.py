"""Overlap of weekly availability between two posts."""

from __future__ import annotations

from collections.abc import Iterable

from matching.model import MINUTES_PER_DAY, TimeSlot


def _week_intervals(slots: Iterable[TimeSlot]) -> list[tuple[int, int]]:
    # Minutes since Monday 00:00, merged so that overlapping slots of one post count once.
    spans = sorted(
        (s.weekday * MINUTES_PER_DAY + s.start_minute, s.weekday * MINUTES_PER_DAY + s.end_minute)
        for s in slots
    )
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def overlap_minutes(a: Iterable[TimeSlot], b: Iterable[TimeSlot]) -> int:
    """Minutes per week in which both sides are available."""
    left, right = _week_intervals(a), _week_intervals(b)
    i = j = total = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        total += max(0, end - start)
        # Move past whichever interval ends first; the other may still overlap the next one.
        if left[i][1] <= right[j][1]:
            i += 1
        else:
            j += 1
    return total
