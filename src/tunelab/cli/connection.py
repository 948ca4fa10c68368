"""The API client the CLI commands use, configured like the SDK."""

from __future__ import annotations

from tunelab.sdk.config import load_config
from tunelab.sdk.transport import ApiClient


def api_client() -> ApiClient:
    config = load_config()
    return ApiClient(config.api_url, token=config.api_token)
