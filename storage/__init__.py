"""Durable state: the SQL database (SQLAlchemy + Alembic) and the artifact directory."""
