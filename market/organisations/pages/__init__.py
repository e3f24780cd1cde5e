"""HTML pages for organisations and mentor programmes, one module per part of the work.

Every page works without JavaScript. Access is the guardian's (market/organisations/guardian.py);
the login after signing up through an invitation is market.accounts.views.sign_in.
"""

from __future__ import annotations

from starlette.routing import Route

from market.organisations.pages.applying import apply_page, my_applications, withdraw
from market.organisations.pages.clients import client_post, clients_page, erase_client
from market.organisations.pages.dashboard import dashboard, postings_csv
from market.organisations.pages.members import (
    join,
    members_page,
    my_organisation,
    remove_member,
    revoke_invitation,
)
from market.organisations.pages.postings import decide, post_applications, posting_page
from market.organisations.pages.public import (
    edit_organisation,
    organisation_page,
    widget,
    widget_json,
)

routes = [
    Route("/organisations/join", join, methods=["GET", "POST"]),
    Route("/organisations/{org_id}", organisation_page, methods=["GET"]),
    Route("/organisations/{org_id}/edit", edit_organisation, methods=["GET", "POST"]),
    Route("/organisations/{org_id}/dashboard", dashboard, methods=["GET"]),
    Route("/organisations/{org_id}/members", members_page, methods=["GET", "POST"]),
    Route("/organisations/{org_id}/members/{user_id}/remove", remove_member, methods=["POST"]),
    Route(
        "/organisations/{org_id}/invitations/{invitation_id}/revoke",
        revoke_invitation,
        methods=["POST"],
    ),
    Route("/organisations/{org_id}/clients", clients_page, methods=["GET", "POST"]),
    Route("/organisations/{org_id}/clients/{client_id}/erase", erase_client, methods=["POST"]),
    Route(
        "/organisations/{org_id}/clients/{client_id}/posts/new",
        client_post,
        methods=["GET", "POST"],
    ),
    Route("/organisations/{org_id}/postings.csv", postings_csv, methods=["GET"]),
    Route("/organisations/{org_id}/widget.json", widget_json, methods=["GET"]),
    Route("/organisations/{org_id}/widget", widget, methods=["GET"]),
    Route("/my/organisation", my_organisation, methods=["GET"]),
    Route("/my/applications", my_applications, methods=["GET"]),
    Route("/my/applications/{application_id}/withdraw", withdraw, methods=["POST"]),
    Route("/posts/{post_id}/apply", apply_page, methods=["GET", "POST"]),
    Route("/posts/{post_id}/posting", posting_page, methods=["GET", "POST"]),
    Route("/posts/{post_id}/applications", post_applications, methods=["GET"]),
    Route("/applications/{application_id}/decide", decide, methods=["POST"]),
]
