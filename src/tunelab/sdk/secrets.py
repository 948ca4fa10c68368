"""Which values are secret, and how they are hidden: the one place for the masking rules.

A variable is secret by name: ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*`` or ``*KEY*``, in any
case (``AWS_SECRET_ACCESS_KEY``, ``api_key``, ``HF_TOKEN``). The Tunelab token (from
``TUNELAB_API_TOKEN`` or the config file's ``api_token``) is secret wherever its value shows.
Whatever the run records (environment, console lines) and whatever the agent prints goes
through these rules first::

    masker = environment_masker()          # built once: the token + secret variables' values
    masker.mask_text("token=abc123456789")  # -> "token=********"
    mask_value("AWS_SECRET_ACCESS_KEY", "wJalrX...")  # -> "********" (by name)
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from typing import Any

from tunelab.errors import TunelabError

MASK = "********"
TOKEN_VARIABLE = "TUNELAB_API_TOKEN"
SECRET_NAME_HINTS = ("TOKEN", "SECRET", "PASSWORD", "KEY")
# A secret variable's value is hidden inside other text only from this length on: a short
# value ("1", "true", "us") would blank out every ordinary word that happens to hold it.
MIN_MASKED_LENGTH = 8
# The Tunelab token is hidden whatever its length, bar the absurd: a one-letter "token"
# would turn every line into asterisks.
MIN_TOKEN_LENGTH = 4


def is_secret_name(name: str) -> bool:
    """True for names that look like secrets (``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``,
    ``*KEY*``, case-insensitive)."""
    upper = name.upper()
    return any(hint in upper for hint in SECRET_NAME_HINTS)


def tunelab_token(environ: Mapping[str, str] = os.environ) -> str:
    """The token this process talks to the server with ('' without one)."""
    from tunelab.sdk.config import load_config  # the config module imports nothing heavy

    try:
        token = load_config(environ).api_token
    except TunelabError:  # an unreadable config file: the variable alone then
        token = environ.get(TOKEN_VARIABLE)
    return token or ""


def secret_values(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The values to hide inside any text: the Tunelab token and the values (of at least
    ``MIN_MASKED_LENGTH`` characters) of the secret-named variables."""
    values = [value for name, value in environ.items() if is_secret_name(name)]
    found = {value for value in values if len(value) >= MIN_MASKED_LENGTH}
    token = tunelab_token(environ)
    if len(token) >= MIN_TOKEN_LENGTH:
        found.add(token)
    return sorted(found)


class Masker:
    """Replaces each of ``secrets`` by ``MASK`` in a text; built once, called per line.

    ``in`` then ``replace`` per secret beats one alternation regex for the few secrets a
    process has: a line without any (nearly every line) costs one substring scan each.
    """

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first: a secret that holds another is replaced whole, not in part.
        unique = {s for s in secrets if s}
        self._secrets = tuple(sorted(unique, key=lambda s: (-len(s), s)))

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def mask_text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def mask_data(self, data: Any) -> Any:
        """A copy of JSON-like ``data`` with every string (keys too) masked."""
        if isinstance(data, str):
            return self.mask_text(data)
        if isinstance(data, Mapping):
            return {self.mask_data(k): self.mask_data(v) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.mask_data(item) for item in data]
        return data


def environment_masker(environ: Mapping[str, str] = os.environ) -> Masker:
    """The masker for this process: the Tunelab token and secret variables' values."""
    return Masker(secret_values(environ))


@functools.cache
def process_masker() -> Masker:
    """The masker of this process's environment as it was at the first call: for a
    long-lived process that never changes its environment (the agent's own log lines)."""
    return environment_masker()


def mask_value(name: str, value: str, masker: Masker | None = None) -> str:
    """A variable's value as it may be recorded: ``MASK`` for a secret-named variable,
    else the value with any secret inside it masked."""
    if is_secret_name(name):
        return MASK
    return (masker or environment_masker()).mask_text(value)


def mask_text(text: str, environ: Mapping[str, str] = os.environ) -> str:
    """``text`` with the secrets of ``environ`` masked (builds the rules each call: for a
    hot path, keep an ``environment_masker()`` and call its ``mask_text``)."""
    return environment_masker(environ).mask_text(text)


def is_masked(value: str) -> bool:
    """True for a value recorded masked (it must never be used as the real value)."""
    return value == MASK
