"""The Tunelab agent: takes tasks from queues and runs them again on this machine.

Small parts, each passed in through a constructor (Prefect's runner is the model):

- ``RepositoryCache`` checks a task's code out of a cached mirror and applies its diff;
- ``EnvironmentBuilder`` builds (and caches) the Python environment with ``uv``;
- ``Launcher`` runs the entry point in its own process group and streams its output;
- ``ConsoleSink`` sends that output to the task's console in batches, keeping it in a
  ``ConsoleSpool`` on disk while the server does not answer;
- ``Heartbeat`` keeps the worker alive and hears the stop requests;
- ``TaskRunner`` runs one task from checkout to recorded outcome;
- ``AgentDaemon`` registers the worker and takes tasks from its queues one at a time.
"""

from __future__ import annotations

from tunelab.agent.errors import AgentError

__all__ = ["AgentError"]
