"""Alembic migrations of the pyjobs schema."""
