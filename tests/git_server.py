"""A real git server for the tests: bare repositories served over HTTP by ``git http-backend``
(git's own smart-HTTP CGI program) behind a small threaded ``http.server``, on 127.0.0.1,
with HTTP basic credentials. Fetch and push go through git's real protocol; a wrong or
missing credential gets a 401, as from any forge.

Example::

    with GitServer(tmp_path / "git", user="bot", password="s3cret") as git_server:
        bare = git_server.create("demo")             # an empty bare repository, push enabled
        url = git_server.url_for("demo")             # http://127.0.0.1:PORT/demo.git
        git(work, "push", git_server.authed_url("demo"), "main")
"""

from __future__ import annotations

import base64
import http.server
import os
import subprocess
import threading
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from tests.services import free_port

HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"


class GitServer:
    def __init__(self, root: Path, *, user: str = "tester", password: str = "secret") -> None:
        self.root = root
        self.user = user
        self.password = password
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) served
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> GitServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        handler = type("Handler", (_Handler,), {"git_server": self})
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def create(self, name: str) -> Path:
        """An empty bare repository ``<name>.git`` (branch main) that accepts pushes."""
        bare = self.root / f"{name}.git"
        subprocess.run(
            ["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True, env=_git_env()
        )
        subprocess.run(
            ["git", "--git-dir", str(bare), "config", "http.receivepack", "true"],
            check=True,
            env=_git_env(),
        )
        return bare

    def url_for(self, name: str) -> str:
        return f"{self.url}/{name}.git"

    def authed_url(self, name: str) -> str:
        """The URL with the credentials in it: for the tests' own pushes and clones."""
        return f"http://{self.user}:{self.password}@127.0.0.1:{self.port}/{name}.git"


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"})
    return env


class _Handler(http.server.BaseHTTPRequestHandler):
    git_server: GitServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: object) -> None:
        pass  # the tests read ``requests`` instead

    def _authorized(self) -> bool:
        given = self.headers.get("Authorization", "")
        wanted = base64.b64encode(
            f"{self.git_server.user}:{self.git_server.password}".encode()
        ).decode()
        return given == f"Basic {wanted}"

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        if not self._authorized():
            self._answer(401, b"credentials required\n", {"WWW-Authenticate": 'Basic realm="git"'})
            self.git_server.requests.append((self.command, parts.path, 401))
            return
        body = self._body()
        env = {
            **_git_env(),
            "GIT_PROJECT_ROOT": str(self.git_server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": self.git_server.user,
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        done = subprocess.run([HTTP_BACKEND], input=body, capture_output=True, env=env, check=False)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        if not _ and b"\n\n" in done.stdout:
            head, _, payload = done.stdout.partition(b"\n\n")
        status = 200
        headers: dict[str, str] = {}
        for line in head.decode(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers[key.strip()] = value.strip()
        self.git_server.requests.append((self.command, parts.path, status))
        self._answer(status, payload, headers)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
