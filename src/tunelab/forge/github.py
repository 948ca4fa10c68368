"""GitHub (github.com and GitHub Enterprise Server) through its REST API.

Pull requests: ``POST /repos/{owner}/{repo}/pulls``; workflows:
``POST /repos/{owner}/{repo}/actions/workflows/{file}/dispatches`` (answered 204). The token
needs "pull requests: write" and "actions: write" on the repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from tunelab.errors import ForgeError
from tunelab.forge.client import ForgeClient


class GitHubClient(ForgeClient):
    name = "GitHub"

    def _auth_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.entry.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }

    def open_pull_request(
        self, repository_url: str, *, head: str, base: str, title: str, body: str = ""
    ) -> str:
        repo = _repo_path(self._path_of(repository_url))
        what = f"open a pull request from {head} into {base}"
        try:
            response = self._request(
                "POST",
                f"/repos/{repo}/pulls",
                what,
                json={"title": title, "body": body, "head": head, "base": base},
            )
        except ForgeError as exc:
            # 422 "A pull request already exists for owner:branch": answer that one.
            if _status(exc) == 422 and "already exists" in exc.message:
                existing = self._open_pull_request_url(repo, head, base, what)
                if existing:
                    return existing
            raise
        return self._json_field(response, "html_url", what)

    def _open_pull_request_url(self, repo: str, head: str, base: str, what: str) -> str | None:
        owner = repo.split("/", 1)[0]
        answer = self._request(
            "GET",
            f"/repos/{repo}/pulls",
            what,
            params={"head": f"{owner}:{head}", "base": base, "state": "open"},
        ).json()
        if isinstance(answer, list) and answer and isinstance(answer[0], dict):
            url = answer[0].get("html_url")
            return url if isinstance(url, str) and url else None
        return None

    def dispatch_workflow(
        self, repository_url: str, *, workflow: str, ref: str, inputs: Mapping[str, str]
    ) -> None:
        repo = _repo_path(self._path_of(repository_url))
        self._request(
            "POST",
            f"/repos/{repo}/actions/workflows/{quote(workflow, safe='')}/dispatches",
            f"start workflow {workflow} on {ref}",
            json={"ref": ref, "inputs": dict(inputs)},
        )


def _repo_path(path: str) -> str:
    owner, _, name = path.partition("/")
    if not owner or not name or "/" in name:
        raise ForgeError(f"{path} is not an owner/repository path on GitHub")
    return f"{quote(owner, safe='')}/{quote(name, safe='')}"


def _status(exc: ForgeError) -> int | None:
    detail = exc.detail
    return detail.get("status") if isinstance(detail, dict) else None
