"""A fake Kubernetes API server for the Kubernetes launcher's tests.

It is a fake because no real API server (nor kind, k3s or a kubelet) can run on the machines
these tests run on. It is a small threaded HTTP server on 127.0.0.1 (port 0) answering
exactly the requests the launcher makes through the official ``kubernetes`` client, with
the JSON shapes the real API answers (Job and Pod status, ``JobList``, ``Status`` errors):

    POST   /apis/batch/v1/namespaces/NS/jobs              create a Job (409 if it exists)
    GET    /apis/batch/v1/namespaces/NS/jobs[?labelSelector=]   list, /jobs/NAME read
    DELETE /apis/batch/v1/namespaces/NS/jobs/NAME         gracePeriodSeconds, Background
    GET    /api/v1/namespaces/NS/pods?labelSelector=      list Pods
    POST   /api/v1/namespaces/NS/secrets                  create a Secret
    GET    /api/v1/namespaces/NS/secrets[?labelSelector=] list, DELETE /secrets/NAME

A Job's pod runs for real: its container's command is a local process with the variables of
``base_env`` (the image's environment) and the container's ``env``, ``secretKeyRef`` values
read from the stored Secrets, so the task really executes against a real Tunelab server.
``activeDeadlineSeconds`` is enforced (SIGTERM, SIGKILL after ``kill_grace``, the Job
``Failed`` with ``DeadlineExceeded``), and deleting a Job gives its pod SIGTERM and SIGKILL
after the grace period asked. What a cluster would do with an image is simulated by its
name: one with ``unschedulable`` stays ``Pending`` (``PodScheduled: False,
Unschedulable``), ``pull-error`` waits in ``ImagePullBackOff``, ``oom`` ends
``OOMKilled`` (exit code 137). There is no TTL controller: finished Jobs stay until deleted.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

TOKEN = "fake-cluster-token"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, selector.split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term not in labels:
            return False
    return True


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}  # fmt: skip


class FakeCluster:
    """The API server's store and the pods it runs."""

    def __init__(self, base_env: dict[str, str], logs: Path, kill_grace: float = 2.0) -> None:
        self.base_env = base_env
        self.logs = logs
        self.kill_grace = kill_grace
        self.lock = threading.RLock()
        self.jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []  # every Job manifest posted, in order
        self.deleted: list[tuple[str, str, int]] = []  # (kind, name, grace) of each DELETE
        self.processes: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
        # ("created" | "ended" | "deleted", Job name, time.monotonic()), in order.
        self.events: list[tuple[str, str, float]] = []
        self._version = 0

    def _stamp(self, meta: dict[str, Any], namespace: str) -> None:
        self._version += 1
        meta.update(namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=_now(),
                    resourceVersion=str(self._version))  # fmt: skip

    # ----- Jobs and their pods --------------------------------------------------------------

    def create_job(self, namespace: str, job: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = job["metadata"]["name"]
        with self.lock:
            if (namespace, name) in self.jobs:
                return 409, _status(409, "AlreadyExists", f'jobs.batch "{name}" already exists')
            self.created.append(json.loads(json.dumps(job)))
            self.events.append(("created", name, time.monotonic()))
            self._stamp(job["metadata"], namespace)
            job["status"] = {"active": 1, "startTime": _now(), "ready": 0}
            self.jobs[(namespace, name)] = job
            pod_name = f"{name}-{secrets.token_hex(3)[:5]}"
            template = job["spec"]["template"]
            labels = {**(template.get("metadata") or {}).get("labels", {}),
                      "job-name": name, "batch.kubernetes.io/job-name": name,
                      "controller-uid": job["metadata"]["uid"]}  # fmt: skip
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": pod_name, "labels": labels},
                   "spec": template["spec"],
                   "status": {"phase": "Pending", "conditions": []}}  # fmt: skip
            self._stamp(pod["metadata"], namespace)
            self.pods[(namespace, pod_name)] = pod
        threading.Thread(target=self._run_pod, args=(namespace, name, pod), daemon=True).start()
        return 201, job

    def _container_state(self, pod: dict[str, Any], state: dict[str, Any], ready: bool) -> None:
        container = pod["spec"]["containers"][0]
        pod["status"]["containerStatuses"] = [
            {"name": container["name"], "image": container["image"], "imageID": "",
             "ready": ready, "restartCount": 0, "started": ready, "state": state}
        ]  # fmt: skip

    def _run_pod(self, namespace: str, job_name: str, pod: dict[str, Any]) -> None:
        container = pod["spec"]["containers"][0]
        image = container["image"]
        with self.lock:
            if "unschedulable" in image:
                pod["status"]["conditions"] = [
                    {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                     "lastTransitionTime": _now(),
                     "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."}
                ]  # fmt: skip
                return
            pod["status"]["conditions"] = [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": _now()}
            ]
            if "pull-error" in image:
                waiting = {"reason": "ImagePullBackOff",
                           "message": f'Back-off pulling image "{image}"'}  # fmt: skip
                self._container_state(pod, {"waiting": waiting}, False)
                return
            if "oom" in image:
                self._end(namespace, job_name, pod, 137, "OOMKilled")
                return
            env = dict(self.base_env)
            for variable in container.get("env") or []:
                ref = (variable.get("valueFrom") or {}).get("secretKeyRef")
                if ref is None:
                    env[variable["name"]] = variable.get("value", "")
                    continue
                stored = self.secrets.get((namespace, ref["name"]))
                if stored is None:  # the kubelet would retry; the launcher makes it first
                    waiting = {"reason": "CreateContainerConfigError",
                               "message": f'secret "{ref["name"]}" not found'}  # fmt: skip
                    self._container_state(pod, {"waiting": waiting}, False)
                    return
                env[variable["name"]] = base64.b64decode(stored["data"][ref["key"]]).decode()
            log = open(self.logs / f"{pod['metadata']['name']}.log", "wb")  # noqa: SIM115
            process = subprocess.Popen(
                container["command"] + list(container.get("args") or []),
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            self.processes[(namespace, pod["metadata"]["name"])] = process
            pod["status"]["phase"] = "Running"
            pod["status"]["startTime"] = _now()
            self._container_state(pod, {"running": {"startedAt": _now()}}, True)
        deadline = pod_deadline = None
        limit = (
            self.jobs.get((namespace, job_name), {}).get("spec", {}).get("activeDeadlineSeconds")
        )
        if limit is not None:
            deadline = time.monotonic() + limit
        while process.poll() is None:
            if deadline is not None and time.monotonic() > deadline and pod_deadline is None:
                pod_deadline = time.monotonic()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
            if pod_deadline is not None and time.monotonic() - pod_deadline > self.kill_grace:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            time.sleep(0.05)
        log.close()
        with self.lock:
            code = process.returncode
            exit_code = 128 - code if code < 0 else code
            reason = "Completed" if exit_code == 0 else "Error"
            self._end(namespace, job_name, pod, exit_code, reason, pod_deadline is not None)

    def _end(
        self, namespace: str, job_name: str, pod: dict[str, Any], exit_code: int, reason: str,
        past_deadline: bool = False,
    ) -> None:  # fmt: skip
        """The pod ended: its phase, its container's end, and its Job's condition."""
        self.events.append(("ended", job_name, time.monotonic()))
        pod["status"]["phase"] = "Succeeded" if exit_code == 0 else "Failed"
        terminated = {"exitCode": exit_code, "reason": reason, "startedAt": _now(),
                      "finishedAt": _now()}  # fmt: skip
        self._container_state(pod, {"terminated": terminated}, False)
        job = self.jobs.get((namespace, job_name))
        if job is None:  # deleted: the pod goes with it
            self.pods.pop((namespace, pod["metadata"]["name"]), None)
            return
        status = job["status"]
        status.pop("active", None)
        if exit_code == 0 and not past_deadline:
            status.update(succeeded=1, completionTime=_now())
            done = "Reached expected number of succeeded pods"
            kinds = [("SuccessCriteriaMet", "CompletionsReached", done),
                     ("Complete", "CompletionsReached", done)]  # fmt: skip
        else:
            status["failed"] = 1
            why, text = (
                ("DeadlineExceeded", "Job was active longer than specified deadline")
                if past_deadline
                else ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
            )
            kinds = [("FailureTarget", why, text), ("Failed", why, text)]
        status["conditions"] = [
            {"type": kind, "status": "True", "reason": why, "message": text,
             "lastProbeTime": _now(), "lastTransitionTime": _now()}
            for kind, why, text in kinds
        ]  # fmt: skip

    def delete_job(self, namespace: str, name: str, grace: int) -> tuple[int, dict[str, Any]]:
        """Background propagation: the Job goes at once, its pods after their grace period."""
        with self.lock:
            if self.jobs.pop((namespace, name), None) is None:
                return 404, _status(404, "NotFound", f'jobs.batch "{name}" not found')
            self.deleted.append(("job", name, grace))
            self.events.append(("deleted", name, time.monotonic()))
            pods = [key for key, pod in self.pods.items()
                    if key[0] == namespace and pod["metadata"]["labels"].get("job-name") == name]  # fmt: skip  # noqa: E501
            for key in pods:
                self.pods[key]["metadata"]["deletionTimestamp"] = _now()
                process = self.processes.get(key)
                if process is None or process.poll() is not None:
                    self.pods.pop(key, None)
                    continue
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                threading.Timer(grace, self._kill, args=(process,)).start()
        return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                     "details": {"name": name, "group": "batch", "kind": "jobs"}}  # fmt: skip

    @staticmethod
    def _kill(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def stop(self) -> None:
        for process in list(self.processes.values()):
            self._kill(process)
            process.wait()

    # ----- what the tests look at -----------------------------------------------------------

    def secret_names(self) -> set[str]:
        with self.lock:
            return {name for _, name in self.secrets}

    def job(self, name: str) -> dict[str, Any] | None:
        with self.lock:
            found = [job for (_, n), job in self.jobs.items() if n == name]
            return json.loads(json.dumps(found[0])) if found else None


class _Handler(BaseHTTPRequestHandler):
    cluster: FakeCluster

    def log_message(self, format: str, *args: Any) -> None:  # the tests' output stays quiet
        pass

    def _answer(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[str, str, str, str, dict[str, list[str]]] | None:
        """(group path, namespace, resource, name) of a namespaced request, and its query."""
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        query = parse_qs(url.query)
        if parts[:2] == ["api", "v1"] and parts[2:3] == ["namespaces"] and len(parts) >= 5:
            return "v1", parts[3], parts[4], "/".join(parts[5:]), query
        if (
            parts[:3] == ["apis", "batch", "v1"]
            and parts[3:4] == ["namespaces"]
            and len(parts) >= 6
        ):
            return "batch/v1", parts[4], parts[5], "/".join(parts[6:]), query
        return None

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {TOKEN}":
            return True
        self._answer(401, _status(401, "Unauthorized", "Unauthorized"))
        return False

    def do_GET(self) -> None:
        route = self._route()
        if not self._authorized():
            return
        if route is None:
            self._answer(404, _status(404, "NotFound", "the server could not find the resource"))
            return
        group, namespace, resource, name, query = route
        store = {("batch/v1", "jobs"): self.cluster.jobs, ("v1", "pods"): self.cluster.pods,
                 ("v1", "secrets"): self.cluster.secrets}.get((group, resource))  # fmt: skip
        if store is None:
            self._answer(404, _status(404, "NotFound", f"{resource} is not served here"))
            return
        with self.cluster.lock:
            if name:
                found = store.get((namespace, name))
                if found is None:
                    self._answer(404, _status(404, "NotFound", f'{resource} "{name}" not found'))
                else:
                    self._answer(200, found)
                return
            selector = query.get("labelSelector", [""])[0]
            items = [item for (ns, _), item in store.items() if ns == namespace
                     and _matches(item["metadata"].get("labels") or {}, selector)]  # fmt: skip
            kind = {"jobs": "JobList", "pods": "PodList", "secrets": "SecretList"}[resource]
            self._answer(200, {"kind": kind, "apiVersion": group, "items": items,
                               "metadata": {"resourceVersion": str(self.cluster._version)}})  # fmt: skip  # noqa: E501

    def do_POST(self) -> None:
        route = self._route()
        if not self._authorized():
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if route is None or route[3]:
            self._answer(405, _status(405, "MethodNotAllowed", "not allowed"))
            return
        group, namespace, resource, _, _ = route
        if (group, resource) == ("batch/v1", "jobs"):
            self._answer(*self.cluster.create_job(namespace, body))
        elif (group, resource) == ("v1", "secrets"):
            name = body["metadata"]["name"]
            with self.cluster.lock:
                if (namespace, name) in self.cluster.secrets:
                    self._answer(409, _status(409, "AlreadyExists", f'secrets "{name}" exists'))
                    return
                self.cluster._stamp(body["metadata"], namespace)
                self.cluster.secrets[(namespace, name)] = body
            self._answer(201, body)
        else:
            self._answer(404, _status(404, "NotFound", f"{resource} is not served here"))

    def do_DELETE(self) -> None:
        route = self._route()
        if not self._authorized():
            return
        if route is None or not route[3]:
            self._answer(405, _status(405, "MethodNotAllowed", "not allowed"))
            return
        group, namespace, resource, name, query = route
        length = int(self.headers.get("Content-Length") or 0)
        options = json.loads(self.rfile.read(length) or b"{}") if length else {}
        grace = int(query.get("gracePeriodSeconds", [options.get("gracePeriodSeconds", 30)])[0])
        if (group, resource) == ("batch/v1", "jobs"):
            self._answer(*self.cluster.delete_job(namespace, name, grace))
        elif (group, resource) == ("v1", "secrets"):
            with self.cluster.lock:
                gone = self.cluster.secrets.pop((namespace, name), None)
                if gone is not None:
                    self.cluster.deleted.append(("secret", name, grace))
            if gone is None:
                self._answer(404, _status(404, "NotFound", f'secrets "{name}" not found'))
            else:
                self._answer(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                   "status": "Success", "details": {"name": name}})  # fmt: skip
        else:
            self._answer(404, _status(404, "NotFound", f"{resource} is not served here"))


@contextlib.contextmanager
def fake_cluster(folder: Path, base_env: dict[str, str]) -> Iterator[tuple[FakeCluster, Path]]:
    """A running fake API server and a kubeconfig file pointing at it (namespace
    ``tunelab``); the pods still running are killed at the end."""
    folder.mkdir(parents=True, exist_ok=True)
    cluster = FakeCluster(base_env, folder)
    handler = type("Handler", (_Handler,), {"cluster": cluster})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = folder / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {
                    "server": f"http://127.0.0.1:{server.server_address[1]}"}}],
                "users": [{"name": "fake", "user": {"token": TOKEN}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                "current-context": "fake",
            }
        )
    )  # fmt: skip
    try:
        yield cluster, kubeconfig
    finally:
        server.shutdown()
        server.server_close()
        cluster.stop()
