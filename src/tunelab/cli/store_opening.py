"""What opening a store can do wrong, as one line and an exit code instead of a traceback.

The commands that open a database themselves (``server``, ``db upgrade``, ``user``,
``token``) wrap the opening::

    with opening_store(settings.database_url):
        app = create_app(settings)

A database that does not answer, or a folder or file that cannot be made, ends the command
with ``error: ...``: exit 1 for a database to wait for, 2 for a setting to fix. A URL that
cannot be read is the store's own ConfigError already (``store.engine.parsed_url``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tunelab.errors import ConfigError, DatabaseUnavailable


@contextmanager
def opening_store(database_url: str) -> Iterator[None]:
    """A URL that cannot be read is the store's own ConfigError (``parsed_url``); this
    adds the database that does not answer and the file that cannot be made."""
    import sqlalchemy as sa

    from tunelab.store.engine import parsed_url

    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        where = parsed_url(database_url).render_as_string(hide_password=True)
        why = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailable(f"cannot open the database {where}: {why}") from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise ConfigError(f"{where}{exc.strerror or exc}") from None
