"""The migrations build exactly the schema the code declares, and can be walked back."""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tunelab.store.migrations import alembic_config, upgrade
from tunelab.store.schema import metadata

# Expression indexes cannot be reflected, so autogenerate always reports them as changed.
_EXPRESSION_INDEXES = {"ix_task_params_section_name_number"}


def _drift(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "skipping expression-based index" notices
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    return [d for d in diffs if not (isinstance(d, tuple) and d[1].name in _EXPRESSION_INDEXES)]


def test_migrated_schema_matches_the_declared_one(engine: sa.Engine) -> None:
    assert _drift(engine) == []


def test_downgrade_to_the_first_revision_and_back(engine: sa.Engine) -> None:
    command.downgrade(alembic_config(engine), "0001")
    assert "queues" not in sa.inspect(engine).get_table_names()
    upgrade(engine)
    assert _drift(engine) == []
