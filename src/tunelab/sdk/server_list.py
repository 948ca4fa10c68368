"""Several addresses of one Tunelab server (its replicas), and which one to talk to now.

A team server may run as several replicas on one PostgreSQL. Given all their URLs
(``TUNELAB_API_URL="http://tl-a:8080,http://tl-b:8080"``), the SDK and the agent talk to the
first, stay with whichever answers, and move to the next one that does when it stops
answering. A load balancer in front of the replicas does the same job with a single URL.

Example::

    servers = ServerList.parse("http://tl-a:8080, http://tl-b:8080")
    servers.current()            # "http://tl-a:8080"
    servers.failed("http://tl-a:8080")
    servers.current()            # "http://tl-b:8080"
    servers.setting              # "http://tl-a:8080,http://tl-b:8080": for a child process
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

_API_PREFIX = "/api/v1"


def split_urls(text: str) -> list[str]:
    """The URLs of a comma-separated list, blanks dropped."""
    return [part.strip() for part in text.split(",") if part.strip()]


def base_url(url: str) -> str:
    """``url`` without a trailing slash or the ``/api/v1`` suffix."""
    base = url.rstrip("/")
    return base[: -len(_API_PREFIX)] if base.endswith(_API_PREFIX) else base


class ServerList:
    """The replicas' base URLs in the order given, and the one in use (shared by threads)."""

    def __init__(self, urls: Sequence[str]) -> None:
        bases = list(dict.fromkeys(base_url(url) for url in urls))
        if not bases:
            raise ValueError("no server URL given")
        self.urls: tuple[str, ...] = tuple(bases)
        self._index = 0
        self._lock = threading.Lock()

    @classmethod
    def parse(cls, urls: str | Sequence[str]) -> ServerList:
        """From one URL, a comma-separated list, or a sequence of URLs."""
        return cls(split_urls(urls) if isinstance(urls, str) else list(urls))

    @property
    def setting(self) -> str:
        """Every URL, comma-separated: what ``TUNELAB_API_URL`` says."""
        return ",".join(self.urls)

    def current(self) -> str:
        return self.urls[self._index]

    def failed(self, url: str) -> str:
        """``url`` did not answer: move on from it (unless another thread did already);
        the URL to try now."""
        with self._lock:
            if self.urls[self._index] == url:
                self._index = (self._index + 1) % len(self.urls)
            return self.urls[self._index]

    def rotation(self) -> list[str]:
        """Every URL once, starting with the one in use: the order one call tries them."""
        start = self._index
        return [self.urls[(start + i) % len(self.urls)] for i in range(len(self.urls))]
