"""A Hydra app recorded locally is cloned, its ``Hydra`` overrides or its ``OmegaConf``
configuration edited, and a real agent re-runs the unchanged script from git with the edits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.agents import agent_daemon
from tests.gitrepo import new_repo
from tests.scripts import run_script, script_env, unique
from tests.sdk.capture.hydra_app import APP, COMPOSED, CONFIG_FILES, param, printed_cfgs
from tests.waiting import final_status
from tunelab.sdk.transport import ApiClient


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _rerun(client: ApiClient, task_id: str, queue: str) -> tuple[dict[str, Any], str]:
    client.enqueue_task(task_id, queue=queue)
    done = final_status(client, task_id, timeout=240)  # the first re-run builds the environment
    console = "\n".join(x["text"] for x in client.get_console(task_id, limit=10000)["lines"])
    assert done["status"] == "completed", console
    return done, console


def test_an_agent_reruns_a_hydra_app_with_edited_overrides_then_an_edited_config(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("hydra-rerun")
    repo = new_repo(
        tmp_path / "repo",
        {
            "app.py": f"PROJECT = {project!r}\n{APP}",
            ".gitignore": "outputs/\nmultirun/\n",  # Hydra's run folders
            **CONFIG_FILES,
        },
    )
    local = run_script(repo / "app.py", script_env(api_url, tmp_path), "training.lr=0.5")
    assert local.returncode == 0, local.stderr
    (original,) = client.list_tasks(project=project)["items"]
    recorded = client.get_task(original["id"])
    assert recorded["hyperparameters"]["Hydra"]["training.lr"]["value"] == "0.5"
    assert "hydra-core" in recorded["execution"]["requirements"]

    queue = unique("hydra")
    with agent_daemon(api_url, tmp_path, queue):
        # An edited override, and a config group chosen at re-run time.
        draft = client.clone_task(original["id"])
        client.set_hyperparameters(
            draft["id"],
            {"Hydra": {"training.lr": param("0.25", "float"), "db": param("postgresql")}},
        )
        _, console = _rerun(client, draft["id"], queue)
        (seen,) = printed_cfgs(console)
        assert seen == {
            **COMPOSED,
            "db": {"driver": "postgresql", "port": 5432},
            "training": {"lr": 0.25, "epochs": 2},
        }
        assert isinstance(seen["training"]["lr"], float)

        # The whole OmegaConf object edited: used because _allow_omegaconf_edit_ is true.
        draft = client.clone_task(original["id"])
        omegaconf = recorded["configuration"]["OmegaConf"]
        edited = yaml.safe_load(omegaconf["text"])
        edited["training"] = {"lr": 0.01, "epochs": 9, "schedule": "cosine"}
        client.set_configuration(
            draft["id"], {"OmegaConf": {**omegaconf, "text": yaml.safe_dump(edited)}}
        )
        client.set_hyperparameters(
            draft["id"], {"Hydra": {"_allow_omegaconf_edit_": param("True", "bool")}}
        )
        done, console = _rerun(client, draft["id"], queue)
        assert printed_cfgs(console) == [edited]
        assert yaml.safe_load(done["configuration"]["OmegaConf"]["text"]) == edited
