"""The API client the CLI commands use, configured like the SDK."""

from __future__ import annotations

import click

from tunelab.sdk.config import load_config
from tunelab.sdk.transport import ApiClient


def api_client() -> ApiClient:
    """A client closed when the command ends, however it ends (its connections with it)."""
    config = load_config()
    client = ApiClient(config.api_url, token=config.api_token)
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(client.close)
    return client
