"""The ``/mlflow`` subtree: MLflow's tracking REST API at the paths its client calls
(``/mlflow/api/2.0/mlflow/...``) and its proxied artifact routes
(``/mlflow/api/2.0/mlflow-artifacts/...``), behind the same gate as the JSON API (a Tunelab
API key as ``MLFLOW_TRACKING_TOKEN`` is a bearer token).

Left out of Tunelab's OpenAPI document: it is MLflow's API, documented by MLflow's
``service.proto``, and it answers MLflow's error envelope (``envelope``), not Tunelab's."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from tunelab.server.authorize import authorize
from tunelab.server.mlflow import (
    artifacts,
    experiments,
    logged_models,
    recording,
    registry,
    runs,
)

PATH = "/mlflow/api/2.0/mlflow"

tracking = APIRouter(prefix=PATH)
# First: a script's metrics, once a step, are most of the requests (first match, fewest tries).
tracking.include_router(recording.router)
tracking.include_router(experiments.router)
tracking.include_router(runs.router)
tracking.include_router(logged_models.router)
tracking.include_router(registry.router)

router = APIRouter(tags=["mlflow"], dependencies=[Depends(authorize)], include_in_schema=False)
router.include_router(tracking)
router.include_router(artifacts.router, prefix=artifacts.PATH)
