"""Results back to git, the server's side: it pushes, with its own ``[[git]]`` credentials.

- ``report``: the agent ran a git run and stored its results commit as the task's artifact
  ``git-results`` (a ``git bundle``); the server fetches the bundle into the project's mirror,
  pushes ``<sha>:refs/heads/<branch>``, opens the pull request when the run asked for one
  (``tunelab.forge``), and records what happened (``GitResults``).
- ``push``: the same again for results that were not pushed (Retry): nothing was lost, the
  bundle is kept.
- ``create_branch``: a new branch (and pull request) from any completed experiment that
  recorded a repository: its results commit when it has one, else a commit the server makes
  from the task's commit and recorded uncommitted diff.

A push that fails (refused, no credentials, the forge's error) leaves the task as it is, with
``state="failed"`` and the reason shown as "results not pushed: <why>". Git runs with no
database connection held.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tunelab.domain.access import Principal, Role
from tunelab.domain.git_run import GitResults, GitRun
from tunelab.domain.task import TaskStatus
from tunelab.errors import Conflict, Forbidden, InvalidInput, TunelabError
from tunelab.gitops import history, results_commit
from tunelab.gitops.commit_metrics import commit_metrics
from tunelab.gitops.mirror import GitMirrors
from tunelab.gitops.refs import check_branch
from tunelab.gitops.remote import parse_remote
from tunelab.params_files import flat_params, supported
from tunelab.sdk.parameters import param_body
from tunelab.server.uri_access import UriPolicy, require_uri
from tunelab.storage import StorageContext, download
from tunelab.store import artifacts, repositories, scalars, tasks
from tunelab.store.git_runs import set_git_results

RESULTS_ARTIFACT = "git-results"
ENDED = (TaskStatus.COMPLETED.value, TaskStatus.PUBLISHED.value)
MAX_METRICS_SHOWN = 30


@dataclass(frozen=True)
class GitResultsService:
    """What pushing needs from the app: the store, mirrors, storage, settings, and the
    server's own address (the pull request links back to the experiment)."""

    engine: sa.Engine
    mirrors: GitMirrors
    storage: StorageContext
    policy: UriPolicy
    settings: Any
    base_url: str

    def report(self, who: Principal, task_id: str, commit: str) -> dict[str, Any]:
        """The agent's report of a results commit (the task still running): push it."""
        with self.engine.begin() as conn:
            task = tasks.get_task(conn, task_id)
            run = _git_run(task)
            if task["status"] != TaskStatus.RUNNING.value:
                raise Conflict(f"the task is {task['status']}: results are reported while it runs")
            if run.results.state:
                raise Conflict("the task's results were reported already")
            set_git_results(
                conn, task_id, GitResults(commit=commit, branch=run.branch, bundle=RESULTS_ARTIFACT)
            )
        return self._push(who, task_id)

    def push(self, who: Principal, task_id: str) -> dict[str, Any]:
        """Push results that were not pushed (Retry)."""
        _people_only(who)
        with self.engine.begin() as conn:
            run = _git_run(tasks.get_task(conn, task_id))
            if not run.results.bundle:
                raise Conflict("the task has no results commit to push (its run made none)")
            if run.results.state == "pushed":
                raise Conflict(f"the results were pushed already, to {run.results.branch}")
        return self._push(who, task_id)

    def create_branch(
        self, who: Principal, task_id: str, branch: str, pull_request: bool, title: str = ""
    ) -> dict[str, Any]:
        """A new branch holding the experiment's code (and a pull request when asked)."""
        _people_only(who)
        check_branch(branch)
        with self.engine.begin() as conn:
            task = tasks.get_task(conn, task_id)
            link = self._link(conn, task)
            if task["status"] not in ENDED:
                raise Conflict(
                    f"the task is {task['status']}: a branch is made from a completed one"
                )
            execution = task.get("execution") or {}
            run = GitRun.from_dict(task["git_run"]) if task.get("git_run") else None
            bundle = self._bundle(conn, who, task_id) if run and run.results.bundle else None
            if bundle is None and not execution.get("commit"):
                raise Conflict("the task recorded no commit to make a branch from")
        remote = parse_remote(link["url"])
        git_dir = self.mirrors.sync(link["project_id"], remote)
        if results_commit.branch_exists(git_dir, branch):
            raise Conflict(f"the repository has a branch {branch!r} already: choose another name")
        if bundle is not None:
            sha = self._fetched(git_dir, bundle, task_id)
        else:
            commit = str(execution["commit"])
            if not results_commit.has_commit(git_dir, commit):
                raise Conflict(f"commit {commit[:12]} is not in {link['url']} (was it pushed?)")
            message = title.strip() or f"Experiment {task['name']}"
            try:
                sha = results_commit.commit_diff(
                    git_dir, commit, str(execution.get("diff") or ""), message, _author(task)
                )
            except TunelabError as exc:
                raise Conflict(f"the task's uncommitted changes do not apply: {exc}") from None
        self.mirrors.push(link["project_id"], remote, sha, branch)
        base = (run.base_branch if run else "") or execution.get("branch") or link["default_branch"]
        url = ""
        if pull_request:
            url = self._open_pull_request(task, link, git_dir, sha, branch, base, title)
        self.mirrors.sync(link["project_id"], remote)
        answer = GitResults(state="pushed", commit=sha, branch=branch, pull_request_url=url)
        if run is not None:
            with self.engine.begin() as conn:
                kept = replace(answer, bundle=run.results.bundle)
                set_git_results(
                    conn, task_id, kept if run.results.state != "pushed" else run.results
                )
        return answer.to_dict()

    # ----- the push ---------------------------------------------------------------------

    def _push(self, who: Principal, task_id: str) -> dict[str, Any]:
        with self.engine.begin() as conn:
            task = tasks.get_task(conn, task_id)
            run = _git_run(task)
            results = run.results
            try:
                link = self._link(conn, task)
                bundle = self._bundle(conn, who, task_id)
                missing = ""
            except TunelabError as exc:
                missing = exc.message
        if missing:
            return self._failed(task_id, results, missing)
        try:
            remote = parse_remote(link["url"])
            git_dir = self.mirrors.sync(link["project_id"], remote)
            sha = self._fetched(git_dir, bundle, task_id)
            if results.commit and sha != results.commit:
                raise InvalidInput(
                    f"the results bundle holds {sha[:12]}, not {results.commit[:12]}"
                )
            branch = run.branch or run.base_branch
            check_branch(branch)
            self.mirrors.push(link["project_id"], remote, sha, branch)
            results = replace(results, commit=sha, branch=branch)
            url = results.pull_request_url
            if run.pull_request and branch != run.base_branch and not url:
                try:
                    url = self._open_pull_request(
                        task, link, git_dir, sha, branch, run.base_branch, run.commit_message
                    )
                except TunelabError as exc:
                    why = f"the branch {branch} was pushed, the pull request not opened: {exc}"
                    return self._failed(task_id, results, why)
            self.mirrors.sync(link["project_id"], remote)
        except TunelabError as exc:
            return self._failed(task_id, results, exc.message)
        done = replace(results, state="pushed", error="", pull_request_url=url)
        with self.engine.begin() as conn:
            return set_git_results(conn, task_id, done).results.to_dict()

    def _failed(self, task_id: str, results: GitResults, why: str) -> dict[str, Any]:
        failed = replace(results, state="failed", error=why[:2000])
        with self.engine.begin() as conn:
            return set_git_results(conn, task_id, failed).results.to_dict()

    def _link(self, conn: sa.Connection, task: dict[str, Any]) -> dict[str, Any]:
        link = repositories.get_repository(conn, task["project"]["id"])
        if link is None:
            raise Conflict(
                f"project {task['project']['name']!r} is linked to no repository to push to"
            )
        return link

    def _bundle(self, conn: sa.Connection, who: Principal, task_id: str) -> Path:
        """A local copy of the task's results bundle (its URI checked as for a download)."""
        stored = artifacts.get_artifact(conn, task_id, RESULTS_ARTIFACT)
        require_uri(conn, who, stored["uri"], Role.VIEWER, self.policy, changed_tasks=[task_id])
        return download(stored["uri"], self.storage, sha256=stored.get("sha256") or None)

    def _fetched(self, git_dir: Path, bundle: Path, task_id: str) -> str:
        return results_commit.fetch_bundle(git_dir, bundle, task_id)

    def _open_pull_request(
        self,
        task: dict[str, Any],
        link: dict[str, Any],
        git_dir: Path,
        sha: str,
        branch: str,
        base: str,
        title: str,
    ) -> str:
        from tunelab.forge import forge_for

        client = forge_for(self.settings, link["url"])
        if client is None:
            raise Conflict(f"no [[forge]] is configured for {link['url']}: no pull request")
        body = results_commit.pull_request_body(
            task["name"],
            f"{self.base_url.rstrip('/')}/experiments/{task['id']}",
            _changes(task, git_dir),
            self._metrics(task, git_dir, sha, link),
        )
        heading = title.strip().splitlines()[0] if title.strip() else f"Experiment {task['name']}"
        url: str = client.open_pull_request(
            link["url"], head=branch, base=base, title=heading, body=body
        )
        return url

    def _metrics(
        self, task: dict[str, Any], git_dir: Path, sha: str, link: dict[str, Any]
    ) -> dict[str, Any]:
        """The committed metrics of the results commit, else the task's last scalars."""
        committed = commit_metrics(git_dir, [sha], link.get("metrics_files") or [])[sha]
        if committed:
            return dict(list(committed.items())[:MAX_METRICS_SHOWN])
        with self.engine.begin() as conn:
            summaries = scalars.read_summaries(conn, [task["id"]])[task["id"]]
        found = {
            (metric if metric == variant else f"{metric}/{variant}"): s.last
            for metric, variants in summaries.items()
            for variant, s in variants.items()
            if s.last is not None
        }
        return dict(list(found.items())[:MAX_METRICS_SHOWN])


def _git_run(task: dict[str, Any]) -> GitRun:
    if not task.get("git_run"):
        raise Conflict("the task was not started from a repository commit: it has no git run")
    return GitRun.from_dict(task["git_run"])


def _people_only(who: Principal) -> None:
    if who.task is not None:
        raise Forbidden("a task's key does not push branches: a person with edit rights does")


def _author(task: dict[str, Any]) -> tuple[str, str]:
    name = str(task.get("user") or "").strip() or "tunelab"
    local = "".join(c if c.isalnum() or c in "._-" else "." for c in name).strip(".") or "user"
    return name, f"{local}@users.tunelab"


def _changes(task: dict[str, Any], git_dir: Path) -> list[tuple[str, str, str, str]]:
    """(file, key, old, new) for each parameter the run changed from the task's commit."""
    run = GitRun.from_dict(task["git_run"]) if task.get("git_run") else None
    commit = (task.get("execution") or {}).get("commit")
    if run is None or not commit:
        return []
    files = [p for p in run.params_files if supported(p)]
    contents = history.read_files(git_dir, [(commit, p) for p in files])
    hyper = task.get("hyperparameters") or {}
    changes: list[tuple[str, str, str, str]] = []
    for path in files:
        content = contents.get((commit, path))
        if content is None:
            continue
        try:
            before = flat_params(path, content.decode())
        except (TunelabError, UnicodeDecodeError):
            continue
        for key, entry in (hyper.get(path) or {}).items():
            if key in before and isinstance(entry, dict):
                old = param_body(before[key].value)["value"]
                if entry.get("value") is not None and entry["value"] != old:
                    changes.append((path, key, old, str(entry["value"])))
    return changes
