"""Starting a task in a linked repository's CI: the forge's API asked to run the workflow
the CI setup wizard wrote, with the task's id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunelab.errors import ConfigError, ForgeError, InvalidInput
from tunelab.forge import forge_for
from tunelab.gitops.ci_settings import CiSettings


def dispatch_ci_run(
    settings: Any, project_repository: Mapping[str, Any], task_id: str, ref: str
) -> None:
    """Ask the repository's forge to run the task's CI job on ``ref`` (a branch or tag that
    holds the workflow file). The workflow file is the one saved in the wizard (the
    default ``tunelab.yml`` when never saved).

    ConfigError (400) when the server's config file has no ``[[forge]]`` for the repository;
    ForgeError (409) with the forge's message when it refuses."""
    url = str(project_repository["url"])
    client = forge_for(settings, url)
    if client is None:
        raise ConfigError(
            f"no forge is configured for {url}: add a [[forge]] entry (url, kind, token) for "
            "it to the server's config file to run tasks in its CI",
            {"repository": url},
        )
    saved = project_repository.get("ci_settings")
    try:
        ci = CiSettings.from_dict(saved) if isinstance(saved, Mapping) else CiSettings()
    except InvalidInput:
        # Saved by another version with other fields: read as never saved (store.ci_settings).
        ci = CiSettings()
    try:
        client.dispatch_workflow(
            url, workflow=ci.workflow_file, ref=ref, inputs={"task_id": task_id}
        )
    except ForgeError as exc:
        raise ForgeError(f"the task's CI job was not started: {exc.message}", exc.detail) from None
