"""What route functions receive: the store's connection, inside one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request

from tunelab.domain.access import Principal
from tunelab.server.authorize import current_principal
from tunelab.server.settings import ServerSettings


def _connection(request: Request) -> Iterator[sa.Connection]:
    engine: sa.Engine = request.app.state.engine
    with engine.begin() as conn:
        yield conn


def _settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


# scope="function": commit before the response is sent, so a client never sees success for
# a write whose commit then failed (a PostgreSQL serialization error, a full disk).
Conn = Annotated[sa.Connection, Depends(_connection, scope="function")]
Settings = Annotated[ServerSettings, Depends(_settings)]
# The account the request acts for (``server.authorize``).
Who = Annotated[Principal, Depends(current_principal)]
