"""The directory's endpoints for the OpenAPI description (market.openapi splices them in)."""

from __future__ import annotations

from pydantic import BaseModel

from market.directory.schemas import DecisionIn, EventIn, ReferralIn, ServiceIn, ServicePatch

# (method, path, summary, request model, success status, needs a bearer token)
ENDPOINTS: list[tuple[str, str, str, type[BaseModel] | None, int, bool]] = [
    (
        "get",
        "/services",
        "Find published services (topic, language, q, place, open_now)",
        None,
        200,
        False,
    ),
    (
        "post",
        "/services",
        "Add a service (organisation members, coordinators)",
        ServiceIn,
        201,
        True,
    ),
    ("get", "/services.csv", "The published directory as CSV", None, 200, False),
    (
        "get",
        "/services.geojson",
        "Published services as GeoJSON points for a map (bbox)",
        None,
        200,
        False,
    ),
    ("get", "/services/{id}", "A service", None, 200, False),
    ("patch", "/services/{id}", "Change a service", ServicePatch, 200, True),
    ("post", "/services/{id}/confirm", "Confirm a service is still right", None, 200, True),
    ("get", "/events", "Upcoming published events (topic, language, from, to)", None, 200, False),
    ("post", "/events", "Add an event (organisation members, coordinators)", EventIn, 201, True),
    ("get", "/events/{id}", "An event", None, 200, False),
    ("patch", "/events/{id}", "Change an event", ServicePatch, 200, True),
    ("get", "/review/services", "Services to review (coordinators)", None, 200, True),
    ("post", "/review/services/{id}", "Publish or reject a service", DecisionIn, 200, True),
    ("get", "/review/events", "Events to review (coordinators)", None, 200, True),
    ("post", "/review/events/{id}", "Publish or reject an event", DecisionIn, 200, True),
    ("post", "/referrals", "Suggest a service to the person behind a need", ReferralIn, 201, True),
]
