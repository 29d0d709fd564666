"""Persistence: SQLAlchemy models (one metadata), session handling, Alembic migrations."""

from clickphone.db.session import Database

__all__ = ["Database"]
