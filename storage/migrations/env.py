"""Alembic environment: runs migrations against the URL set by storage.db.alembic_config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from storage.models import Base

target_metadata = Base.metadata


def run() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "storage.db.alembic_config sets sqlalchemy.url"
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url)
    with engine.connect() as connection:
        # render_as_batch lets ALTER-style migrations work on SQLite.
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
