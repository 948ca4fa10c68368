"""What opening a store can do wrong, as one line and an exit code instead of a traceback.

The commands that open a database themselves (``server``, ``db upgrade``, ``user``,
``token``) wrap the opening::

    with opening_store(settings.database_url):
        app = create_app(settings)

A URL SQLAlchemy cannot read, a database that does not answer, a folder or file that cannot
be made each end the command with ``error: ...`` (exit 2 for a setting to fix, 1 for a
database to wait for).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tunelab.errors import ConfigError, DatabaseUnavailable


@contextmanager
def opening_store(database_url: str) -> Iterator[None]:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    try:
        yield
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"invalid database URL {database_url!r}: {exc}") from None
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        where = make_url(database_url).render_as_string(hide_password=True)
        why = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailable(f"cannot open the database {where}: {why}") from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise ConfigError(f"{where}{exc.strerror or exc}") from None
