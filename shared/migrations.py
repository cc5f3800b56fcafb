"""Alembic, per service (ARCHITECTURE.md "Storage": the schema is never created ad hoc).

Each service keeps its migrations in ``services/<name>/migrations/versions``; its ``env.py``
is two lines calling :func:`run_env`. ``upgrade(service, url)`` is what ``hotline migrate``
runs; tests use it too, so the schema under test is the migrated one.
"""

from __future__ import annotations

from importlib import import_module, resources
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData

from shared.database import ensure_database, make_engine


def alembic_config(service: str, url: str) -> Config:
    location = str(resources.files(f"services.{service}").joinpath("migrations"))
    cfg = Config()
    cfg.set_main_option("script_location", location)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


def upgrade(service: str, url: str, revision: str = "head") -> None:
    ensure_database(url)
    command.upgrade(alembic_config(service, url), revision)


def metadata_of(service: str) -> MetaData:
    return import_module(f"services.{service}.models").metadata


def run_env() -> None:
    """Body of every service's ``migrations/env.py`` (online mode only)."""
    cfg = context.config
    service = str(cfg.attributes.get("service") or cfg.get_main_option("service"))
    metadata = metadata_of(service)
    engine = make_engine(str(cfg.get_main_option("sqlalchemy.url")))
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=metadata,
                              render_as_batch=True, compare_type=True)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        engine.dispose()


def autogenerate(service: str, url: str, message: str, **kw: Any) -> None:
    """Developer helper: write a new revision from the models' difference to the database."""
    cfg = alembic_config(service, url)
    command.revision(cfg, message=message, autogenerate=True, **kw)


def create_messaging_tables(op: Any) -> None:
    """The outbox, inbox and per-order sequence tables every service has (shared/outbox.py).

    Called from each service's first migration so the definition lives in one place; later
    changes to these tables get a revision of their own in every service.
    """
    import sqlalchemy as sa

    from shared.types import UtcDateTime

    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=120), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id"))
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("ticket_no", sa.String(length=32), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("published_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"))
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"], unique=False)
    op.create_index("ix_outbox_ticket_no", "outbox", ["ticket_no"], unique=False)
    op.create_table(
        "ticket_sequence",
        sa.Column("ticket_no", sa.String(length=32), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_no"))


def drop_messaging_tables(op: Any) -> None:
    op.drop_table("ticket_sequence")
    op.drop_index("ix_outbox_ticket_no", table_name="outbox")
    op.drop_index("ix_outbox_published_at", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("inbox")
