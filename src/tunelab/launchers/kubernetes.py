"""Kubernetes: one ``batch/v1`` Job per task through the official ``kubernetes`` client.

Each task gets a Secret holding its key and a Job whose pod runs ``tunelab agent execute
--id TASK`` with the key from that Secret (``kubernetes_manifest`` builds both). States
come from the Job and its pod: ``PENDING`` with the pod's reason (``Unschedulable: 0/4
nodes are available...``, ``ContainerCreating``), ``RUNNING``, then ``COMPLETED`` or
``FAILED`` with the reason a task is failed with (``time limit`` for
``DeadlineExceeded``, ``out of memory`` for a container ``OOMKilled``). An image that
cannot be pulled (``ImagePullBackOff``, ``ErrImagePull``, ``InvalidImageName``) never
starts: its Job is deleted and the task fails ``image pull failed: ...``. A stop deletes
the Job with the grace period (the pod gets SIGTERM, then SIGKILL after it). The launcher
deletes a task's Secret once its Job ended, and its own finished Jobs (by their
``tunelab.ai/launcher`` label) past the TTL, beside ``ttlSecondsAfterFinished``.

Example::

    kube = Kubernetes(JobSpec(namespace="ml", image="ghcr.io/acme/train:1"),
                      launcher="login1:kubernetes:gpu", kubeconfig="~/.kube/config")
    job_id = kube.submit(request)   # "tunelab-4f2a...-x8k2q", the Job's name
    kube.states([job_id])           # {"tunelab-4f2a...-x8k2q": JobState("PENDING", ...)}
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tunelab.launchers.base import JobRequest, JobState, LaunchError
from tunelab.launchers.kubernetes_manifest import (
    CONTAINER,
    JobSpec,
    job_manifest,
    job_name,
    launcher_selector,
    secret_manifest,
)

REQUEST_TIMEOUT = 30.0
# How often the launcher looks for its own finished Jobs and left Secrets to delete.
SWEEP_INTERVAL = 60.0
PULL_FAILURES = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName")
# What a Job's failure condition or its container's end says of a task still running.
JOB_FAILURES = {"DeadlineExceeded": "time limit"}
CONTAINER_FAILURES = {"OOMKilled": "out of memory"}


class Kubernetes:
    """A Kubernetes cluster reached with a kubeconfig file or from inside a pod."""

    name = "kubernetes"

    def __init__(
        self,
        spec: JobSpec,
        *,
        launcher: str,
        kubeconfig: str = "",
        context: str = "",
        api_client: Any = None,
    ) -> None:
        self.spec = spec
        self.launcher = launcher
        self._api = api_client if api_client is not None else _connect(kubeconfig, context)
        from kubernetes import client

        self._batch = client.BatchV1Api(self._api)
        self._core = client.CoreV1Api(self._api)
        self._swept = 0.0

    # ----- submit -----------------------------------------------------------------------

    def manifests(self, job: JobRequest, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The Job and the Secret for ``job``, checked against Kubernetes' schema."""
        from kubernetes import client
        from pydantic import ValidationError

        manifest = job_manifest(self.spec, name, job, self.launcher)
        try:
            client.V1Job.model_validate(manifest)
        except ValidationError as exc:
            raise LaunchError(f"the Job is not a valid batch/v1 Job: {exc}") from exc
        return manifest, secret_manifest(self.spec, name, job, self.launcher)

    def check(self) -> None:
        """LaunchError now if the launcher's settings (its template) make no valid Job."""
        from tunelab.domain.resources import Resources

        sample = JobRequest("check", "check", Resources(gpus=1, cpus=1), ["tunelab"], {})
        self.manifests(sample, "tunelab-check")

    def submit(self, job: JobRequest) -> str:
        from kubernetes import client

        name = job_name(job.task_id)
        manifest, secret = self.manifests(job, name)
        namespace = self.spec.namespace
        self._call(
            "create the Secret",
            self._core.create_namespaced_secret,
            namespace,
            client.V1Secret.model_validate(secret),
        )
        try:
            self._call(
                "create the Job",
                self._batch.create_namespaced_job,
                namespace,
                client.V1Job.model_validate(manifest),
                field_validation="Strict",
            )
        except LaunchError:
            self._delete_secret(name)
            raise
        return name

    # ----- states -----------------------------------------------------------------------

    def states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        selector = launcher_selector(self.launcher)
        namespace = self.spec.namespace
        jobs = {
            item["metadata"]["name"]: item
            for item in self._call(
                "list Jobs", self._batch.list_namespaced_job, namespace, label_selector=selector
            )["items"]
        }
        pods: dict[str, list[Mapping[str, Any]]] = {}
        listed = self._call(
            "list Pods", self._core.list_namespaced_pod, namespace, label_selector=selector
        )
        for pod in listed["items"]:
            owner = (pod["metadata"].get("labels") or {}).get("job-name", "")
            pods.setdefault(owner, []).append(pod)
        found: dict[str, JobState] = {}
        still = set(job_ids)  # the Jobs the launcher follows after this read
        for job_id in job_ids:
            job = jobs.get(job_id)
            if job is None:
                self._delete_secret(job_id)  # deleted (a stop, someone's kubectl): its key too
                continue
            state = job_state(job, pods.get(job_id, []))
            if state.state == "IMAGE_PULL_FAILED":
                self._delete_job(job_id, 0)  # it would wait for its image forever
            if state.finished:
                self._delete_secret(job_id)
                still.discard(job_id)
            found[job_id] = state
        # A TTL shorter than the interval is looked at as often as it asks (at most each
        # second), and when a Job ended: the launcher may read no states for a while then.
        due = min(SWEEP_INTERVAL, max(self.spec.ttl_seconds, 1))
        if len(still) < len(job_ids) or time.monotonic() - self._swept > due:
            self._swept = time.monotonic()
            self._sweep(jobs, still)
        return found

    def _sweep(self, jobs: Mapping[str, Mapping[str, Any]], followed: set[str]) -> None:
        """Delete this launcher's finished Jobs past the TTL, and Secrets whose Job ended."""
        live = set(followed)
        for name, job in jobs.items():
            ended = _ended_at(job)
            if ended is None:
                live.add(name)
            elif name not in followed and time.time() - ended >= self.spec.ttl_seconds:
                self._delete_job(name, 0)
        secrets = self._call(
            "list Secrets",
            self._core.list_namespaced_secret,
            self.spec.namespace,
            label_selector=launcher_selector(self.launcher),
        )
        for secret in secrets["items"]:
            if secret["metadata"]["name"] not in live:
                self._delete_secret(secret["metadata"]["name"])

    # ----- cancel -----------------------------------------------------------------------

    def cancel(self, job_id: str, grace: float, pending: bool) -> None:
        # The pod gets SIGTERM (the agent stops the script with its own grace), then SIGKILL.
        self._delete_job(job_id, 0 if pending else grace)

    def kill(self, job_id: str) -> None:
        self._delete_job(job_id, 0)

    def _delete_job(self, name: str, grace: float) -> None:
        self._call(
            "delete the Job",
            self._batch.delete_namespaced_job,
            name,
            self.spec.namespace,
            grace_period_seconds=int(-(-grace // 1)),
            propagation_policy="Background",
            missing_ok=True,
        )

    def _delete_secret(self, name: str) -> None:
        self._call(
            "delete the Secret",
            self._core.delete_namespaced_secret,
            name,
            self.spec.namespace,
            missing_ok=True,
        )

    def _call(
        self, what: str, method: Callable[..., Any], *args: Any, missing_ok: bool = False, **kw: Any
    ) -> dict[str, Any]:
        """The API's answer as JSON; LaunchError with the API's message when it refuses."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            answer = method(*args, **kw, _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
            body = answer.read() if hasattr(answer, "read") else answer.data
        except ApiException as exc:
            if missing_ok and exc.status == 404:
                return {}
            raise LaunchError(f"could not {what}: {_api_message(exc)}") from exc
        except (HTTPError, OSError) as exc:
            raise LaunchError(f"could not {what}: the API server did not answer ({exc})") from exc
        data = json.loads(body) if body else {}
        return data if isinstance(data, dict) else {}


def _connect(kubeconfig: str, context: str) -> Any:
    """An API client: from ``kubeconfig``, else in a pod its service account, else the
    client's default kubeconfig (``$KUBECONFIG``, ``~/.kube/config``)."""
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    try:
        if kubeconfig:
            path = os.path.expanduser(kubeconfig)
            return config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=path, context=context or None
            )
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            from kubernetes import client

            config.load_incluster_config()  # type: ignore[no-untyped-call]
            return client.ApiClient()
        return config.new_client_from_config(context=context or None)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError) as exc:
        raise LaunchError(f"no Kubernetes cluster to talk to: {exc}") from exc


def _api_message(exc: Any) -> str:
    try:
        status = json.loads(exc.body)
        return f"{status.get('reason') or exc.status}: {status.get('message') or exc.reason}"
    except (TypeError, ValueError):
        return f"{exc.status} {exc.reason}"


def job_state(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> JobState:
    """A JobState from a Job and its pods, as the API answers them (JSON)."""
    status = job.get("status") or {}
    pod = max(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "", default=None)
    container = _container(pod)
    terminated = container.get("terminated") or {}
    exit_code = str(terminated["exitCode"]) if terminated.get("exitCode") else ""
    for condition in status.get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition["type"] == "Complete":
            return JobState("COMPLETED", finished=True)
        if condition["type"] == "Failed":
            reason = condition.get("reason") or ""
            ended_as = str(terminated.get("reason") or "")
            failure = JOB_FAILURES.get(reason) or CONTAINER_FAILURES.get(ended_as, "")
            why = ended_as if ended_as in CONTAINER_FAILURES else reason
            return JobState("FAILED", why, finished=True, failure=failure, exit_code=exit_code)
    if pod is None:
        return JobState("PENDING", "no pod yet")
    waiting = container.get("waiting") or {}
    if waiting.get("reason") in PULL_FAILURES:
        message = waiting.get("message") or waiting["reason"]
        failure = f"image pull failed: {waiting['reason']}: {message}"
        return JobState("IMAGE_PULL_FAILED", waiting["reason"], finished=True, failure=failure)
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    if phase == "Running":
        return JobState("RUNNING")
    if phase == "Pending":
        for condition in (pod.get("status") or {}).get("conditions") or []:
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
                reason = condition.get("reason") or "Unschedulable"
                message = condition.get("message") or ""
                return JobState("PENDING", f"{reason}: {message}" if message else reason)
        return JobState("PENDING", str(waiting.get("reason") or ""))
    # The pod ended and the Job controller has not written its condition yet.
    return JobState("RUNNING", phase)


def _container(pod: Mapping[str, Any] | None) -> dict[str, Any]:
    """The task container's state (``waiting``/``running``/``terminated``)."""
    if pod is None:
        return {}
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for container in statuses:
        if container.get("name") == CONTAINER:
            return dict(container.get("state") or {})
    return dict(statuses[0].get("state") or {}) if statuses else {}


def _ended_at(job: Mapping[str, Any]) -> float | None:
    """When a finished Job finished (seconds since the epoch); None for a Job not finished."""
    status = job.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            stamp = condition.get("lastTransitionTime") or status.get("completionTime") or ""
            try:
                return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return 0.0
    return None
