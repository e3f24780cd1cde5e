"""The OpenAPI 3.1 description of the JSON API, built from the same pydantic models it validates."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel

from market.accounts.schemas import (
    DeleteIn,
    MePatch,
    RegisterIn,
    ResetIn,
    ResetRequestIn,
    TokenIn,
    VerifyIn,
)
from market.conversations.api import MessageIn
from market.directory.spec import ENDPOINTS as DIRECTORY_ENDPOINTS
from market.inbox.api import PreferencesIn
from market.matches.review_api import RunIn
from market.matches.waiting.api import AvailabilityIn, OutcomeIn
from market.organisations.spec import ENDPOINTS as ORGANISATION_ENDPOINTS
from market.posts.schemas import PostIn, PostPatch
from market.vetting.schemas import (
    OrganisationDecisionIn,
    PostDecisionIn,
    ReportIn,
    ResolveIn,
    VolunteerDecisionIn,
)

# (method, path, summary, request model, success status, needs a bearer token)
Endpoint = tuple[str, str, str, type[BaseModel] | None, int, bool]

ENDPOINTS: list[Endpoint] = [
    ("post", "/auth/register", "Register; a verification mail is sent", RegisterIn, 202, False),
    ("post", "/auth/verify-email", "Verify the email address", VerifyIn, 200, False),
    ("post", "/auth/token", "Get a bearer token", TokenIn, 200, False),
    ("post", "/auth/password-reset", "Ask for a password reset mail", ResetRequestIn, 202, False),
    ("post", "/auth/password-reset/confirm", "Set a new password", ResetIn, 200, False),
    ("get", "/me", "The caller's profile", None, 200, True),
    ("patch", "/me", "Change name, page language or spoken languages", MePatch, 200, True),
    (
        "delete",
        "/me",
        "Delete the account (204). An account without a password (single sign-on) gets 202 "
        "and a confirmation link by mail instead",
        DeleteIn,
        204,
        True,
    ),
    ("get", "/me/export", "Everything stored about the caller", None, 200, True),
    ("get", "/me/posts", "The caller's posts in any status", None, 200, True),
    ("get", "/categories", "The category taxonomy", None, 200, False),
    ("get", "/languages", "Spoken languages", None, 200, False),
    ("get", "/posts", "Search published posts", None, 200, False),
    ("post", "/posts", "Create an offer or a need", PostIn, 201, True),
    ("get", "/posts/{id}", "One post", None, 200, False),
    ("patch", "/posts/{id}", "Change a post (author)", PostPatch, 200, True),
    ("post", "/posts/{id}/close", "Close a post (author)", None, 200, True),
    ("get", "/organisations/{id}", "One organisation", None, 200, False),
    ("get", "/review/volunteers", "Volunteers to vet", None, 200, True),
    (
        "post",
        "/review/volunteers/{id}",
        "Record a vetting decision",
        VolunteerDecisionIn,
        200,
        True,
    ),
    ("get", "/review/posts", "Posts to review", None, 200, True),
    ("post", "/review/posts/{id}", "Publish or reject a post", PostDecisionIn, 200, True),
    ("get", "/review/organisations", "Organisations to verify", None, 200, True),
    (
        "post",
        "/review/organisations/{id}",
        "Approve or reject an organisation",
        OrganisationDecisionIn,
        200,
        True,
    ),
    ("post", "/reports", "Report a post, message or user", ReportIn, 201, True),
    ("get", "/review/reports", "Open reports", None, 200, True),
    ("post", "/review/reports/{id}", "Resolve a report", ResolveIn, 200, True),
    ("get", "/matches", "The caller's matches", None, 200, True),
    ("get", "/matches/{id}", "One of the caller's matches", None, 200, True),
    ("post", "/matches/{id}/accept", "Accept a match", None, 200, True),
    ("post", "/matches/{id}/decline", "Decline a match", None, 200, True),
    ("get", "/posts/{id}/matches", "A post's matches, best first", None, 200, True),
    ("get", "/review/matching-run", "Preview a regional matching run", None, 200, True),
    ("post", "/review/matching-run", "Apply a previewed regional run", RunIn, 200, True),
    ("get", "/review/unmatched", "Needs without a match, and why", None, 200, True),
]

# Features built later add their endpoints here.
EXTRA: list[Endpoint] = [
    *ORGANISATION_ENDPOINTS,
    *DIRECTORY_ENDPOINTS,
    ("get", "/conversations", "The caller's conversations, latest activity first", None, 200, True),
    (
        "get",
        "/conversations/{id}/messages",
        "Messages, oldest first; marks them read",
        None,
        200,
        True,
    ),
    (
        "post",
        "/conversations/{id}/messages",
        "Write a message (participants)",
        MessageIn,
        201,
        True,
    ),
    ("get", "/notifications", "The caller's notifications, newest first", None, 200, True),
    ("get", "/notifications/unread-count", "How many notifications are unread", None, 200, True),
    ("post", "/notifications/{id}/read", "Mark a notification read", None, 200, True),
    ("post", "/notifications/read-all", "Mark every notification read", None, 200, True),
    (
        "get",
        "/me/notifications/preferences",
        "Mail per kind: immediate, digest or off",
        None,
        200,
        True,
    ),
    ("put", "/me/notifications/preferences", "Change mail preferences", PreferencesIn, 200, True),
    # Follow-through (API.md, Release 2; docs/api-additions.md).
    ("post", "/matches/{id}/outcome", "Did you meet? (a party, once)", OutcomeIn, 200, True),
    ("post", "/matches/{id}/reopen", "Reopen a match that did not happen", None, 200, True),
    ("post", "/me/availability", "Available for new proposals again", AvailabilityIn, 200, True),
]

PROBLEM = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


@cache
def spec() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Problem": PROBLEM}
    for method, path, summary, model, status, auth in [*ENDPOINTS, *EXTRA]:
        op: dict[str, Any] = {
            "summary": summary,
            "responses": {
                str(status): {"description": "Success"},
                "default": {
                    "description": "A problem (RFC 9457)",
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                },
            },
        }
        if "{id}" in path:
            op["parameters"] = [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ]
        if auth:
            op["security"] = [{"bearer": []}]
        if model is not None:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}
                    }
                },
            }
        paths.setdefault(f"/api/v1{path}", {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Anlauf API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
