"""Alembic environment: migrations run programmatically on a connection from the store.

``provisioning.store.migrate`` passes its open connection in ``config.attributes``; running
``alembic -c provisioning/migrations/alembic.ini ...`` by hand (to write a new revision)
uses ``sqlalchemy.url`` from the command line (``-x url=...``) instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from provisioning.schema import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("alembic: no database URL given (-x url=... or sqlalchemy.url)")
    engine = create_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
