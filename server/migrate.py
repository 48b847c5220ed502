"""Apply Alembic migrations programmatically (``c2m migrate`` and ``c2m serve``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations
from infra.resources import normalise_database_url


def alembic_config(database_url: str) -> Config:
    here = Path(migrations.__file__).parent
    cfg = Config(str(here / "alembic.ini"))
    cfg.set_main_option("script_location", str(here))
    cfg.attributes["database_url"] = normalise_database_url(database_url)
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Must be called outside a running event loop (env.py uses asyncio.run)."""
    command.upgrade(alembic_config(database_url), revision)
