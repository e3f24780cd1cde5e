"""Health check and the OpenAPI description."""

from __future__ import annotations

import httpx


async def test_healthz(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_openapi_describes_the_contract(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path, method in [
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/token", "post"),
        ("/api/v1/me", "patch"),
        ("/api/v1/posts", "get"),
        ("/api/v1/posts/{id}", "patch"),
        ("/api/v1/review/volunteers/{id}", "post"),
        ("/api/v1/reports", "post"),
    ]:
        assert method in paths[path], (path, method)
    register = spec["components"]["schemas"]["RegisterIn"]
    assert {"email", "password", "display_name", "role"} <= set(register["required"])


async def test_unknown_api_route_is_problem_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.delete("/api/v1/categories")
    assert r.status_code == 405
