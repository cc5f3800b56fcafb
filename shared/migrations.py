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
    service = cfg.attributes.get("service") or cfg.get_main_option("service")
    metadata = metadata_of(service)
    engine = make_engine(cfg.get_main_option("sqlalchemy.url"))
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
