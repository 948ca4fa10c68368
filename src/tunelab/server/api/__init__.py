"""The JSON API, mounted under /api/v1."""

from fastapi import APIRouter, Depends

from tunelab.server.api import (
    artifacts,
    capture_warnings,
    ci_workflow,
    console,
    debug_samples,
    documentation,
    files,
    git_results,
    git_runs,
    health,
    lifecycle,
    members,
    metric_directions,
    models,
    pipelines,
    plots,
    projects,
    queues,
    repositories,
    saved_views,
    scalars,
    task_batches,
    tasks,
    tokens,
    upload_failures,
    users,
    workers,
)
from tunelab.server.authorize import authorize

# Every route passes the one gate: who asks, and may they touch what the path names.
api_router = APIRouter(dependencies=[Depends(authorize)])
api_router.include_router(health.router)
api_router.include_router(documentation.router)
api_router.include_router(projects.router)
api_router.include_router(task_batches.router)
api_router.include_router(tasks.router)
api_router.include_router(lifecycle.router)
api_router.include_router(pipelines.router)
api_router.include_router(scalars.router)
api_router.include_router(console.router)
api_router.include_router(plots.router)
api_router.include_router(debug_samples.router)
api_router.include_router(queues.router)
api_router.include_router(workers.router)
api_router.include_router(files.router)
api_router.include_router(artifacts.router)
api_router.include_router(upload_failures.router)
api_router.include_router(capture_warnings.router)
api_router.include_router(models.router)
api_router.include_router(users.router)
api_router.include_router(tokens.router)
api_router.include_router(members.router)
api_router.include_router(metric_directions.router)
api_router.include_router(saved_views.router)
api_router.include_router(repositories.router)
api_router.include_router(ci_workflow.router)
api_router.include_router(git_results.router)
api_router.include_router(git_runs.router)
