"""Request bodies of the account routes (users, API keys, project members)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

from tunelab.server.api.task_models import _Body

UserName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Password = Annotated[str, StringConstraints(max_length=1024)]
KeyName = Annotated[str, StringConstraints(max_length=128)]


class UserCreate(_Body):
    name: UserName
    kind: Literal["member", "admin", "worker"] = "member"
    # None only for a worker account: it signs in with API keys, never a password.
    password: Password | None = None


class UserUpdate(_Body):
    disabled: bool | None = None
    password: Password | None = None


class TokenCreate(_Body):
    name: KeyName = ""
    # Whose key: an admin may make one for another account (an agent's worker account).
    user: UserName | None = None


class MemberRole(_Body):
    role: Literal["viewer", "editor", "owner"]
