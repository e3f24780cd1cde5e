"""Hostile input ends in a 4xx and changes nothing; the keep-alive connection survives it.

API.md, Release 2, "Hostile input, races and outages": NUL characters, lone surrogates, JSON
nested deeper than 32 levels, numbers out of range or not finite answer 400 or 422 and change
nothing; the connection stays usable for the next request.

Tried from outside: a real uvicorn server on loopback, ONE keep-alive connection (http.client,
the socket checked after every answer), 1,000 hostile bodies from a seeded generator against the
creating and updating endpoints, innocent requests in between that must keep working. Before and
after, every table is read: a rejected request must not have changed a row.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from market.app import create_app
from market.db import Base, make_sessionmaker
from market.settings import Settings
from tests.factories import PASSWORD, Actor, make_user, post_body
from tests.market.conversations.helpers import connected_match
from tests.market.organisations.helpers import apply, posting, volunteer
from tests.market.server import ServerThread

SEED = 20261204
HOSTILE_BODIES = 1000
HOLE = "__HOSTILE__"  # where the generator puts its raw JSON text into a valid body
# Columns that merely reading with a token may touch (when a token was last used).
VOLATILE = {"last_used_at", "last_seen_at"}


@dataclass
class Endpoint:
    method: str
    path: str
    body: dict[str, Any]
    text_fields: list[str]  # fields of the body that take a string
    actor: Actor | None = None


@dataclass
class Probe:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]
    kind: str


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    innocent_failed: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)


# --- The generator


def _deep(rng: random.Random) -> str:
    depth = rng.choice([33, 34, 64, rng.randint(33, 900), 1000, rng.randint(1000, 20000)])
    opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
    return opener * depth + "1" + closer * depth


def _big_int(rng: random.Random) -> str:
    digits = rng.choice([17, 20, 400, 4300, 4301, rng.randint(17, 30000)])
    return rng.choice(["", "-"]) + "9" * digits


def _not_finite(rng: random.Random) -> str:
    return rng.choice(["NaN", "Infinity", "-Infinity", "1e400", "-1e99999", "[NaN]"])


def _nul(rng: random.Random) -> str:
    return rng.choice(['"ab\\u0000cd"', '"\\u0000"', '["x\\u0000"]', '{"k": "\\u0000"}'])


def _surrogate(rng: random.Random) -> str:
    return rng.choice(['"\\ud800"', '"x\\udfffy"', '"\\ud83d"', '"\\ude00\\ud83d"', '["\\udbff"]'])


def _bad_key(rng: random.Random) -> str:
    return rng.choice(['{"\\u0000": 1}', '{"a\\ud800": "b"}', '{"\\udc00\\u0000": [1]}'])


def _wrong_type(rng: random.Random) -> str:
    return rng.choice(['{"$ne": null}', '[1, "a", {}]', '{"nested": {"x": [1, 2]}}', "[[[]]]"])


def _huge_string(rng: random.Random) -> str:
    return '"' + "x" * rng.randint(65_537, 200_000) + '"'


def probes(endpoints: list[Endpoint], count: int, seed: int) -> list[Probe]:
    """`count` hostile requests: each puts one hostile thing into an otherwise valid body."""
    rng = random.Random(seed)
    values = [
        ("deep", _deep),
        ("big_int", _big_int),
        ("not_finite", _not_finite),
        ("nul", _nul),
        ("surrogate", _surrogate),
        ("bad_key", _bad_key),
        ("wrong_type", _wrong_type),
        ("huge_string", _huge_string),
    ]
    made: list[Probe] = []
    for _ in range(count):
        ep = rng.choice(endpoints)
        headers = {"Content-Type": "application/json"}
        if ep.actor is not None:
            headers["Authorization"] = f"Bearer {ep.actor.token}"
        body = dict(ep.body)
        roll = rng.random()
        if roll < 0.72:
            kind, make = rng.choice(values)
            if kind == "bad_key":
                body[HOLE] = 1  # an extra key whose name is hostile
                raw = json.dumps(body).replace(f'"{HOLE}": 1', make(rng)[1:-1])
            else:
                body[rng.choice(ep.text_fields)] = HOLE
                raw = json.dumps(body).replace(f'"{HOLE}"', make(rng))
            payload = raw.encode()
        elif roll < 0.80:
            kind = "invalid_utf8"
            body[rng.choice(ep.text_fields)] = HOLE
            bad = rng.choice([b'"\xff\xfe"', b'"\xed\xa0\x80"', b'"\xc3"', b'"ab\x80"'])
            payload = json.dumps(body).encode().replace(f'"{HOLE}"'.encode(), bad)
        elif roll < 0.86:
            kind = "raw_control"  # a NUL byte, unescaped, inside a JSON string
            body[rng.choice(ep.text_fields)] = "a\x00b"
            payload = json.dumps(body, ensure_ascii=False).encode()
        elif roll < 0.93:
            kind = "content_type"
            # Hostile too, so that a server ignoring the type still has to refuse it.
            body[rng.choice(ep.text_fields)] = "\x00"
            payload = json.dumps(body).encode()
            headers["Content-Type"] = rng.choice(
                [
                    "text/plain",
                    "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=x",
                    "application/xml",
                    "json",
                ]
            )
        else:
            kind = "not_an_object"
            payload = rng.choice(
                [
                    b"[]",
                    b'"text"',
                    b"null",
                    b"12",
                    b"{",
                    b'{"a": 1,}',
                    b"\xef\xbb\xbf{}",
                    b"{}{}",
                    json.dumps([body]).encode(),
                ]
            )
        made.append(Probe(ep.method, ep.path, payload, headers, kind))
    return made


# --- One keep-alive connection


class OneConnection:
    """http.client on one socket; any sign that the server dropped it is counted as broken."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.connect()
        self.sock = self.conn.sock
        self.local = self.sock.getsockname()  # type: ignore[union-attr]

    def send(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        self.conn.request(method, path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        data = response.read()
        answer_headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, answer_headers, data

    def intact(self, answer_headers: dict[str, str]) -> bool:
        return (
            answer_headers.get("connection", "").lower() != "close"
            and self.conn.sock is self.sock
            and self.sock is not None
            and self.sock.fileno() != -1
        )

    def close(self) -> None:
        self.conn.close()


# --- What the database holds


async def snapshot(settings: Settings) -> dict[str, list[tuple[str, ...]]]:
    from market.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            seen: dict[str, list[tuple[str, ...]]] = {}
            for table in Base.metadata.sorted_tables:
                columns = [c for c in table.columns if c.name not in VOLATILE]
                rows = (await session.execute(select(*columns))).all()
                seen[table.name] = sorted(tuple(repr(v) for v in row) for row in rows)
            return seen
    finally:
        await engine.dispose()


def changed(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> dict[str, str]:
    return {
        name: f"{len(before[name])} -> {len(after[name])} rows"
        for name in before
        if before[name] != after.get(name)
    }


# --- Arrange: one of everything the endpoints act on


async def arrange(app: Any, client: httpx.AsyncClient) -> tuple[list[Endpoint], Actor, str]:
    vol, seeker, _match_id, conversation_id = await connected_match(client, app)
    owner = await make_user(app, client, "organisation")
    mentor = await volunteer(app, client)
    second = await volunteer(app, client)
    programme = await posting(client, owner)
    r = await apply(client, mentor, programme["id"])
    assert r.status_code == 201, r.text
    application_id = r.json()["id"]
    coordinator = await make_user(app, client, "coordinator")
    waiting = await make_user(app, client, "volunteer")  # vetting pending
    r = await client.post(
        "/api/v1/posts", headers=seeker.headers, json=post_body(title="Noch eins")
    )
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]

    endpoints = [
        Endpoint(
            "POST",
            "/api/v1/auth/register",
            {
                "email": "fuzz@example.org",
                "password": "ein langes Passwort 2027",
                "display_name": "Fuzz",
                "role": "seeker",
                "locale": "de",
            },
            ["email", "password", "display_name", "role", "locale"],
        ),
        Endpoint(
            "POST",
            "/api/v1/auth/token",
            {"email": seeker.email, "password": PASSWORD},
            ["email", "password"],
        ),
        Endpoint(
            "POST",
            "/api/v1/posts",
            post_body(),
            ["title", "body", "category", "kind", "mode"],
            seeker,
        ),
        Endpoint("PATCH", "/api/v1/me", {"display_name": "Neuer Name"}, ["display_name"], seeker),
        Endpoint(
            "POST",
            f"/api/v1/conversations/{conversation_id}/messages",
            {"body": "Hallo, wann passt es Ihnen?"},
            ["body"],
            seeker,
        ),
        Endpoint(
            "POST",
            "/api/v1/reports",
            {"target_type": "post", "target_id": post_id, "reason": "Sieht nach Werbung aus"},
            ["target_type", "target_id", "reason"],
            vol,
        ),
        Endpoint(
            "POST",
            f"/api/v1/posts/{programme['id']}/applications",
            {"message": "Ich helfe gern."},
            ["message"],
            second,
        ),
        Endpoint(
            "POST",
            f"/api/v1/applications/{application_id}",
            {"decision": "accept"},
            ["decision"],
            owner,
        ),
        Endpoint(
            "POST",
            f"/api/v1/review/volunteers/{waiting.id}",
            {"decision": "approve"},
            ["decision"],
            coordinator,
        ),
        Endpoint(
            "POST",
            f"/api/v1/review/posts/{post_id}",
            {"decision": "publish"},
            ["decision", "reason"],
            coordinator,
        ),
    ]
    return endpoints, seeker, post_id


def innocent(conn: OneConnection, seeker: Actor, step: int) -> str | None:
    """A harmless request that must work: None, or what went wrong."""
    auth = {"Authorization": f"Bearer {seeker.token}"}
    choice = step % 3
    if choice == 0:
        status, _h, data = conn.send("GET", "/api/v1/me", headers=auth)
        ok = status == 200 and json.loads(data)["id"] == seeker.id
    elif choice == 1:
        status, _h, data = conn.send("GET", "/healthz")
        ok = status == 200 and json.loads(data) == {"status": "ok"}
    else:
        status, _h, data = conn.send("GET", "/posts?lang=de")
        ok = status == 200 and b"<html" in data
    return None if ok else f"step {step}: {status} {data[:200]!r}"


def fuzz(port: int, probes_: list[Probe], seeker: Actor, rng: random.Random) -> Tally:
    tally = Tally()
    conn = OneConnection(port)
    try:
        for step, probe in enumerate(probes_):
            if rng.random() < 0.3:
                failure = innocent(conn, seeker, step)
                if failure:
                    tally.innocent_failed.append(failure)
            try:
                status, headers, data = conn.send(
                    probe.method, probe.path, probe.body, probe.headers
                )
            except (OSError, http.client.HTTPException) as exc:
                tally.broken.append(f"{probe.kind} {probe.path}: {exc!r}")
                conn = OneConnection(port)
                continue
            tally.statuses[status] += 1
            tally.kinds[probe.kind] += 1
            where = f"{probe.kind} {probe.method} {probe.path} -> {status} {data[:300]!r}"
            if status >= 500:
                tally.server_errors.append(where)
            elif status < 400:
                tally.accepted.append(where)
            elif headers.get("content-type") != "application/problem+json":
                tally.server_errors.append("not problem JSON: " + where)
            if not conn.intact(headers):
                tally.broken.append(where)
                conn = OneConnection(port)
        # The same connection still works at the end.
        failure = innocent(conn, seeker, 0)
        if failure:
            tally.innocent_failed.append(failure)
        assert conn.local == conn.sock.getsockname()  # type: ignore[union-attr]
    finally:
        conn.close()
    return tally


async def test_a_thousand_hostile_bodies_on_one_keep_alive_connection(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    endpoints, seeker, _post_id = await arrange(app, client)
    to_send = probes(endpoints, HOSTILE_BODIES, SEED)
    await app.state.relay.drain()  # the mails of the arranging are out: the outbox rests
    before = await snapshot(settings)

    with ServerThread(create_app(settings)) as server:
        tally = await asyncio.to_thread(fuzz, server.port, to_send, seeker, random.Random(SEED))

        after = await snapshot(settings)
        # And a real change still goes through on a fresh connection of the same server.
        conn = OneConnection(server.port)
        status, _h, data = conn.send(
            "PATCH",
            "/api/v1/me",
            json.dumps({"display_name": "Samira"}).encode(),
            {"Content-Type": "application/json", "Authorization": f"Bearer {seeker.token}"},
        )
        conn.close()

    print(
        f"\nhostile: {sum(tally.statuses.values())} answers {dict(sorted(tally.statuses.items()))}; "
        f"kinds {dict(sorted(tally.kinds.items()))}"
    )
    assert sum(tally.statuses.values()) + len(tally.broken) == HOSTILE_BODIES
    assert not tally.server_errors, tally.server_errors[:5]
    assert not tally.broken, tally.broken[:5]
    assert not tally.accepted, tally.accepted[:5]
    assert not tally.innocent_failed, tally.innocent_failed[:5]
    assert set(tally.statuses) <= {400, 413, 415, 422}, tally.statuses
    assert not changed(before, after), changed(before, after)
    assert status == 200 and json.loads(data)["display_name"] == "Samira", data


# --- Single cases, each with the answer API.md and docs/api-additions.md give


@pytest.mark.parametrize(
    ("raw", "status", "field_name"),
    [
        ("[" * 33 + "]" * 33, 400, None),
        ('{"display_name": ' + "[" * 100_00 + "]" * 100_00 + "}", 400, None),
        ('{"display_name": ' + "9" * 4301 + "}", 422, "display_name"),
        ('{"display_name": 9007199254740992}', 422, "display_name"),
        ('{"display_name": NaN}', 422, "display_name"),
        ('{"display_name": -Infinity}', 422, "display_name"),
        ('{"display_name": 1e400}', 422, "display_name"),
        ('{"display_name": "Sam\\u0000ira"}', 422, "display_name"),
        ('{"display_name": "Sam\\ud800ira"}', 422, "display_name"),
        ('{"languages": [{"code\\udfff": "de"}]}', 422, "languages.0.code\ufffd"),
        ('{"display_name": "Samira \\ud83d\\ude00"}', 200, None),  # a real pair is fine
    ],
)
async def test_each_hostile_value_has_its_answer(
    app: Any, client: httpx.AsyncClient, raw: str, status: int, field_name: str | None
) -> None:
    seeker = await make_user(app, client, "seeker", name="Samira")
    r = await client.patch(
        "/api/v1/me",
        content=raw.encode(),
        headers={**seeker.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == status, r.text
    if status >= 400:
        problem = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        if field_name is not None:
            assert [e["field"] for e in problem["errors"]] == [field_name], problem
    me = (await client.get("/api/v1/me", headers=seeker.headers)).json()
    assert me["display_name"] == ("Samira \U0001f600" if status == 200 else "Samira")


async def test_invalid_utf8_and_actions_with_hostile_bodies(
    app: Any, client: httpx.AsyncClient
) -> None:
    seeker = await make_user(app, client, "seeker")
    json_headers = {**seeker.headers, "Content-Type": "application/json"}
    r = await client.patch("/api/v1/me", content=b'{"display_name": "\xff"}', headers=json_headers)
    assert r.status_code == 400, r.text
    assert "UTF-8" in r.json()["detail"]
    # Actions (empty body or a small object) read their body through the same reader.
    r = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())
    post_id = r.json()["id"]
    for raw, status in [(b"[" * 5000, 400), (b'{"a": 1e999}', 422), (b'{"\\u0000": 1}', 422)]:
        r = await client.post(f"/api/v1/posts/{post_id}/close", content=raw, headers=json_headers)
        assert r.status_code == status, (raw[:20], r.text)
    assert (await client.get(f"/api/v1/posts/{post_id}", headers=seeker.headers)).json()[
        "status"
    ] != "closed"


async def test_nul_in_the_address_answers_400_not_500(app: Any, client: httpx.AsyncClient) -> None:
    seeker = await make_user(app, client, "seeker")
    for path in [
        "/api/v1/posts/" + quote("ab\x00cd"),
        "/api/v1/posts?cursor=" + quote("\x00"),
        "/api/v1/posts?q=" + quote("\x00") + "&lat=51.3&lon=12.3",
        "/api/v1/conversations/" + quote("\x00") + "/messages",
    ]:
        r = await client.get(path, headers=seeker.headers)
        assert r.status_code == 400, (path, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    for path in ["/posts/" + quote("\x00"), "/posts?q=" + quote("a\x00b")]:
        r = await client.get(path, headers={"Accept-Language": "de"})
        assert r.status_code == 400, (path, r.text)
        assert "Die Adresse enthält Zeichen, die nicht erlaubt sind." in r.text


async def test_forms_refuse_nul_with_a_friendly_page(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    before = await snapshot(settings)
    page = await client.get("/register?lang=de")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    r = await client.post(
        "/register",
        data={
            "csrf_token": token.group(1),
            "email": "nul@example.org",
            "password": "ein langes Passwort 2027",
            "display_name": "Na\x00me",
            "role": "seeker",
        },
    )
    assert r.status_code == 400, r.text
    assert "Das Formular enthält Zeichen, die wir nicht speichern können." in r.text
    assert not changed(before, await snapshot(settings))


# --- An error of our own still ends in one complete answer on a connection that stays open


async def _boom(request: Any) -> Any:
    raise RuntimeError("a bug in a handler")


async def _conflict_at_commit(request: Any) -> Any:
    """Stores a second account with an address that is taken: the commit fails, after the
    handler has answered 201."""
    from starlette.responses import JSONResponse

    from market.accounts.models import User
    from market.web import db

    taken = request.query_params["email"]
    db(request).add(User(email=taken, display_name="Twin", role="seeker", locale="de"))
    return JSONResponse({"stored": True}, status_code=201)


async def test_an_unexpected_error_answers_500_and_keeps_the_connection(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    from starlette.routing import Route

    seeker = await make_user(app, client, "seeker")
    served = create_app(settings)
    served.router.routes[:0] = [
        Route("/api/v1/test-boom", _boom, methods=["GET"]),
        Route("/test-boom", _boom, methods=["GET"]),
        Route("/api/v1/test-conflict", _conflict_at_commit, methods=["POST"]),
    ]
    before = await snapshot(settings)
    with ServerThread(served) as server:

        def run() -> list[tuple[str, int, str]]:
            conn = OneConnection(server.port)
            seen = []
            for method, path in [
                ("GET", "/api/v1/test-boom"),
                ("GET", "/healthz"),
                ("GET", "/test-boom"),
                ("POST", "/api/v1/test-conflict?email=" + quote(seeker.email)),
                ("GET", "/healthz"),
                ("GET", "/api/v1/test-boom"),
                ("GET", "/healthz"),
            ]:
                status, headers, data = conn.send(method, path, b"" if method == "POST" else None)
                assert conn.intact(headers), (path, headers)
                seen.append((path, status, headers.get("content-type", "")))
                if path == "/healthz":
                    assert json.loads(data) == {"status": "ok"}
                if "conflict" in path:
                    assert b"stored" not in data, data  # the answer is not the handler's 201
            assert conn.local == conn.sock.getsockname()  # type: ignore[union-attr]
            conn.close()
            return seen

        seen = await asyncio.to_thread(run)
    assert [s for _p, s, _t in seen] == [500, 200, 500, 409, 200, 500, 200], seen
    assert seen[0][2] == "application/problem+json"
    assert seen[3][2] == "application/problem+json"
    assert not changed(before, await snapshot(settings))
