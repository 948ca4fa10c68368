"""GitLab (gitlab.com and self-managed) through its REST API v4.

Merge requests: ``POST /projects/{id}/merge_requests``; pipelines:
``POST /projects/{id}/pipeline`` with the inputs as CI/CD variables (GitLab runs the
repository's one ``.gitlab-ci.yml``, so the workflow name is not sent). The project id is the
URL-encoded ``group/project`` path. The token needs the ``api`` scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from tunelab.errors import ForgeError
from tunelab.forge.client import ForgeClient


class GitLabClient(ForgeClient):
    name = "GitLab"

    def _auth_headers(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": self.entry.token}

    def open_pull_request(
        self, repository_url: str, *, head: str, base: str, title: str, body: str = ""
    ) -> str:
        project = quote(self._path_of(repository_url), safe="")
        what = f"open a merge request from {head} into {base}"
        try:
            response = self._request(
                "POST",
                f"/projects/{project}/merge_requests",
                what,
                json={
                    "source_branch": head,
                    "target_branch": base,
                    "title": title,
                    "description": body,
                },
            )
        except ForgeError as exc:
            # 409 "Another open merge request already exists for this source branch".
            if isinstance(exc.detail, dict) and exc.detail.get("status") == 409:
                existing = self._open_merge_request_url(project, head, base, what)
                if existing:
                    return existing
            raise
        return self._json_field(response, "web_url", what)

    def _open_merge_request_url(self, project: str, head: str, base: str, what: str) -> str | None:
        answer = self._request(
            "GET",
            f"/projects/{project}/merge_requests",
            what,
            params={"source_branch": head, "target_branch": base, "state": "opened"},
        ).json()
        if isinstance(answer, list) and answer and isinstance(answer[0], dict):
            url = answer[0].get("web_url")
            return url if isinstance(url, str) and url else None
        return None

    def dispatch_workflow(
        self, repository_url: str, *, workflow: str, ref: str, inputs: Mapping[str, str]
    ) -> None:
        project = quote(self._path_of(repository_url), safe="")
        self._request(
            "POST",
            f"/projects/{project}/pipeline",
            f"start a pipeline on {ref}",
            json={"ref": ref, "variables": [{"key": k, "value": v} for k, v in inputs.items()]},
        )
