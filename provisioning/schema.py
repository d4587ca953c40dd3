"""The registry's tables (SQLAlchemy Core), as the code uses them.

The migrations in ``provisioning/migrations/versions`` create the same tables and stay
frozen once released; this module describes the newest revision.

A UID is the primary key of ``tags`` and rows are never deleted, so a UID is unique forever.
A partial unique index (``state = 'active'``) allows one active tag per customer on both
SQLite and PostgreSQL; ``tags.customer`` being a single column gives one customer per tag.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator

STATES = ("in_stock", "issued", "active", "spoiled", "retired")
FINAL_STATES = frozenset({"spoiled", "retired"})


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stored as naive UTC on every dialect, returned as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the registry; use UTC")
        aware: dt.datetime = value
        return aware.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        naive: dt.datetime = value
        return naive.replace(tzinfo=dt.UTC)


metadata = MetaData()

providers = Table(
    "providers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("per_customer", Integer, nullable=True),  # NULL: the configured default policy
    Column("spare", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("kind", String(16), nullable=False, server_default=text("'municipal'")),
    Column("price_ore", Integer, nullable=True),  # private providers: price per tag in öre
)

customers = Table(
    "customers",
    metadata,
    Column("ref", String(120), primary_key=True),  # psn:<key_id>:<hex> or ext:<id>
    Column("provider_id", String(64), ForeignKey("providers.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("ended_on", Date, nullable=True),  # home care ended (customer_life.END_REASONS)
    Column("end_reason", String(32), nullable=True),
    Column("lock_installed_on", Date, nullable=True),  # digital lock: no tag needed
    Column("lock_removed_on", Date, nullable=True),
    Column("household", String(64), nullable=True),  # cohabitants share one
    Index("ix_customers_provider", "provider_id"),
    Index("ix_customers_household", "household"),
)

batches = Table(
    "batches",
    metadata,
    Column("name", String(120), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("operator", String(120), nullable=False),
    Column("provisioned", Integer, nullable=False, server_default=text("0")),
    Column("spoiled", Integer, nullable=False, server_default=text("0")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
)

tags = Table(
    "tags",
    metadata,
    Column("uid", String(32), primary_key=True),  # upper-case hex
    Column("state", String(16), nullable=False),
    Column("product", String(32), nullable=True),
    Column("token", String(128), nullable=True, unique=True),
    Column("batch", String(120), ForeignKey("batches.name"), nullable=True),
    Column("provider_id", String(64), ForeignKey("providers.id"), nullable=True),
    Column("customer_ref", String(120), ForeignKey("customers.ref"), nullable=True),
    Column("issued_to", String(64), ForeignKey("providers.id"), nullable=True),
    Column("issued_month", String(7), nullable=True),  # YYYY-MM of the pickup (invoicing)
    Column("created_at", UTCDateTime, nullable=False),
    Column("issued_at", UTCDateTime, nullable=True),
    Column("attached_at", UTCDateTime, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),  # spoiled or retired
    Column("label", String(64), nullable=True),  # name label or colour on the door
    Column("issued_by", String(120), nullable=True),  # pickup operator (invoicing)
    Column("issued_price_ore", Integer, nullable=True),  # a private provider's price then
    Column("ndef_sha256", String(64), nullable=True),  # hash of the NDEF written (issue 15)
    CheckConstraint(
        "state IN ('in_stock', 'issued', 'active', 'spoiled', 'retired')", name="ck_tags_state"
    ),
    Index("ix_tags_stock", "state", "created_at", "uid"),
    Index("ix_tags_provider_state", "provider_id", "state"),
    Index("ix_tags_issued", "issued_month", "issued_to"),
    Index(
        "ux_tags_one_active_per_customer",
        "customer_ref",
        unique=True,
        sqlite_where=text("state = 'active'"),
        postgresql_where=text("state = 'active'"),
    ),
)


# issue 14: SUN tags (NTAG 424 DNA): what provisioning set, so a tap can be checked against
# it. No key is stored: per-tag keys are derived from the master key (a credential) with
# the key version, and the SDM settings are the ChangeFileSettings data written.
sun_tags = Table(
    "sun_tags",
    metadata,
    Column("uid", String(32), ForeignKey("tags.uid"), primary_key=True),
    Column("product", String(32), nullable=False),
    Column("key_version", Integer, nullable=False),
    Column("sdm_settings", String(128), nullable=False),  # hex of ChangeFileSettings data
    Column("template_url", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),  # ISO 8601 UTC text: hashed exactly as stored
    Column("operator", String(120), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(160), nullable=False),
    Column("details", Text, nullable=False),  # canonical JSON
    Column("reason", Text, nullable=False),
    Column("os_user", String(120), nullable=False, server_default=text("''")),  # 0006_issue12
    Column("purged", Integer, nullable=False, server_default=text("0")),  # 0007_issue12
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_subject", "subject", "seq"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

pseudonym_keys = Table(  # revision 0006_issue12: each key id's fingerprint, recorded on first use
    "pseudonym_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("scheme", String(32), nullable=False),  # hmac-sha256 (before 0006_issue12) or argon2id
    Column("params", Text, nullable=False),  # canonical JSON
    Column("created_at", UTCDateTime, nullable=False),
)

periods = Table(
    "periods",
    metadata,
    Column("month", String(7), primary_key=True),  # YYYY-MM, calendar month in Stockholm
    Column("locking_date", Date, nullable=False),
    Column("closed_at", UTCDateTime, nullable=False),
    Column("operator", String(120), nullable=False),
    Column("anchor_seq", Integer, nullable=False),  # the audit head when it was closed
    Column("anchor_hash", String(64), nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("provider_id", String(64), ForeignKey("providers.id"), nullable=False),
    Column("count", Integer, nullable=False),
    Column("picked", Integer, nullable=False, server_default=text("0")),  # so far
    Column("pickup_on", Date, nullable=False),
    Column("state", String(16), nullable=False),
    Column("operator", String(120), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("fulfilled_at", UTCDateTime, nullable=True),
    CheckConstraint("state IN ('open', 'fulfilled', 'cancelled')", name="ck_orders_state"),
    Index("ix_orders_due", "state", "pickup_on"),
)

spot_checks = Table(
    "spot_checks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("month", String(7), nullable=False),  # YYYY-MM of ``at`` (the report's key)
    Column("operator", String(120), nullable=False),
    Column("uid", String(32), nullable=False),
    Column("customer_ref", String(120), nullable=True),  # the customer asked about or attached
    Column("provider_id", String(64), nullable=True),  # that customer's provider
    Column("passed", Boolean, nullable=False),
    Column("failed", String(200), nullable=False),  # failed check names, comma-separated
    Column("audit_seq", Integer, nullable=False),  # the audit row recording it
    Index("ix_spot_checks_month", "month", "provider_id"),
)


# Web accounts (desk operators, coordinators, administrators). A removed account leaves its
# name in the audit trail only; the row itself is deleted (Nacka: removed after 2 years).
ROLES = ("desk", "coordinator", "admin")

accounts = Table(
    "accounts",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("totp_secret", String(64), nullable=True),  # NULL until two-factor is enrolled
    Column("totp_last_step", Integer, nullable=True),  # a code is accepted once
    Column("failed_logins", Integer, nullable=False, server_default=text("0")),
    Column("locked_at", UTCDateTime, nullable=True),  # too many failures: an admin unlocks
    Column("disabled_at", UTCDateTime, nullable=True),
    Column("disabled_reason", String(200), nullable=True),
    Column("last_login_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("role IN ('desk', 'coordinator', 'admin')", name="ck_accounts_role"),
)

account_providers = Table(
    "account_providers",
    metadata,
    Column("username", String(64), ForeignKey("accounts.username"), primary_key=True),
    Column("provider_id", String(64), ForeignKey("providers.id"), primary_key=True),
)
