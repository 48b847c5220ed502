"""Imports every bounded context's models so the metadata is complete (for Alembic)."""

from domain.base import Base
from domain.identity import models as identity_models  # noqa: F401

metadata = Base.metadata
