"""A run that starts while its server is unreachable is recorded offline, then uploaded once.

``Task.init`` tries the server for up to ``start_timeout`` seconds (``TUNELAB_START_TIMEOUT``,
default 5), retrying with backoff. If it never answers, the run is recorded into a new
offline folder, exactly as ``TUNELAB_OFFLINE=1`` would, and one line says where and how to
upload it. When the run ends, the folder is uploaded if the server answers by then, with
``tunelab sync``'s own code: the progress it saves (``synced.json``) and the batch ids of
every point and console line mean a later ``tunelab sync FOLDER`` adds nothing. If the
server is still away, or goes away during the upload, the last line gives the command,
which resumes where the upload stopped.

The run is uploaded at its end rather than switched live mid-run: one task, one path for
its data, nothing to reconcile between a half-sent folder and a live reporter.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunelab.errors import ServerUnavailable, TunelabError
from tunelab.sdk.config import SdkConfig
from tunelab.sdk.offline import OfflineClient, sync_session
from tunelab.sdk.transport import ApiClient

_FIRST_DELAY, _MAX_DELAY = 0.1, 1.0
_GATEWAY_ERRORS = frozenset({502, 503, 504})


def session_folder(config: SdkConfig) -> Path:
    """A new folder under ``offline_dir`` for this process's session."""
    return config.offline_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"


def create_task(
    client: ApiClient, body: Mapping[str, Any], config: SdkConfig
) -> tuple[ApiClient | OfflineClient, dict[str, Any]]:
    """The task created on the server, or, once ``start_timeout`` has passed without an
    answer, in a new offline folder (then the client returned is an ``OfflineClient``)."""
    deadline = time.monotonic() + config.start_timeout
    delay = _FIRST_DELAY
    while True:
        try:
            return client, client.create_task(body)
        except TunelabError as exc:
            if not _unreachable(exc):
                raise
            error = exc
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if delay == _FIRST_DELAY:
            _say(f"{error.message}; trying again for {config.start_timeout:g} s")
        time.sleep(min(delay, left))
        delay = min(delay * 2, _MAX_DELAY)
    offline = OfflineClient(session_folder(config))
    if delay == _FIRST_DELAY:  # no wait configured: the reason was not said yet
        _say(error.message)
    _say(
        f"recording this run offline in {offline.folder}; it is uploaded when the run ends "
        f"if the server answers by then, else upload it with: tunelab sync {offline.folder}"
    )
    return offline, offline.create_task(body)


def upload_at_end(folder: Path, config: SdkConfig) -> bool:
    """Upload ``folder`` if the server answers now; False leaves it for ``tunelab sync``."""
    try:
        with ApiClient(config.api_url, token=config.api_token, timeout=config.exit_timeout) as api:
            task_id = sync_session(folder, api)
    except TunelabError as exc:
        if not _unreachable(exc):
            _say(f"could not upload {folder}: {exc.message}")
        return False
    _say(
        f"the server answers again; this run was uploaded as task {task_id}: "
        f"{config.web_app_url}/experiments/{task_id}"
    )
    return True


def _say(line: str) -> None:
    print(f"tunelab: {line}", file=sys.stderr, flush=True)


def _unreachable(exc: TunelabError) -> bool:
    # No answer, or a proxy's gateway error: the server may answer later. Any other answer
    # (a refusal, the server's own failure) would be the same on a retry.
    return isinstance(exc, ServerUnavailable) or exc.status in _GATEWAY_ERRORS
