"""A busy volunteer for the erasure and export tests: one of everything a person leaves behind.

Built through the API where the API can do it (posts, matches, messages, reports, applications,
vetting, invitations, logins), straight into the tables where it cannot (a pending mail, a
bounce, a single sign-on identity, a second organisation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from market.accounts.models import OidcIdentity, User
from market.db import make_sessionmaker, new_id, utcnow
from market.organisations.models import OrganisationMember
from notifications.models import FailingAddress, OutboxItem
from tests.factories import PASSWORD, Actor, login, make_user, post_body
from tests.pages import browser

NAME = "Zofia Quendelbrück"  # not ASCII: JSON columns store it as \u00fc
EMAIL = "zofia.quendelbrook@example.net"
PHONE = "0176 5550 1234"
STREET = "Wolkenkuckucksgasse 17"
LAT, LON = 51.34123, 12.38765
CATEGORY = "accompaniment-authorities"


@dataclass
class Busy:
    person: Actor
    seekers: list[Actor]
    coordinator: Actor
    owner: Actor
    offer_ids: list[str] = field(default_factory=list)
    match_ids: list[str] = field(default_factory=list)
    conversation_ids: list[str] = field(default_factory=list)
    own_message_ids: list[str] = field(default_factory=list)
    report_ids: list[str] = field(default_factory=list)
    application_ids: list[str] = field(default_factory=list)
    decision_ids: list[str] = field(default_factory=list)
    organisation_ids: list[str] = field(default_factory=list)
    pending_mail_id: str = ""
    token_count: int = 0


def _ok(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
    body: dict[str, Any] = r.json() if r.content else {}
    return body


async def build(client: httpx.AsyncClient, app: Any) -> Busy:
    sm = make_sessionmaker(app.state.engine)
    person = await make_user(
        app,
        client,
        "volunteer",
        approved=True,
        certificate_until=date.today() + timedelta(days=300),
    )
    async with sm() as s, s.begin():
        await s.execute(
            update(User).where(User.id == person.id).values(email=EMAIL, display_name=NAME)
        )
    person.email = EMAIL
    coordinator = await make_user(app, client, "coordinator")
    owner = await make_user(app, client, "organisation")
    seekers = [await make_user(app, client, "seeker", name=f"Seeker {i}") for i in range(3)]
    busy = Busy(person, seekers, coordinator, owner)

    # Vetting: two decisions with a checklist and notes that name the person and the street.
    for note in (
        f"{NAME} zeigte den Ausweis, wohnt {STREET}",
        f"Gespräch mit {NAME} am Telefon {PHONE}",
    ):
        decided = _ok(
            await client.post(
                f"/api/v1/review/volunteers/{person.id}",
                headers=coordinator.headers,
                json={
                    "decision": "approve",
                    "checks": {"identity": True, "interview": True, "code_of_conduct": True},
                    "police_certificate_until": (date.today() + timedelta(days=300)).isoformat(),
                    "note": note,
                },
            )
        )
        busy.decision_ids.append(decided["decision"]["id"])

    # Needs first, then the offer with the phone and the street in it: it is matched with all.
    need_ids = []
    for i, seeker in enumerate(seekers):
        need = _ok(
            await client.post(
                "/api/v1/posts",
                headers=seeker.headers,
                json=post_body(category=CATEGORY, location={"lat": 51.34 + i / 1000, "lon": 12.38}),
            ),
            201,
        )
        need_ids.append(need["id"])
    body = f"Ich begleite Sie. Rufen Sie an: {PHONE}, ich wohne in der {STREET}. Grüße, {NAME}"
    offer = _ok(
        await client.post(
            "/api/v1/posts",
            headers=person.headers | {"Idempotency-Key": new_id()},
            json=post_body(
                kind="offer",
                category=CATEGORY,
                title=f"Begleitung von {NAME}",
                body=body,
                location={"lat": LAT, "lon": LON},
            ),
        ),
        201,
    )
    busy.offer_ids.append(offer["id"])
    second = _ok(
        await client.post(
            "/api/v1/posts",
            headers=person.headers,
            json=post_body(
                kind="offer",
                category="translation",
                title="Übersetzen",
                body=f"Tel. {PHONE}",
                location={"lat": LAT, "lon": LON},
            ),
        ),
        201,
    )
    busy.offer_ids.append(second["id"])
    matches = _ok(await client.get("/api/v1/matches", headers=person.headers))["items"]
    busy.match_ids = sorted(m["id"] for m in matches)
    assert len(busy.match_ids) == 3, matches

    # One match connected, with a conversation both sides wrote in.
    first = next(m for m in matches if m["need"]["id"] == need_ids[0])
    for actor in (seekers[0], person):
        accepted = _ok(
            await client.post(f"/api/v1/matches/{first['id']}/accept", headers=actor.headers)
        )
    conversation_id = accepted["conversation_id"]
    busy.conversation_ids.append(conversation_id)
    mine = _ok(
        await client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            headers=person.headers,
            json={"body": "Bis Montag am Eingang!"},
        ),
        201,
    )
    busy.own_message_ids.append(mine["id"])
    _ok(
        await client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            headers=seekers[0].headers,
            json={"body": f"Danke, {NAME}! Schreiben Sie an {EMAIL}?"},
        ),
        201,
    )
    # One declined.
    second_match = next(m for m in matches if m["need"]["id"] == need_ids[1])
    _ok(await client.post(f"/api/v1/matches/{second_match['id']}/decline", headers=person.headers))

    # Reports: one the person filed, one about the person's post that names them.
    filed = _ok(
        await client.post(
            "/api/v1/reports",
            headers=person.headers,
            json={
                "target_type": "post",
                "target_id": need_ids[2],
                "reason": f"Seltsam, sagt {NAME}",
            },
        ),
        201,
    )
    busy.report_ids.append(filed["id"])
    _ok(
        await client.post(
            "/api/v1/reports",
            headers=seekers[1].headers,
            json={
                "target_type": "post",
                "target_id": offer["id"],
                "reason": f"{NAME} schreibt die Nummer hin",
            },
        ),
        201,
    )

    # Applications: one accepted with a message naming the person, one waiting.
    org_id = owner.organisation_id
    assert org_id
    busy.organisation_ids.append(org_id)
    for seats in (2, 3):
        posting = _ok(
            await client.post(
                "/api/v1/posts",
                headers=owner.headers,
                json=post_body(
                    category="mentoring", title="Lotsen", body="Ein halbes Jahr.", seats=seats
                ),
            ),
            201,
        )
        applied = _ok(
            await client.post(
                f"/api/v1/posts/{posting['id']}/applications",
                headers=person.headers,
                json={"message": f"Ich bin {NAME}, erreichbar unter {PHONE}."},
            ),
            201,
        )
        busy.application_ids.append(applied["id"])
    _ok(
        await client.post(
            f"/api/v1/applications/{busy.application_ids[0]}",
            headers=owner.headers,
            json={"decision": "accept", "message": f"Willkommen, {NAME}!"},
        )
    )
    # An invitation to the address, and a membership of the organisation.
    _ok(
        await client.post(
            f"/api/v1/organisations/{org_id}/invitations",
            headers=owner.headers,
            json={"email": EMAIL, "role": "member"},
        ),
        201,
    )
    async with sm() as s, s.begin():
        s.add(OrganisationMember(organisation_id=org_id, user_id=person.id, role="member"))
        s.add(
            OidcIdentity(
                user_id=person.id, issuer="https://id.example.org", subject="zq-1", note=EMAIL
            )
        )
        # A mail not sent yet (due tomorrow): it must never go out after the deletion.
        pending = OutboxItem(
            id=new_id(),
            job="send_mail",
            payload={
                "to": EMAIL,
                "subject": f"Hallo {NAME}",
                "text": STREET,
                "html": "",
                "locale": "de",
            },
            status="pending",
            attempts=0,
            created_at=utcnow(),
            available_at=utcnow() + timedelta(days=1),
        )
        s.add(pending)
    busy.pending_mail_id = pending.id

    # Preferences, a reset link, more tokens and a browser session.
    _ok(
        await client.put(
            "/api/v1/me/notifications/preferences",
            headers=person.headers,
            json={"preferences": {"message.new": "digest"}},
        )
    )
    _ok(await client.post("/api/v1/auth/password-reset", json={"email": EMAIL}), 202)
    await login(client, EMAIL, PASSWORD)
    busy.token_count = 2
    async with browser(app, person, headers={"User-Agent": f"Browser of {EMAIL}"}) as b:
        assert (await b.get("/account")).status_code == 200
    await app.state.relay.drain()
    # A bounce on record (after the drain: a mail accepted since would have cleared it).
    async with sm() as s, s.begin():
        s.add(FailingAddress(address=EMAIL, reason=f"550 no such user {EMAIL}"))
    return busy
