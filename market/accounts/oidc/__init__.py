"""Sign in with OpenID Connect providers: a city's Keycloak, an association's Microsoft or Google.

Operators list providers in ANLAUF_OIDC_PROVIDERS (see market.settings.OidcProvider); each one's
endpoints and keys come from `<issuer>/.well-known/openid-configuration`.

The handshake is the authorization code flow with PKCE (S256), a `state` and a `nonce`. Between
the redirect to the provider and its callback, state, nonce and code verifier wait in a small
cookie signed with the secret key (HttpOnly, SameSite=Lax so that it comes back on the provider's
top-level redirect, ten minutes). The ID token's signature is checked against the provider's JWKS,
and its `iss`, `aud` (our client id), `azp`, `exp`, `iat` and `nonce`.

Who is who:

- A person is identified by issuer plus subject (`sub`), never by email. Once an identity is
  linked, it logs in its account even after the email at the provider changed.
- An unknown identity whose email no account has gets a new account, after the person chose a
  role (volunteer or seeker), a display name and a page language once. The email counts as
  verified only if the provider says `email_verified: true`; otherwise the usual verification mail
  goes out.
- An unknown identity whose email belongs to an existing account is NOT linked or logged in, even
  if the provider says the email is verified: an attacker might run or control an account at a
  provider that asserts someone else's address. Instead the account's address gets a single-use
  link (stored hashed in account_tokens, purpose "link_oidc", one hour). The pending identity is
  kept server-side as an oidc_identities row whose `note` names the token; it logs nobody in.
  Opening the link in the browser that signed in at the provider (it holds a signed cookie naming
  the pending row, so a mail sent to a victim cannot link an attacker's identity) links the
  identity, marks the address verified and logs in. Alternatively the person logs in with the
  account's password in that browser and confirms the link.
- A disabled or deleted account cannot log in this way.

The package: `client` speaks the protocol, `identities` links people to accounts (its mail
goes through notifications like every mail), `pages` are the routes.
"""

from __future__ import annotations

from market.accounts.oidc.client import (
    OidcFailure,
    Person,
    _person,
    callback_url,
    discover,
    exchange_code,
    provider_named,
    providers,
    verify_id_token,
)
from market.accounts.oidc.identities import (
    LINK,
    PENDING,
    create_account,
    find_identity,
    is_pending,
    link,
    request_link,
    resolve,
    take_link_token,
)
from market.accounts.oidc.pages import oidc_buttons, pack, routes, unpack

__all__ = [
    "LINK",
    "PENDING",
    "OidcFailure",
    "Person",
    "_person",
    "callback_url",
    "create_account",
    "discover",
    "exchange_code",
    "find_identity",
    "is_pending",
    "link",
    "oidc_buttons",
    "pack",
    "provider_named",
    "providers",
    "request_link",
    "resolve",
    "routes",
    "take_link_token",
    "unpack",
    "verify_id_token",
]
