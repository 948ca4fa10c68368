"""The agent's one error: a step of rebuilding a task failed, and the message says which."""

from __future__ import annotations

from tunelab.errors import TunelabError


class AgentError(TunelabError):
    """A task's code, environment or process could not be set up on this machine."""

    status = 500
    code = "agent_error"
