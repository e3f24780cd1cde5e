"""Timing and memory of the regional assignment at 5,000 needs x 5,000 offers.

Not a test (pytest does not collect it); run by hand:

    PYTHONPATH=. python tests/matching/bench_assign.py worst [density]  # one component
    PYTHONPATH=. python tests/matching/bench_assign.py region  # posts -> rank -> assign
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta

import numpy as np

from matching import (
    Candidate,
    LanguageSkill,
    Mode,
    PostFacts,
    VolunteerFacts,
    assign,
    max_weight_matching,
    rank,
)

SIZE = 5000
NOW = datetime(2025, 3, 1, tzinfo=UTC)
TODAY = date(2025, 3, 1)


def measure(label: str, work: object, trace: bool = True) -> object:
    # tracemalloc slows allocation-heavy pure Python several times, so the Python stages are
    # timed without it and only the numeric stage is traced.
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    result = work()  # type: ignore[operator]
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    tracemalloc.stop()
    memory = f", traced peak {peak / 1e6:.0f} MB" if trace else ""
    print(f"{label}: {seconds:.2f} s{memory}", flush=True)
    return result


def worst(density: float) -> None:
    """Every need and offer in one connected component: the full dense solve."""
    rng = np.random.default_rng(7)
    feasible = rng.random((SIZE, SIZE)) < density
    rows, cols = np.nonzero(feasible)
    del feasible
    weights = rng.random(rows.size)
    print(f"worst case: {rows.size:,} feasible pairs ({density:.0%})")
    chosen = measure(
        "  max_weight_matching", lambda: max_weight_matching(rows, cols, weights, (SIZE, SIZE))
    )
    print(f"  assigned {len(chosen):,} pairs")  # type: ignore[arg-type]


CATEGORIES = [
    ("accompaniment",),
    ("accompaniment", "accompaniment-authorities"),
    ("accompaniment", "accompaniment-doctor"),
    ("language",),
    ("language", "language-tandem"),
    ("translation",),
    ("housing",),
    ("work",),
    ("education",),
    ("education", "education-homework"),
    ("childcare",),
    ("mentoring",),
    ("leisure",),
    ("goods",),
    ("transport",),
    ("digital",),
    ("health",),
]
MODES: tuple[Mode, ...] = ("in_person", "either", "remote")
LANGUAGES = ["de", "ar", "fa", "uk", "ru", "tr", "en", "ti", "so", "ku"]


def region() -> None:
    """A city region of 30 x 30 km with realistic posts; the SQL prefilter is imitated by
    category subtree, language overlap and a bounding box, as ARCHITECTURE.md describes."""
    rng = np.random.default_rng(11)

    def posts(kind: str) -> list[PostFacts]:
        made = []
        for i in range(SIZE):
            languages = {"de"} if rng.random() < 0.7 else set()
            languages |= set(rng.choice(LANGUAGES, size=rng.integers(1, 3), replace=False))
            path = CATEGORIES[rng.integers(len(CATEGORIES))]
            made.append(
                PostFacts(
                    id=f"{kind[0]}{i:05d}",
                    kind=kind,  # type: ignore[arg-type]
                    category=path[-1],
                    category_path=path,
                    languages=tuple(LanguageSkill(code) for code in sorted(languages)),
                    mode=MODES[int(rng.choice(3, p=[0.6, 0.3, 0.1]))],
                    lat=52.38 + rng.random() * 0.27,
                    lon=13.2 + rng.random() * 0.44,
                    radius_km=float(rng.choice([5, 10, 15])) if kind == "offer" else None,
                    published_at=NOW - timedelta(days=float(rng.random() * 60)),
                )
            )
        return made

    offers, needs = posts("offer"), posts("need")
    volunteer = VolunteerFacts(id="v", approved=True)

    def candidates() -> list[Candidate]:
        made = []
        for n in needs:
            n_langs = {s.code for s in n.languages}
            for o in offers:
                if n.category_path[: len(o.category_path)] != o.category_path:
                    continue
                if n_langs.isdisjoint(s.code for s in o.languages):
                    continue
                # A bounding box of the offer's radius, as an index would give it; remote
                # posts skip it. Slightly generous (67 km per degree of longitude at 52.5 N
                # is about 67.8) so that it never drops a feasible pair.
                assert n.lat is not None and n.lon is not None
                assert o.lat is not None and o.lon is not None and o.radius_km is not None
                near = (
                    abs(n.lat - o.lat) * 111 <= o.radius_km
                    and abs(n.lon - o.lon) * 67 <= o.radius_km
                )
                if not near and (n.mode == "in_person" or o.mode == "in_person"):
                    continue
                made.append(
                    Candidate(
                        offer=o,
                        need=n,
                        volunteer=volunteer,
                        requires_certificate=False,
                        declined_before=False,
                    )
                )
        return made

    pool: list[Candidate] = measure("prefilter (stands in for SQL)", candidates, trace=False)  # type: ignore[assignment]
    print(f"  {len(pool):,} candidate pairs")
    ranked: list = measure("rank (check + score)", lambda: rank(pool, NOW, TODAY), trace=False)  # type: ignore[type-arg, assignment]
    print(f"  {len(ranked):,} feasible pairs")
    result = measure(
        "assign", lambda: assign((n.id for n in needs), (o.id for o in offers), ranked)
    )
    print(f"  assigned {len(result):,} pairs, total score {sum(p.score for p in result):.1f}")  # type: ignore[arg-type, attr-defined]


if __name__ == "__main__":
    if sys.argv[1:2] == ["worst"]:
        worst(float(sys.argv[2]) if len(sys.argv) > 2 else 1.0)
    else:
        region()
