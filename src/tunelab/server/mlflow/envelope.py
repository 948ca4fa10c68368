"""MLflow's error envelope for everything under ``/mlflow``: ``{"error_code", "message"}``
with the HTTP status MLflow gives that code, because the MLflow client parses it (its
``RestException`` reads ``error_code``).

Tunelab's own errors are translated by their ``code``, so a route raises ``NotFound`` or
``InvalidInput`` as anywhere else; ``MlflowError`` names an MLflow code Tunelab has no error
for (``RESOURCE_ALREADY_EXISTS``)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from tunelab.errors import TunelabError

PREFIX = "/mlflow/"

# Tunelab's error codes (``tunelab.errors``, ``server.error_handlers``) as MLflow's.
_CODES = {
    "invalid_input": "INVALID_PARAMETER_VALUE",
    "payload_too_large": "INVALID_PARAMETER_VALUE",
    "unsupported_media_type": "BAD_REQUEST",
    "method_not_allowed": "BAD_REQUEST",
    "not_found": "RESOURCE_DOES_NOT_EXIST",
    "conflict": "RESOURCE_CONFLICT",
    "unauthorized": "UNAUTHENTICATED",
    "forbidden": "PERMISSION_DENIED",
    "server_unavailable": "TEMPORARILY_UNAVAILABLE",
    "database_unavailable": "TEMPORARILY_UNAVAILABLE",
    "insufficient_storage": "TEMPORARILY_UNAVAILABLE",
}
# The status MLflow's server answers each code with (``mlflow.exceptions``).
_STATUS = {
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_CONFLICT": 409,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "TEMPORARILY_UNAVAILABLE": 503,
    "INTERNAL_ERROR": 500,
}


class MlflowError(TunelabError):
    """An error with an MLflow code of its own, in ``detail["error_code"]``."""

    status = 400
    code = "mlflow_error"

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message, detail)
        named = detail.get("error_code") if isinstance(detail, dict) else None
        self.status = _STATUS.get(str(named), 400)


def already_exists(message: str) -> MlflowError:
    return MlflowError(message, {"error_code": "RESOURCE_ALREADY_EXISTS"})


def is_mlflow_path(path: str) -> bool:
    return path.startswith(PREFIX)


def error_response(body: dict[str, Any], status: int) -> JSONResponse:
    """The MLflow envelope for what ``server.error_handlers`` would answer as ``body``."""
    error = body.get("error") or {}
    message = str(error.get("message", ""))
    code = str(error.get("code", ""))
    detail = error.get("detail")
    if code == MlflowError.code and isinstance(detail, dict):
        named = str(detail.get("error_code"))
    elif status == 404 and message.startswith("no such route"):
        named = "ENDPOINT_NOT_FOUND"
    else:
        named = _CODES.get(code, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
    return JSONResponse({"error_code": named, "message": message}, status_code=status)
