"""Logins under load, on a real server that asks for login: the failure limit holds however
many wrong passwords arrive at once, and password checks (argon2, slow on purpose) never
hold up other requests, such as a run's scalar posts."""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.accounts import AUTH_ON, PASSWORD, make_accounts
from tests.server.access_world import csrf_of, scalar_batch
from tests.server.answers import ok
from tests.services import ServerProcess
from tests.waiting import wait_for
from tunelab.domain.access import UserKind
from tunelab.server.login_limiter import MAX_FAILURES
from tunelab.store.engine import sqlite_url

ACCOUNTS = {"root": UserKind.ADMIN, "ana": UserKind.MEMBER, "ben": UserKind.MEMBER}


@dataclass
class Server:
    url: str
    keys: dict[str, str]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp("login-load")
    made = make_accounts(sqlite_url(data_dir), ACCOUNTS)
    process = ServerProcess(data_dir, env=AUTH_ON)
    process.start()
    try:
        yield Server(process.url, {name: account.key for name, account in made.items()})
    finally:
        process.stop()


@contextlib.contextmanager
def _login_form(url: str) -> Iterator[httpx.Client]:
    """A browser on the login page: its CSRF cookie set."""
    with httpx.Client(base_url=url, timeout=60) as web:
        web.get("/login")
        yield web


def _log_in(web: httpx.Client, name: str, password: str) -> httpx.Response:
    form = {"name": name, "password": password, "next": "/", "csrf_token": csrf_of(web)}
    return web.post("/login", data=form)


def test_parallel_wrong_passwords_are_checked_at_most_the_limit(server: Server) -> None:
    attempts = 30
    with contextlib.ExitStack() as stack:
        browsers = [stack.enter_context(_login_form(server.url)) for _ in range(attempts)]
        _guess_all(browsers)


def _guess_all(browsers: list[httpx.Client]) -> None:
    attempts = len(browsers)
    start = threading.Barrier(attempts)
    statuses: list[int] = []

    def guess(web: httpx.Client, n: int) -> None:
        start.wait()
        statuses.append(_log_in(web, "ana", f"wrong guess {n}").status_code)

    threads = [threading.Thread(target=guess, args=(web, n)) for n, web in enumerate(browsers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counted = Counter(statuses)
    # A 401 is a password that was checked; a 429 one refused before any check.
    assert counted[401] <= MAX_FAILURES, counted
    assert counted[401] + counted[429] == attempts, counted
    # The pair stays refused, the right password too; another name is not held up.
    assert _log_in(browsers[0], "ana", PASSWORD).status_code == 429
    assert _log_in(browsers[1], "ben", PASSWORD).status_code == 303


def test_scalar_posts_stay_fast_while_logins_hammer(server: Server) -> None:
    api = httpx.Client(
        base_url=f"{server.url}/api/v1",
        headers={"Authorization": f"Bearer {server.keys['ana']}"},
        timeout=60,
    )
    task = ok(api.post("/tasks", json={"name": "under load", "project": "login-load"}), 201)
    posts = f"/tasks/{task['id']}/scalars"

    def post_once(n: int) -> float:
        batch = {**scalar_batch("loss"), "batch_id": f"load-{n}"}
        began = time.perf_counter()
        ok(api.post(posts, json=batch))
        return time.perf_counter() - began

    quiet = [post_once(n) for n in range(10)]
    stop = threading.Event()
    logins: list[int] = []

    def hammer(client_no: int) -> None:
        # Each guess names another account, so no failure limit slows this client down.
        with _login_form(server.url) as web:
            n = 0
            while not stop.is_set():
                logins.append(_log_in(web, f"nobody-{client_no}-{n}", "not it at all").status_code)
                n += 1

    hammers = [threading.Thread(target=hammer, args=(i,)) for i in range(12)]
    for thread in hammers:
        thread.start()
    try:
        # Every login client has had an answer and sent its next guess: all of them busy.
        wait_for(lambda: len(logins) >= len(hammers), timeout=60, what="the login clients")
        loaded = [post_once(100 + n) for n in range(30)]
    finally:
        stop.set()
        for thread in hammers:
            thread.join()
        api.close()
    p95 = statistics.quantiles(loaded, n=20)[-1]
    print(
        f"\nscalar post: quiet median {statistics.median(quiet) * 1000:.0f} ms; "
        f"under 12 login clients median {statistics.median(loaded) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {max(loaded) * 1000:.0f} ms; "
        f"{len(logins)} logins answered {dict(Counter(logins))}"
    )
    assert set(logins) == {401}, Counter(logins)
    assert len(logins) >= 12
    assert p95 < 1.0, sorted(loaded)
