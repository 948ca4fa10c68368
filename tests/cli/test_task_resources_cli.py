"""``tunelab task set-resources`` against the real server: a draft's request changes field
by field, a clone keeps it, bad values and a finished task are refused with a message."""

from __future__ import annotations

from tests.cli.test_task_lifecycle_cli import failed, succeeded, tunelab
from tests.scripts import unique
from tunelab.sdk.transport import ApiClient


def test_set_resources_on_a_draft(env: dict[str, str], client: ApiClient) -> None:
    draft = client.create_task({"name": "r", "project": unique("cli-res")})["id"]
    line = succeeded(
        tunelab(env, "task", "set-resources", draft, "--gpus", "1", "--cpus", "4",
                "--memory", "16G", "--time", "2h")
    )  # fmt: skip
    assert line == f"resources of {draft}: 1 GPU, 4 CPUs, 16G memory, time limit 2:00:00"
    succeeded(tunelab(env, "task", "set-resources", draft, "--time", "90m", "--memory", ""))
    resources = client.get_task(draft)["resources"]
    assert (resources["gpus"], resources["cpus"], resources["memory"]) == (1, 4, "")
    assert resources["time_limit"] == "1:30:00"
    assert client.clone_task(draft)["resources"] == resources

    failed(tunelab(env, "task", "set-resources", draft, "--memory", "lots"), "memory")
    line = succeeded(tunelab(env, "task", "set-resources", draft, "--clear", "--cpus", "2"))
    assert line == f"resources of {draft}: 2 CPUs"
    client.update_task(draft, status="running")
    failed(tunelab(env, "task", "set-resources", draft, "--cpus", "8"), "running")
