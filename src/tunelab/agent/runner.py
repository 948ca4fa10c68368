"""One task, from checkout to recorded outcome.

    checkout + diff ─► environment (uv, cached) ─► launch ─► wait ─► record the outcome

A task started from a repository commit (``git_run``) has its inputs written into the
checkout and its script run in the repository's root instead of an entry point
(``agent.git_run``); once it succeeds, its results are committed and handed to the server,
which pushes them (``agent.git_results``).

Every step reports to the task's console (stream "log"); a step that fails ends the task
``failed`` with a reason naming the step, and the full error in the console. The outcome is
recorded only if the task is still ``running``: the SDK inside the script may have recorded
its own end already, and a lost race (409) is fine. A stop request (heard by the heartbeat,
or the agent shutting down) stops the process group (SIGTERM, the grace period, SIGKILL);
the task is then recorded ``stopped`` whatever the exit code, after its last console lines.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tunelab.agent.console_sink import ConsoleSink
from tunelab.agent.console_spool import deliver_leftovers, spool_path
from tunelab.agent.docker import docker_command
from tunelab.agent.environment import EnvironmentBuilder
from tunelab.agent.errors import AgentError
from tunelab.agent.git_results import (
    BUNDLE_FILE,
    commit_results,
    dvc_push,
    make_bundle,
    report_results,
    store_bundle,
    warn_on_task,
)
from tunelab.agent.git_run import (
    fetch_data_files,
    git_run_of,
    requirements_for,
    studio_variables,
    track_replaced_data,
    write_params,
)
from tunelab.agent.git_run import write_script as write_git_run_script
from tunelab.agent.launcher import (
    TASK_VARIABLES,
    Launcher,
    Sink,
    entry_point_argument,
    task_environment,
)
from tunelab.agent.repository import (
    RepositoryCache,
    apply_diff,
    git,
    is_script_text,
    write_script,
)
from tunelab.domain.git_run import GitRun
from tunelab.domain.resources import Resources
from tunelab.domain.task import TaskStatus
from tunelab.errors import Conflict, NotFound, ServerUnavailable, TunelabError
from tunelab.sdk.secrets import Masker, secret_values


class TaskProcess(Protocol):
    def start(self) -> None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def stop(self, grace: float) -> int: ...


LauncherFactory = Callable[[Sequence[str], Path, Mapping[str, str], Sink], TaskProcess]

RECORD_RETRY_SECONDS = 120.0
# How long the outcome waits for a console the server has not taken yet (an outage).
CONSOLE_DELIVERY_SECONDS = 120.0


@dataclass(frozen=True)
class Outcome:
    status: TaskStatus
    reason: str = ""


class _Run:
    """The task being run now: what stops it."""

    def __init__(self, task_id: str, task_key: str = "") -> None:
        self.task_id = task_id
        # The key the task's code calls the server with: scoped to this task, and dead once
        # it ends. The agent's own key stays with the agent.
        self.task_key = task_key
        self.process: TaskProcess | None = None
        self.stop_reason = ""
        self.stopper: threading.Thread | None = None


class _StepFailed(Exception):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


class TaskRunner:
    """Runs tasks one at a time; ``request_stop`` may come from any thread.

    >>> runner = TaskRunner(client, RepositoryCache(root / "repos"),
    ...                     EnvironmentBuilder(root / "envs"), Launcher, root / "tasks")
    >>> runner.run(client.next_task("gpu-box:0"))  # doctest: +SKIP
    'completed'
    """

    def __init__(
        self,
        client: Any,
        repos: RepositoryCache,
        envs: EnvironmentBuilder,
        launcher_factory: LauncherFactory = Launcher,
        work_root: Path = Path("tasks"),
        stop_grace: float = 10.0,
        docker_image: str | None = None,
        keep_work_dirs: bool = False,
        console_spool_dir: Path | None = None,
        console_wait: float = CONSOLE_DELIVERY_SECONDS,
    ) -> None:
        self.client = client
        self.repos = repos
        self.envs = envs
        self.launcher_factory = launcher_factory
        self.work_root = Path(work_root)
        self.stop_grace = stop_grace
        self.docker_image = docker_image
        self.keep_work_dirs = keep_work_dirs
        # Beside the task work dirs, which go at each task's end: a console the server did
        # not take stays here until it does.
        self.console_spool_dir = Path(console_spool_dir or self.work_root.parent / "console-spool")
        self.console_wait = console_wait
        # Set when a scheduler's launcher runs this process as a job (``agent.launched``):
        # the job's resources are the launcher's to honour, and a run the scheduler ended
        # with a signal (a cancel, a time limit) is the launcher's to record, as it knows why.
        self.launched_by = ""
        self.ended_by_scheduler = threading.Event()
        # Reentrant, so that request_stop is safe from any context, a signal handler included.
        self._lock = threading.RLock()
        self._current: _Run | None = None

    @property
    def current_task_id(self) -> str | None:
        with self._lock:
            return self._current.task_id if self._current else None

    def send_kept_console(self, skip: Path | None = None) -> None:
        """Send the console lines earlier runs kept on disk (an outage outlasted their wait,
        or the agent was killed during one); best effort, never raises."""
        with contextlib.suppress(Exception):
            deliver_leftovers(self.client, self.console_spool_dir, skip=skip)

    def run(self, task: Mapping[str, Any]) -> str:
        """Run ``task`` (already ``running`` on this worker, with the ``task_key`` its code
        is to run with); its final status."""
        task_id = str(task["id"])
        run = _Run(task_id, str(task.get("task_key") or ""))
        with self._lock:
            self._current = run
        # What the task's console never shows: the agent's token, its secret variables, the
        # run's own key.
        masker = Masker([*secret_values(), self._token or "", run.task_key])
        spool = spool_path(self.console_spool_dir, task_id)
        self.send_kept_console(skip=spool)
        sink = ConsoleSink(self.client, task_id, spool_path=spool, masker=masker).start()
        try:
            outcome = self._run(task, run, sink)
        except _StepFailed as failed:
            outcome = failed.outcome
        except Exception as exc:  # a bug of ours must still end the task, and the agent go on
            sink.log("".join(traceback.format_exception(exc)).rstrip())
            outcome = Outcome(TaskStatus.FAILED, f"agent error: {exc!r}")
        finally:
            with self._lock:
                self._current = None
        if run.stopper is not None:
            run.stopper.join()
        if run.stop_reason:
            outcome = Outcome(TaskStatus.STOPPED, run.stop_reason)
        if self.ended_by_scheduler.is_set():
            sink.log(f"tunelab agent: the job was ended by {self.launched_by}, which records why")
            sink.close(timeout=self.console_wait)
            if not self.keep_work_dirs:
                shutil.rmtree(self.work_root / task_id, ignore_errors=True)
            return outcome.status.value
        sink.log(f"tunelab agent: task {outcome.status.value} {outcome.reason}".rstrip())
        # The final status comes after the last console line, an outage or not (bounded).
        undelivered = sink.close(timeout=self.console_wait)
        note = f"{undelivered} console lines kept in {spool} not sent yet" if undelivered else ""
        status = self._record(task_id, outcome, note=note)
        if not self.keep_work_dirs:
            shutil.rmtree(self.work_root / task_id, ignore_errors=True)
        return status

    def request_stop(self, task_id: str, reason: str = "stopped on request") -> None:
        """Stop ``task_id`` if it runs here (its processes get the grace period). Returns at
        once; ``run`` returns, the task ``stopped``, once the processes are gone."""
        with self._lock:
            run = self._current
            if run is None or run.task_id != task_id or run.stop_reason:
                return
            run.stop_reason = reason
            run.stopper = threading.Thread(
                target=self._stop, args=(run, reason), name="task-stop", daemon=True
            )
            run.stopper.start()

    def _stop(self, run: _Run, reason: str) -> None:
        with self._lock:
            process = run.process
        if process is not None:
            # The outcome is recorded once the processes are gone and their last lines (the
            # checkpoint an abort handler saved) are in the console.
            process.stop(self.stop_grace)
            return
        # Not launched yet (still building): the task is stopped now; run() will not launch.
        with contextlib.suppress(ServerUnavailable):  # run() records it again, retrying longer
            self._record(run.task_id, Outcome(TaskStatus.STOPPED, reason), patience=10.0)

    # ----- the steps --------------------------------------------------------------------

    def _run(self, task: Mapping[str, Any], run: _Run, sink: ConsoleSink) -> Outcome:
        ex = {k: str(v or "") for k, v in dict(task.get("execution") or {}).items()}
        sink.log(f"tunelab agent: building task {run.task_id} ({task.get('name', '')})")
        self._say_resources(task, sink)
        task_dir = self.work_root / run.task_id
        git_run = git_run_of(task)
        cwd = self._checkout(ex, task_dir / "code", sink, script_run=git_run is not None)
        if git_run is None:
            command, env = self._command(run, ex, task_dir, sink)
        else:
            command, env = self._git_run_command(run, git_run, task, ex, task_dir, sink)
        with _step("launch", sink), self._lock:
            if run.stop_reason:
                return Outcome(TaskStatus.STOPPED, run.stop_reason)
            sink.log(f"tunelab agent: running {' '.join(command[-2:])} in {cwd}")
            run.process = self.launcher_factory(command, cwd, env, sink.write)
            run.process.start()
        exit_code = run.process.wait()
        sink.log(f"tunelab agent: the process exited with code {exit_code}")
        if exit_code == 0 and git_run is not None and not run.stop_reason:
            self._git_results(run, git_run, task, ex, task_dir, env, sink)
        if exit_code == 0:
            return Outcome(TaskStatus.COMPLETED)
        if exit_code < 0:
            return Outcome(TaskStatus.FAILED, f"killed by signal {-exit_code}")
        return Outcome(TaskStatus.FAILED, f"exit code {exit_code}")

    def _say_resources(self, task: Mapping[str, Any], sink: ConsoleSink) -> None:
        wanted = Resources.from_dict(task.get("resources") or {})
        if not wanted.requested():
            return
        if self.launched_by:
            sink.log(f"tunelab agent: resources asked of {self.launched_by}: {wanted.describe()}")
        else:
            # An agent runs on the machine it is on: it can reserve nothing for the task.
            sink.log(
                f"tunelab agent: this agent runs the task on its own machine and does not honour "
                f"its resources ({wanted.describe()}); a launcher (tunelab launcher) does"
            )

    def _checkout(
        self, ex: dict[str, str], code: Path, sink: ConsoleSink, script_run: bool = False
    ) -> Path:
        """The task's code at ``code``, diff applied; the directory to run it in (the
        repository's root for a git run, whose script runs there)."""
        repository, commit = ex.get("repository", ""), ex.get("commit", "")
        branch = ex.get("branch", "")
        where = f"{repository} at {commit or 'the head of ' + (branch or 'the default branch')}"
        with _step("checkout", sink):
            if ex.get("diff_error"):
                # Running the commit alone would run other code than the one recorded.
                raise AgentError(
                    f"the task's uncommitted changes could not be recorded ({ex['diff_error']}): "
                    "edit its diff (an empty one too) to run it"
                )
            if is_script_text(repository, ex.get("diff", "")):
                # Recorded from no repository: the script's text is the whole code.
                where = "the task's script"
                sink.log(f"tunelab agent: writing the task's script as {ex.get('entry_point')}")
                write_script(code, ex.get("entry_point", ""), ex["diff"])
            else:
                sink.log(f"tunelab agent: checking out {where}")
                self.repos.checkout(repository, commit, branch, code)
                if ex.get("diff"):
                    sink.log("tunelab agent: applying the task's uncommitted changes")
                    apply_diff(code, ex["diff"])
        if script_run:
            return code
        entry_point, working_dir = ex.get("entry_point", ""), ex.get("working_dir", "")
        with _step("launch", sink):
            if not entry_point or not (code / entry_point).is_file():
                raise AgentError(f"the entry point {entry_point!r} is not in {where}")
            if not (code / working_dir).is_dir():
                raise AgentError(f"the working dir {working_dir!r} is not in {where}")
        return code / working_dir

    def _command(
        self, run: _Run, ex: dict[str, str], task_dir: Path, sink: ConsoleSink
    ) -> tuple[list[str], dict[str, str]]:
        """The command running the task (in its environment or container) and its variables."""
        # Every server URL the agent has (replicas), so the script fails over like the agent.
        env = task_environment(run.task_id, self.client.api_url, token=run.task_key or None)
        entry_point, working_dir = ex.get("entry_point", ""), ex.get("working_dir", "")
        image = (ex.get("docker_image") or self.docker_image) if self.docker_image else ""
        if image:
            requirements = task_dir / "requirements.txt"
            requirements.write_text(ex.get("requirements", ""))
            sink.log(f"tunelab agent: running in the docker image {image}")
            command = docker_command(
                image, task_dir / "code", working_dir, entry_point,
                {k: env[k] for k in TASK_VARIABLES if k in env},
                ex.get("docker_arguments", ""), ex.get("docker_setup_script", ""), requirements,
                output_uri=ex.get("output_uri", ""),
            )  # fmt: skip
            return command, env
        if ex.get("docker_image"):
            sink.log(f"tunelab agent: not in docker mode, so {ex['docker_image']} is ignored")
        with _step("environment build", sink):
            python = self.envs.build(
                ex.get("requirements", ""), sink.log, output_uri=ex.get("output_uri", "")
            )
        env["VIRTUAL_ENV"] = str(python.parent.parent)
        env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
        return [str(python), entry_point_argument(entry_point, working_dir)], env

    def _git_run_command(
        self,
        run: _Run,
        git_run: GitRun,
        task: Mapping[str, Any],
        ex: dict[str, str],
        task_dir: Path,
        sink: ConsoleSink,
    ) -> tuple[list[str], dict[str, str]]:
        """A git run: its inputs written into the checkout, its environment, its script."""
        code = task_dir / "code"
        with _step("inputs", sink):
            write_params(code, git_run, task.get("hyperparameters") or {}, sink.log)
            fetch_data_files(code, git_run, self._task_storage(run), sink.log)
        if ex.get("docker_image") or self.docker_image:
            sink.log("tunelab agent: a git run runs in an environment of its own, not docker")
        requirements = requirements_for(git_run, ex.get("requirements", ""), code)
        with _step("environment build", sink):
            python = self.envs.build(requirements, sink.log, output_uri=ex.get("output_uri", ""))
        env = task_environment(run.task_id, self.client.api_url, token=run.task_key or None)
        env["VIRTUAL_ENV"] = str(python.parent.parent)
        env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
        env.update(studio_variables(self._server_url, run.task_key, ex.get("repository", "")))
        with _step("inputs", sink):
            track_replaced_data(code, git_run, env, sink.log)
            script = write_git_run_script(task_dir, git_run)
        sink.log(f"tunelab agent: the task's script:\n{git_run.script.rstrip()}")
        return ["bash", "-e", str(script)], env

    def _git_results(
        self,
        run: _Run,
        git_run: GitRun,
        task: Mapping[str, Any],
        ex: dict[str, str],
        task_dir: Path,
        env: Mapping[str, str],
        sink: ConsoleSink,
    ) -> None:
        """Commit the results, ``dvc push``, store the bundle, and have the server push it.
        Only a results commit that cannot be made fails the run; what the server could not
        push is the server's record (Retry), a failed ``dvc push`` a warning."""
        code = task_dir / "code"
        with _step("results commit", sink):
            sha = commit_results(code, git_run, task, sink.log)
        client = self._task_client(run)
        try:
            warning = dvc_push(code, env, sink.log)
            if warning:
                sink.log(f"tunelab agent: {warning}")
                warn_on_task(client, run.task_id, "dvc push", warning)
            base = ex.get("commit") or git("rev-parse", f"{sha}^", cwd=code)
            bundle = make_bundle(code, base, sha, task_dir / BUNDLE_FILE)
            store_bundle(client, self._task_storage(run), task, bundle)
            results = report_results(client, run.task_id, sha)
        except (TunelabError, AgentError, OSError) as exc:
            message = exc.message if isinstance(exc, (TunelabError, AgentError)) else str(exc)
            sink.log(f"tunelab agent: the results were not handed to the server: {message}")
            warn_on_task(client, run.task_id, "git results", message)
            return
        finally:
            if client is not self.client:
                client.close()
        if results.get("state") == "pushed":
            where = results.get("pull_request_url") or ""
            sink.log(
                f"tunelab agent: results pushed to {results.get('branch')}"
                + (f", pull request {where}" if where else "")
            )
        else:
            sink.log(f"tunelab agent: results not pushed: {results.get('error')}")

    def _task_client(self, run: _Run) -> Any:
        """A client calling with the task's own key (the agent's own when it has none)."""
        if not run.task_key:
            return self.client
        from tunelab.sdk.transport import ApiClient

        return ApiClient(self.client.api_url, token=run.task_key)

    def _task_storage(self, run: _Run) -> Any:
        from tunelab.storage import StorageContext, load_storage_credentials

        return StorageContext(
            credentials=load_storage_credentials(),
            server_url=self._server_url,
            server_token=run.task_key or self._token,
            cache_dir=self.work_root.parent / "storage-cache",
        )

    @property
    def _server_url(self) -> str:
        base = getattr(self.client, "base_url", None)
        return str(base) if isinstance(base, str) else str(self.client.api_url).split(",")[0]

    @property
    def _token(self) -> str | None:
        token = getattr(self.client, "token", None)
        return token if isinstance(token, str) else None

    # ----- the outcome ------------------------------------------------------------------

    def _record(
        self,
        task_id: str,
        outcome: Outcome,
        patience: float = RECORD_RETRY_SECONDS,
        note: str = "",
    ) -> str:
        """Set the outcome if the task is still running (``note`` added to its reason);
        the task's final status."""
        deadline = time.monotonic() + patience
        delay = 0.5
        conflicts = 0
        while True:
            try:
                current = self.client.get_task(task_id)
                if current["status"] != TaskStatus.RUNNING:
                    return str(current["status"])  # the SDK (or the server) ended it already
                reason = outcome.reason
                if outcome.status is not TaskStatus.COMPLETED:
                    # The stop requester's words, or the script's own account of its end
                    # ("ValueError: ...", set by its SDK), say more than an exit code.
                    reason = current.get("status_reason") or reason
                if note:
                    reason = f"{reason} ({note})" if reason else note
                self.client.update_task(task_id, status=outcome.status.value, status_reason=reason)
                return outcome.status.value
            except Conflict:
                conflicts += 1  # lost a race with another change: read again
                if conflicts > 5:
                    raise
            except NotFound:
                return outcome.status.value  # deleted meanwhile: nothing to record
            except ServerUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 10.0)


@contextmanager
def _step(name: str, sink: ConsoleSink) -> Iterator[None]:
    """Turns an AgentError (or OSError) inside a step into a failed outcome naming the step."""
    try:
        yield
    except (AgentError, OSError) as exc:
        message = exc.message if isinstance(exc, AgentError) else str(exc)
        sink.log(f"tunelab agent: {name} failed: {message}")
        first = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
        raise _StepFailed(Outcome(TaskStatus.FAILED, f"{name} failed: {first}")) from exc
