"""What every forge client does, and its one seam to the network.

A client holds one ``[[forge]]`` entry (its token included) and speaks JSON to the forge's
REST API with httpx, with timeouts. Every failure (a refusal, a timeout, an answer that is
not what the forge documents) is a ForgeError whose message names the forge's own answer,
with the token blanked wherever it could have been echoed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import httpx

from tunelab.errors import ForgeError
from tunelab.forge.config import ForgeEntry

# Forges answer these calls in well under a second; a slow one should not hold a page.
TIMEOUT = httpx.Timeout(20.0, connect=10.0)
_MAX_MESSAGE = 500


class ForgeClient(ABC):
    """Opens pull requests and starts CI workflows on one forge.

    Example::

        client = forge_for(settings, "https://github.com/team/repo.git")
        url = client.open_pull_request(repo_url, head="tunelab/x", base="main", title="...")
        client.dispatch_workflow(repo_url, workflow="tunelab.yml", ref="main",
                                 inputs={"task_id": task_id})
    """

    name = "forge"

    def __init__(self, entry: ForgeEntry, transport: httpx.BaseTransport | None = None) -> None:
        self.entry = entry
        self._transport = transport

    @abstractmethod
    def open_pull_request(
        self, repository_url: str, *, head: str, base: str, title: str, body: str = ""
    ) -> str:
        """Open a pull (merge) request from ``head`` into ``base``; its web URL. One already
        open for the same branches is answered with its URL."""

    @abstractmethod
    def dispatch_workflow(
        self, repository_url: str, *, workflow: str, ref: str, inputs: Mapping[str, str]
    ) -> None:
        """Start the repository's CI on ``ref`` with ``inputs``."""

    @abstractmethod
    def _auth_headers(self) -> dict[str, str]: ...

    def _path_of(self, repository_url: str) -> str:
        path = self.entry.repository_path(repository_url)
        if path is None:
            raise ForgeError(f"{repository_url} is not a repository on {self.entry.url}")
        return path

    def _request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One call to the API; a ForgeError unless the forge answered 2xx."""
        url = self.entry.api_url + path
        try:
            with httpx.Client(
                timeout=TIMEOUT, transport=self._transport, follow_redirects=False
            ) as http:
                response = http.request(
                    method, url, json=json, params=params, headers=self._auth_headers()
                )
        except httpx.HTTPError as exc:
            reason = type(exc).__name__ if not str(exc) else str(exc)
            raise ForgeError(
                self._scrub(
                    f"could not {what}: {self.name} at {self.entry.api_url} did not "
                    f"answer ({reason})"
                )
            ) from None
        if not response.is_success:
            raise ForgeError(
                self._scrub(
                    f"could not {what}: {self.name} answered {response.status_code}"
                    f" {forge_message(response)}".rstrip()
                ),
                {"status": response.status_code},
            )
        return response

    def _json_field(self, response: httpx.Response, key: str, what: str) -> str:
        try:
            value = response.json().get(key)
        except (ValueError, AttributeError):
            value = None
        if not isinstance(value, str) or not value:
            raise ForgeError(f"could not {what}: {self.name}'s answer has no {key}")
        return value

    def _scrub(self, text: str) -> str:
        return text.replace(self.entry.token, "***") if self.entry.token else text


def forge_message(response: httpx.Response) -> str:
    """The forge's own sentence out of an error answer: GitHub's ``message`` and its
    ``errors[].message``, GitLab's ``message`` (text, list or field map) or ``error``."""
    try:
        data = response.json()
    except ValueError:
        return _clip(response.text.strip())
    parts: list[str] = []
    if isinstance(data, dict):
        for key in ("message", "error", "error_description"):
            parts.extend(_texts(data.get(key)))
        errors = data.get("errors")
        for item in errors if isinstance(errors, list) else []:
            parts.extend(_texts(item.get("message") if isinstance(item, dict) else item))
    return _clip(": ".join(dict.fromkeys(p for p in parts if p)))


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    if isinstance(value, dict):
        return [f"{k} {t}" for k, v in value.items() for t in _texts(v)]
    return []


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "…"
