"""Whether an offer and a need can meet, in person or remotely; used by rules and score."""

from __future__ import annotations

from dataclasses import dataclass

from matching.geo import haversine_km
from matching.model import DEFAULT_OFFER_RADIUS_KM, PostFacts


@dataclass(frozen=True, slots=True)
class Reach:
    """How an offer and a need could meet."""

    # Both sides' modes allow meeting in person (in_person or either).
    in_person_capable: bool
    # Kilometres between them when both are in_person-capable and both gave coordinates.
    distance_km: float | None
    # The smaller of the offer's radius and the need's (when the need gives one).
    radius_km: float
    # Both accept remote.
    remote: bool

    @property
    def in_person(self) -> bool:
        """They can meet in person: close enough for both."""
        return self.distance_km is not None and self.distance_km <= self.radius_km


def radius_of_offer(offer: PostFacts) -> float:
    return offer.radius_km if offer.radius_km is not None else DEFAULT_OFFER_RADIUS_KM


def pair_radius(offer: PostFacts, need: PostFacts) -> float:
    """How far apart the two may be to meet in person: the offer's radius, or the need's when
    that is smaller."""
    radius = radius_of_offer(offer)
    return radius if need.radius_km is None else min(radius, need.radius_km)


def reach(offer: PostFacts, need: PostFacts) -> Reach:
    """Work out how `offer` and `need` could meet."""
    radius = pair_radius(offer, need)
    capable = offer.meets_in_person and need.meets_in_person
    distance: float | None = None
    # Without coordinates on both sides nobody can tell whether they are within reach, so the
    # distance stays unknown and in person is off the table; remote may still work.
    if (
        capable
        and offer.lat is not None
        and offer.lon is not None
        and need.lat is not None
        and need.lon is not None
    ):
        distance = haversine_km(offer.lat, offer.lon, need.lat, need.lon)
    return Reach(
        in_person_capable=capable,
        distance_km=distance,
        radius_km=radius,
        remote=offer.meets_remotely and need.meets_remotely,
    )
