"""Schema upgrades take turns: a process that finds another upgrading waits, says so, and
goes on once the other is done (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import logging
import threading

import pytest
import sqlalchemy as sa

from tests.waiting import wait_for
from tunelab.errors import DatabaseUnavailable
from tunelab.store import migrations
from tunelab.store.migration_lock import WAITING, upgrade_lock


def _waiting_said(caplog: pytest.LogCaptureFixture) -> bool:
    return any(record.getMessage() == WAITING for record in caplog.records)


def test_an_upgrade_waits_for_the_one_under_way(
    engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tunelab.store.migrations")
    outcome: list[BaseException | None] = []

    def upgrade() -> None:
        try:
            migrations.upgrade(engine)
            outcome.append(None)
        except BaseException as exc:  # reported by the test
            outcome.append(exc)

    with upgrade_lock(engine):
        other = threading.Thread(target=upgrade)
        other.start()
        wait_for(lambda: _waiting_said(caplog), 10, "the second upgrade to say it waits")
        assert other.is_alive() and not outcome
    other.join(30)
    assert outcome == [None]


def test_an_upgrade_gives_up_after_its_wait(engine: sa.Engine) -> None:
    with upgrade_lock(engine), pytest.raises(DatabaseUnavailable, match="upgrading the database"):
        migrations.upgrade(engine, wait=0.3)
    migrations.upgrade(engine, wait=0.3)  # released: the next one goes through at once
