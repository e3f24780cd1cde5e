"""Imports every table so that Alembic and create_all see the whole schema."""

import notifications.models  # noqa: F401  (the outbox and in-app notification tables)
from market.accounts.models import (  # noqa: F401
    AccountToken,
    ApiToken,
    CoordinatorRegion,
    OidcIdentity,
    RecoveryCode,
    TwoFactor,
    User,
    UserLanguage,
    WebSession,
)
from market.admin.models import AuditEntry  # noqa: F401
from market.conversations.models import Conversation, Message, Participant  # noqa: F401
from market.db import Base  # noqa: F401
from market.directory.models import Entry, Referral  # noqa: F401
from market.idempotency import IdempotencyKey  # noqa: F401
from market.legal.models import LegalText  # noqa: F401
from market.matches.models import Match  # noqa: F401
from market.matches.runs import RegionalRun  # noqa: F401  (and its jobs)
from market.organisations.models import Organisation, OrganisationMember  # noqa: F401
from market.posts.models import Post, Postcode, PostLanguage, Region  # noqa: F401
from market.retention import AccountRetention, NeedConfirmation  # noqa: F401
from market.translation.models import CachedTranslation  # noqa: F401
from market.vetting.models import PostReview, Report, VettingDecision  # noqa: F401
