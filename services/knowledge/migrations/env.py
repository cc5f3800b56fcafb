"""Alembic environment of the knowledge service (see shared/migrations.py)."""
from shared.migrations import run_env

run_env()
