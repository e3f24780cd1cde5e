"""Organisations (associations, welfare bodies, city offices), their members and invitations,
mentor programme postings and the applications to them, and caseworkers' clients."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base, IdMixin, TimestampMixin, checked, utcnow


class OrgStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class MemberRole(StrEnum):
    OWNER = "owner"
    MEMBER = "member"


class ApplicationStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


# The same values as plain strings (StrEnum members equal them).
ORG_STATUSES = tuple(s.value for s in OrgStatus)
MEMBER_ROLES = tuple(r.value for r in MemberRole)
APPLICATION_STATUSES = tuple(s.value for s in ApplicationStatus)


class Organisation(IdMixin, TimestampMixin, Base):
    __tablename__ = "organisations"

    name: Mapped[str] = mapped_column(String(160))
    website: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[OrgStatus] = mapped_column(String(16), default=OrgStatus.PENDING, index=True)
    rejection_reason: Mapped[str | None] = mapped_column(Text)


class OrganisationMember(TimestampMixin, Base):
    __tablename__ = "organisation_members"
    __table_args__ = (UniqueConstraint("organisation_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    organisation_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[MemberRole] = mapped_column(String(8), default=MemberRole.MEMBER)


class Invitation(IdMixin, TimestampMixin, Base):
    """An owner's invitation to join, mailed as a link with a single-use token.

    Only the token's SHA-256 is stored, so a leaked database cannot be used to join.
    """

    __tablename__ = "organisation_invitations"
    __table_args__ = (Index("ix_organisation_invitations_org_email", "organisation_id", "email"),)

    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[MemberRole] = mapped_column(String(8), default=MemberRole.MEMBER)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]


class Posting(Base):
    """What a need with seats (a mentor programme) asks of the volunteers who apply."""

    __tablename__ = "postings"

    post_id: Mapped[str] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    training: Mapped[str | None] = mapped_column(String(300))
    police_certificate: Mapped[bool] = mapped_column(Boolean, default=False)
    hours_per_week: Mapped[float | None] = mapped_column(Float)
    duration: Mapped[str | None] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Application(IdMixin, TimestampMixin, Base):
    """A volunteer's application to a posting: pending -> accepted | declined | withdrawn."""

    __tablename__ = "applications"
    __table_args__ = (
        UniqueConstraint("post_id", "volunteer_id"),
        Index("ix_applications_post_status", "post_id", "status"),
        Index("ix_applications_volunteer_created", "volunteer_id", "created_at"),
    )

    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    volunteer_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[ApplicationStatus] = mapped_column(String(16), default=ApplicationStatus.PENDING)
    message: Mapped[str] = mapped_column(Text, default="")
    # The organisation's optional words with its decision, shown to the volunteer.
    decision_message: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Client(IdMixin, TimestampMixin, Base):
    """A person without an account whom a caseworker posts needs for.

    Data minimisation: a first name or initials and spoken languages, and when consent was
    given; nothing else is stored.
    """

    __tablename__ = "organisation_clients"

    organisation_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(40))
    languages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    consent_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ClientPost(Base):
    """A need an organisation posted on a client's behalf."""

    __tablename__ = "client_posts"

    post_id: Mapped[str] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(
        ForeignKey("organisation_clients.id", ondelete="CASCADE"), index=True
    )


# Closed sets of values, also CHECK constraints (migrations name them ck_<table>_<column>).
checked(Organisation.__table__, status=OrgStatus)
checked(OrganisationMember.__table__, role=MemberRole)
checked(Invitation.__table__, role=MemberRole)
checked(Application.__table__, status=ApplicationStatus)
