"""The organisation endpoints for the OpenAPI description (market.openapi splices them in)."""

from __future__ import annotations

from pydantic import BaseModel

from market.organisations.schemas import (
    ApplicationIn,
    ClientIn,
    DecisionIn,
    InvitationIn,
    InvitationSignupIn,
    MemberPatch,
    OrganisationPatch,
    PostingIn,
    TokenIn,
)
from market.posts.schemas import PostIn

# (method, path, summary, request model, success status, needs a bearer token)
ENDPOINTS: list[tuple[str, str, str, type[BaseModel] | None, int, bool]] = [
    ("patch", "/organisations/{id}", "Change the profile (owners)", OrganisationPatch, 200, True),
    ("get", "/organisations/{id}/postings", "The organisation's postings", None, 200, False),
    ("get", "/organisations/{id}/members", "Members (members only)", None, 200, True),
    (
        "patch",
        "/organisations/{id}/members/{user_id}",
        "Change a role (owners)",
        MemberPatch,
        200,
        True,
    ),
    (
        "delete",
        "/organisations/{id}/members/{user_id}",
        "Remove a member or leave",
        None,
        204,
        True,
    ),
    ("get", "/organisations/{id}/invitations", "Open invitations (owners)", None, 200, True),
    (
        "post",
        "/organisations/{id}/invitations",
        "Invite by email (owners)",
        InvitationIn,
        201,
        True,
    ),
    (
        "delete",
        "/organisations/{id}/invitations/{invitation_id}",
        "Revoke an invitation",
        None,
        204,
        True,
    ),
    ("post", "/organisations/invitations/accept", "Accept an invitation", TokenIn, 200, True),
    (
        "post",
        "/organisations/invitations/signup",
        "Sign up through an invitation",
        InvitationSignupIn,
        201,
        False,
    ),
    ("get", "/organisations/{id}/clients", "Clients of caseworkers (members)", None, 200, True),
    ("post", "/organisations/{id}/clients", "Record a client who consented", ClientIn, 201, True),
    (
        "get",
        "/organisations/{id}/clients/{client_id}",
        "One client and their needs",
        None,
        200,
        True,
    ),
    ("delete", "/organisations/{id}/clients/{client_id}", "Erase a client", None, 204, True),
    (
        "post",
        "/organisations/{id}/clients/{client_id}/posts",
        "Post a need for a client",
        PostIn,
        201,
        True,
    ),
    ("get", "/me/organisations", "The caller's organisations", None, 200, True),
    ("get", "/me/applications", "The caller's applications", None, 200, True),
    ("get", "/posts/{id}/posting", "What a posting asks of volunteers", None, 200, False),
    ("put", "/posts/{id}/posting", "Describe a posting (members)", PostingIn, 200, True),
    ("get", "/posts/{id}/applications", "Applications to a posting", None, 200, True),
    (
        "post",
        "/posts/{id}/applications",
        "Apply to a posting (volunteers)",
        ApplicationIn,
        201,
        True,
    ),
    ("get", "/applications/{id}", "One application", None, 200, True),
    ("post", "/applications/{id}", "Accept or decline (members)", DecisionIn, 200, True),
    ("post", "/applications/{id}/withdraw", "Withdraw a waiting application", None, 200, True),
]
