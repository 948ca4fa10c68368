"""``tunelab launcher --backend kubernetes`` against a fake Kubernetes API server and a real
Tunelab server.

No real API server can run where these tests run, so ``fake_kube`` stands in for one: it
answers the Job, Pod and Secret requests the official ``kubernetes`` client makes, with the
API's own JSON shapes, and runs each Job's container command as a local process, so every
task really executes (``tunelab agent execute`` checks out a real git repository and runs
the script against the real server). The launcher is a real process talking to it through
a kubeconfig. The generated Jobs are checked against Kubernetes' schema with the client's
own models (``V1Job``: unknown fields and wrong types are refused).
"""

from __future__ import annotations

import base64
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.launchers.fake_kube import FakeCluster, fake_cluster
from tests.launchers.support import console_lines, draft, launcher_command, running, training_repo
from tests.scripts import script_env, unique
from tests.waiting import final_status, wait_for
from tunelab.cli.main import cli
from tunelab.domain.resources import Resources
from tunelab.launchers.base import JobRequest, LaunchError
from tunelab.launchers.kubernetes import Kubernetes
from tunelab.launchers.kubernetes_manifest import (
    JobSpec,
    job_manifest,
    load_template,
    parse_toleration,
)
from tunelab.sdk.transport import ApiClient

TEMPLATE = """
apiVersion: batch/v1
kind: Job
metadata:
  annotations:
    team: vision
spec:
  backoffLimit: 3
  template:
    spec:
      priorityClassName: research
      containers:
        - name: main
          image: template-image
          env:
            - name: FROM_TEMPLATE
              value: "yes"
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    marker = '" TEMPLATE " + os.environ.get("FROM_TEMPLATE", "none")'
    return training_repo(tmp_path_factory, "kube", marker)


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, server: Any
) -> Iterator[tuple[FakeCluster, Path]]:
    """One fake cluster for the module; its pods get the environment of a user's machine
    (a private HOME) as their image's."""
    home = tmp_path_factory.mktemp("kube-home")
    with fake_cluster(home / "cluster", script_env(server.url, home)) as found:
        yield found


@pytest.fixture(scope="module")
def pod_work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The agent's work dir in every pod of the module, as a volume kept between tasks:
    the task environment is built once."""
    return tmp_path_factory.mktemp("kube-pods")


@contextlib.contextmanager
def launcher(
    api_url: str, kubeconfig: Path, work: Path, queue: str, *options: str
) -> Iterator[subprocess.Popen[str]]:
    """A real ``tunelab launcher --backend kubernetes``; SIGTERM at the end."""
    command = launcher_command(
        queue,
        "kubernetes",
        "--kubeconfig",
        str(kubeconfig),
        "--namespace",
        "tunelab",
        "--image",
        "ghcr.io/acme/tunelab:1",
        "--worker-id",
        f"kube:{queue}",
        "--tunelab",
        str(Path(sys.executable).parent / "tunelab"),
        *options,
    )
    with running(command, script_env(api_url, work), work / "launcher.log") as proc:
        yield proc


def _console(client: ApiClient, task_id: str) -> str:
    return "\n".join(console_lines(client, task_id))


def _created(cluster: FakeCluster, task_id: str) -> list[dict[str, Any]]:
    """The Jobs posted for the task."""
    return [
        job
        for job in cluster.created
        if job["metadata"]["annotations"]["tunelab.ai/task-id"] == task_id
    ]


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def test_a_task_runs_as_a_job_once_with_its_values_and_its_own_key_across_a_restart(
    api_url: str,
    client: ApiClient,
    cluster: tuple[FakeCluster, Path],
    repo: tuple[Path, str],
    pod_work_dir: Path,
    tmp_path: Path,
) -> None:
    fake, kubeconfig = cluster
    queue = unique("kube")
    pods = ("--pod-work-dir", str(pod_work_dir))
    go = tmp_path / "go"
    first = draft(client, repo, "lr-0.5", lr="0.5", wait_for=str(go))
    client.update_task(
        first, resources={"cpus": 1, "memory": "300M", "time_limit": "30m", "gpus": 1,
                          "gpu_type": "A100-SXM4-80GB"}
    )  # fmt: skip
    client.enqueue_task(first, queue=queue)
    template = tmp_path / "job.yaml"
    template.write_text(TEMPLATE)
    options = ("--ttl", "0", "--job-template", str(template),
               "--node-selector", "pool=gpu", "--toleration", "nvidia.com/gpu:NoSchedule",
               "--service-account", "tunelab-jobs", "--image-pull-secret", "registry",
               *pods)  # fmt: skip
    with launcher(api_url, kubeconfig, tmp_path, queue, *options) as crashed:
        wait_for(lambda: "training" in _console(client, first), 60, "the first script to run")
        (job,) = _created(fake, first)
        name = job["metadata"]["name"]
        # While the job runs: its Secret holds the task's own key, the Info tab its state.
        assert name in fake.secret_names()
        secret = fake.secrets[("tunelab", name)]
        key = base64.b64decode(secret["data"]["TUNELAB_API_TOKEN"]).decode()
        assert key.startswith("tlt_") and secret["metadata"]["labels"]["tunelab.ai/task-id"]
        wait_for(lambda: client.get_task(first)["launch"]["state"] == "RUNNING", 10, "RUNNING")
        crashed.kill()  # no drain, no goodbye: as a crash; the job runs on
        crashed.wait()
    # Started again, the launcher finds its running job from the task and follows it.
    with launcher(api_url, kubeconfig, tmp_path, queue, *options) as proc:
        found = "1 found again"
        wait_for(lambda: found in (tmp_path / "launcher.log").read_text(), 30, "the restart")
        assert client.get_task(first)["status"] == "running"
        go.touch()
        final_status(client, first, timeout=60)
        wait_for(lambda: client.get_task(first)["launch"]["state"] == "COMPLETED", 15,
                 "the job's end on the task")  # fmt: skip
        # The finished Job past the TTL (0 s here) is deleted by the launcher once it read
        # the Job's end; the Secret went at that end.
        wait_for(lambda: not fake.jobs, 15, "the finished Job to be deleted")
        task = client.get_task(first)
        assert proc.poll() is None
    console = _console(client, first)
    assert task["status"] == "completed", (console, (tmp_path / "launcher.log").read_text())
    assert client.get_metrics(first)["metrics"]["seen"]["lr"]["last"] == 0.5
    (job,) = _created(fake, first)  # submitted once: followed, not submitted again
    assert task["launch"]["backend"] == "kubernetes"
    assert (task["launch"]["job_id"], task["launch"]["state"]) == (name, "COMPLETED")
    assert task["worker"] == f"kube:{queue}"
    assert name not in fake.secret_names()
    # The key came from the Secret (the task's own), the template's variable beside it.
    assert "KEY tlt_ TEMPLATE yes" in console
    # The task's resources, the launcher's settings, the template under them.
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    wanted = {"cpu": "1", "memory": "300Mi", "nvidia.com/gpu": "1"}
    assert container["resources"] == {"requests": wanted, "limits": wanted}
    assert container["image"] == "ghcr.io/acme/tunelab:1"
    assert container["name"] == "task"
    assert pod["nodeSelector"] == {"pool": "gpu", "nvidia.com/gpu.product": "A100-SXM4-80GB"}
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert pod["serviceAccountName"] == "tunelab-jobs"
    assert pod["imagePullSecrets"] == [{"name": "registry"}]
    assert pod["priorityClassName"] == "research"  # from the template
    assert job["metadata"]["annotations"]["team"] == "vision"
    assert (job["spec"]["backoffLimit"], job["spec"]["activeDeadlineSeconds"]) == (0, 1800)
    assert job["spec"]["ttlSecondsAfterFinished"] == 0
    env = {variable["name"]: variable for variable in container["env"]}
    assert env["TUNELAB_API_TOKEN"]["valueFrom"] == {
        "secretKeyRef": {"name": name, "key": "TUNELAB_API_TOKEN"}
    }


def test_failing_pods_fail_their_tasks_with_the_reason_and_stop_deletes_the_job(
    api_url: str,
    client: ApiClient,
    cluster: tuple[FakeCluster, Path],
    repo: tuple[Path, str],
    pod_work_dir: Path,
    tmp_path: Path,
) -> None:
    fake, kubeconfig = cluster
    queue = unique("kube-fail")
    pods = ("--pod-work-dir", str(pod_work_dir))
    never = str(tmp_path / "never")
    oom = draft(client, repo, "oom", image="acme/oom:1")
    pull = draft(client, repo, "pull", image="acme/pull-error:1")
    late = draft(client, repo, "late", wait_for=never)
    client.update_task(late, resources={"time_limit": "4s"})
    stuck = draft(client, repo, "stuck", image="acme/unschedulable:1")
    forever = draft(client, repo, "forever", wait_for=never)
    for task_id in (stuck, forever, late, pull, oom):  # the last waits for a free slot
        client.enqueue_task(task_id, queue=queue)
    with launcher(api_url, kubeconfig, tmp_path, queue, "--max-jobs", "4", *pods):
        wait_for(lambda: "training" in _console(client, forever), 60, "the script to run")
        forever_job = client.get_task(forever)["launch"]["job_id"]
        client.stop_task(forever)
        wait_for(
            lambda: "Unschedulable" in client.get_task(stuck)["launch"]["reason"], 10, "pending"
        )
        stuck_launch = client.get_task(stuck)["launch"]
        client.stop_task(stuck)
        done = {t: final_status(client, t, timeout=30) for t in (oom, pull, late, stuck, forever)}
    log = (tmp_path / "launcher.log").read_text()
    reasons = {t: (task["status"], task["status_reason"]) for t, task in done.items()}
    assert reasons[oom] == ("failed", "out of memory"), log
    assert reasons[late] == ("failed", "time limit"), _console(client, late)
    assert reasons[pull][0] == "failed"
    assert reasons[pull][1].startswith("image pull failed: ImagePullBackOff: Back-off pulling")
    assert "tunelab launcher: task failed: out of memory" in _console(client, oom)
    # Pending for want of a node: the Info tab says so; Stop deletes it at once.
    assert stuck_launch["state"] == "PENDING"
    assert stuck_launch["reason"].startswith("Unschedulable: 0/1 nodes are available")
    assert reasons[stuck][0] == "stopped"
    # Stop deleted the running Job with the grace period; its Secret went with it.
    assert reasons[forever][0] == "stopped", _console(client, forever)
    assert ("job", forever_job, 2) in fake.deleted
    assert ("job", stuck_launch["job_id"], 0) in fake.deleted
    assert fake.job(forever_job) is None and forever_job not in fake.secret_names()
    for task_id in done:
        assert len(_created(fake, task_id)) == 1
    # The task's image, not the launcher's, is what the cluster pulled.
    assert _created(fake, oom)[0]["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "acme/oom:1"
    )
    # At most four jobs in flight: the fifth (oom) was created once the launcher saw one of
    # the first four end (pull-error, whose Job it deleted).
    names = {_created(fake, t)[0]["metadata"]["name"] for t in done}
    running: set[str] = set()
    most = 0
    for kind, name, _ in fake.events:  # a Job is in flight from its creation to its end
        if name in names and kind == "created":
            running.add(name)
        elif name in names:
            running.discard(name)
        most = max(most, len(running))
    assert most == 4


def _request(**resources: Any) -> JobRequest:
    env = {"TUNELAB_API_TOKEN": "tlt_secret", "TUNELAB_API_URL": "http://tunelab", "HOME": "/x",
           "TUNELAB_LAUNCHER": "kubernetes", "PYTHONUNBUFFERED": "1"}  # fmt: skip
    command = ["tunelab", "agent", "execute", "--id", "abc"]
    return JobRequest("abc", "train", Resources.from_dict(resources), command, env)


def test_generated_jobs_follow_the_kubernetes_schema_and_a_bad_template_is_refused(
    cluster: tuple[FakeCluster, Path], tmp_path: Path
) -> None:
    from kubernetes import client as kube

    _, kubeconfig = cluster
    good = Kubernetes(
        JobSpec(namespace="ml", image="img:1", template=load_template(TEMPLATE)),
        launcher="host:kubernetes:gpu",
        kubeconfig=str(kubeconfig),
    )
    job, secret = good.manifests(_request(gpus=2, cpus=8, memory="16G", time_limit="2h"), "j")
    model = kube.V1Job.model_validate(job)  # the client's schema: extra fields are refused
    assert model.spec is not None and model.spec.active_deadline_seconds == 7200
    assert kube.ApiClient().sanitize_for_serialization(model) == job  # nothing dropped
    kube.V1Secret.model_validate(secret)
    # The launcher's own variables stay home: only the server, and the key from the Secret.
    names = [v["name"] for v in job["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert sorted(names) == ["FROM_TEMPLATE", "PYTHONUNBUFFERED", "TUNELAB_API_TOKEN",
                             "TUNELAB_API_URL", "TUNELAB_LAUNCHER"]  # fmt: skip
    assert "tlt_secret" not in str(job)
    for bad, field in [
        ("spec:\n  backofLimit: 2\n", "backofLimit"),  # a misspelled field
        ("spec:\n  activeDeadlineSeconds: soon\n", "activeDeadlineSeconds"),  # a wrong type
        ("spec:\n  template:\n    spec:\n      nodeSelecter: {a: b}\n", "nodeSelecter"),
    ]:
        backend = Kubernetes(
            JobSpec(template=load_template(bad)), launcher="l", kubeconfig=str(kubeconfig)
        )
        with pytest.raises(LaunchError, match=field):
            backend.check()
    # The launcher refuses to start with such a template.
    path = tmp_path / "bad.yaml"
    path.write_text("spec:\n  backofLimit: 2\n")
    result = CliRunner().invoke(
        cli,
        ["launcher", "--queue", "q", "--backend", "kubernetes", "--image", "i",
         "--kubeconfig", str(kubeconfig), "--job-template", str(path)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "not a valid batch/v1 Job" in result.output and "backofLimit" in result.output


def test_the_template_gives_defaults_and_extra_fields_and_the_generated_job_wins() -> None:
    template = load_template(
        """
spec:
  backoffLimit: 4
  template:
    spec:
      tolerations: [{key: spot, operator: Exists}]
      volumes: [{name: cache, emptyDir: {}}]
      containers:
        - name: main
          image: template-image
          env: [{name: A, value: "1"}, {name: TUNELAB_API_URL, value: "http://elsewhere"}]
          volumeMounts: [{name: cache, mountPath: /cache}]
        - name: sidecar
          image: proxy:1
"""
    )
    request = _request(gpus=1, gpu_type="mig-1g.10gb")
    plain = job_manifest(JobSpec(template=template, gpu_type_label=""), "j", request, "l")
    pod = plain["spec"]["template"]["spec"]
    main, sidecar = pod["containers"]
    assert (main["name"], main["image"], plain["spec"]["backoffLimit"]) == (
        "task",
        "python:3.12-slim",
        0,
    )
    assert main["volumeMounts"] == [{"name": "cache", "mountPath": "/cache"}]
    assert pod["volumes"] == [{"name": "cache", "emptyDir": {}}]
    env = {variable["name"]: variable.get("value") for variable in main["env"]}
    assert (env["A"], env["TUNELAB_API_URL"]) == ("1", "http://tunelab")  # the task's wins
    assert sidecar == {"name": "sidecar", "image": "proxy:1"}
    assert pod["tolerations"] == [{"key": "spot", "operator": "Exists"}]
    # A GPU type as a resource name of its own (no node label configured).
    assert main["resources"]["limits"] == {"nvidia.com/mig-1g.10gb": "1"}
    assert "nodeSelector" not in pod
    # The launcher's tolerations replace the template's list.
    own = JobSpec(template=template, tolerations=(parse_toleration("gpu=a100:NoExecute"),))
    pod = job_manifest(own, "j", request, "l")["spec"]["template"]["spec"]
    assert pod["tolerations"] == [
        {"key": "gpu", "operator": "Equal", "value": "a100", "effect": "NoExecute"}
    ]
    with pytest.raises(ValueError):
        parse_toleration("gpu:Sometimes")
    with pytest.raises(ValueError, match="not a Pod"):
        load_template("kind: Pod\n")
