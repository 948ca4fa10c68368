"""A stand-in for the GitHub and GitLab REST APIs, for the tests.

GitHub and GitLab cannot be reached from where the tests run, so this small threaded
``http.server`` on 127.0.0.1 (port 0) answers the few calls Tunelab makes as those forges
document them, and records every request (method, path, query, headers, JSON body):

    GitHub  POST /repos/{owner}/{repo}/pulls                          201 {html_url, number}
            GET  /repos/{owner}/{repo}/pulls?head=owner:branch        200 [open pull requests]
            POST /repos/{owner}/{repo}/actions/workflows/{file}/dispatches   204
    GitLab  POST /projects/{group%2Fproject}/merge_requests           201 {web_url, iid}
            GET  /projects/{group%2Fproject}/merge_requests?source_branch=...   200 [...]
            POST /projects/{group%2Fproject}/pipeline                 201 {id, web_url}

A wrong token gets 401 ``{"message": "Bad credentials"}`` (GitLab: ``"401 Unauthorized"``); a
second pull request for the same branches gets GitHub's 422 ``"A pull request already exists
for owner:branch."`` (GitLab: 409); a missing field gets 422 (GitLab: 400).

Example::

    with FakeForge(kind="github", token="t0ken") as forge:
        entry = forge.entry()          # a ForgeEntry for https://github.com pointing at it
        ...
        assert forge.requests[-1].json == {"ref": "main", "inputs": {"task_id": "abc"}}
"""

from __future__ import annotations

import http.server
import json
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tunelab.forge import ForgeEntry


@dataclass
class Recorded:
    method: str
    path: str  # as sent, still percent-encoded
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    json: Any


@dataclass
class FakeForge:
    kind: str = "github"
    token: str = "forge-token"
    url: str = "https://github.com"
    requests: list[Recorded] = field(default_factory=list)
    # Open pull requests, (repository path, head, base) -> web URL.
    pulls: dict[tuple[str, str, str], str] = field(default_factory=dict)
    _server: http.server.ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api_url(self) -> str:
        assert self._server is not None, "start the fake forge first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def entry(self, *, token: str | None = None) -> ForgeEntry:
        kind = "github" if self.kind == "github" else "gitlab"
        return ForgeEntry(self.url, kind, self.api_url, self.token if token is None else token)

    def __enter__(self) -> FakeForge:
        handler = type("Handler", (_Handler,), {"forge": self})
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def answer(self, request: Recorded) -> tuple[int, Any]:
        with self._lock:
            self.requests.append(request)
            if not self._authorized(request.headers):
                message = "Bad credentials" if self.kind == "github" else "401 Unauthorized"
                return 401, {"message": message}
            if self.kind == "github":
                return self._github(request)
            return self._gitlab(request)

    def _authorized(self, headers: dict[str, str]) -> bool:
        if self.kind == "github":
            return headers.get("authorization") == f"Bearer {self.token}"
        return headers.get("private-token") == self.token

    def _github(self, request: Recorded) -> tuple[int, Any]:
        parts = request.path.strip("/").split("/")
        if len(parts) == 4 and parts[0] == "repos" and parts[3] == "pulls":
            repo = f"{unquote(parts[1])}/{unquote(parts[2])}"
            if request.method == "GET":
                head = request.query.get("head", "").partition(":")[2]
                return 200, [
                    {"html_url": url}
                    for (r, h, b), url in self.pulls.items()
                    if r == repo and h == head and b == request.query.get("base", b)
                ]
            body = request.json if isinstance(request.json, dict) else {}
            missing = [k for k in ("title", "head", "base") if not body.get(k)]
            if missing:
                return 422, {"message": "Validation Failed", "errors": [{"field": missing[0]}]}
            key = (repo, body["head"], body["base"])
            if key in self.pulls:
                owner = repo.split("/")[0]
                already = f"A pull request already exists for {owner}:{body['head']}."
                return 422, {"message": "Validation Failed", "errors": [{"message": already}]}
            number = len(self.pulls) + 1
            self.pulls[key] = f"{self.url}/{repo}/pull/{number}"
            return 201, {"html_url": self.pulls[key], "number": number}
        if (
            len(parts) == 7
            and parts[0] == "repos"
            and parts[3:5] == ["actions", "workflows"]
            and parts[6] == "dispatches"
            and request.method == "POST"
        ):
            body = request.json if isinstance(request.json, dict) else {}
            if not body.get("ref"):
                return 422, {"message": 'Invalid request.\n\n"ref" wasn\'t supplied.'}
            return 204, None
        return 404, {"message": "Not Found"}

    def _gitlab(self, request: Recorded) -> tuple[int, Any]:
        parts = request.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "projects":
            return 404, {"message": "404 Not Found"}
        project = unquote(parts[1])
        if "/" not in project:
            return 404, {"message": "404 Project Not Found"}
        body = request.json if isinstance(request.json, dict) else {}
        if parts[2] == "merge_requests":
            if request.method == "GET":
                source = request.query.get("source_branch")
                return 200, [
                    {"web_url": url}
                    for (r, h, _b), url in self.pulls.items()
                    if r == project and h == source
                ]
            missing = [k for k in ("source_branch", "target_branch", "title") if not body.get(k)]
            if missing:
                return 400, {"error": f"{missing[0]} is missing"}
            key = (project, body["source_branch"], body["target_branch"])
            if key in self.pulls:
                return 409, {
                    "message": [
                        "Another open merge request already exists for this source branch: !1"
                    ]
                }
            iid = len(self.pulls) + 1
            self.pulls[key] = f"{self.url}/{project}/-/merge_requests/{iid}"
            return 201, {"web_url": self.pulls[key], "iid": iid}
        if parts[2] == "pipeline" and request.method == "POST":
            if not body.get("ref"):
                return 400, {"error": "ref is missing"}
            return 201, {"id": 1, "web_url": f"{self.url}/{project}/-/pipelines/1"}
        return 404, {"message": "404 Not Found"}


class _Handler(http.server.BaseHTTPRequestHandler):
    forge: FakeForge

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        request = Recorded(
            method=self.command,
            path=parts.path,
            query={k: v[0] for k, v in parse_qs(parts.query).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
            json=body,
        )
        status, answer = self.forge.answer(request)
        data = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass
