"""The web pages, served at ``/``: server-rendered Jinja2 templates, htmx for partial updates
and forms, uPlot for charts; the static files are vendored, with no build step.

Pages are siblings of ``server/api``: both call the same store functions, neither calls the
other over HTTP. A page's JavaScript reads JSON from ``/api/v1`` where a chart needs numbers.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from tunelab.server.authorize import authorize
from tunelab.server.web import (
    account,
    actions,
    admin_users,
    charts,
    ci_setup,
    commit_view,
    compare,
    dashboard,
    debug_sample_files,
    debug_samples,
    experiment,
    experiment_edit,
    experiment_page,
    experiments,
    git_results_page,
    git_run_cloud,
    git_run_page,
    login,
    members,
    metric_directions,
    optimizer_page,
    pipeline_page,
    plots,
    queues,
    repository_settings,
    table_export,
    table_views,
)
from tunelab.server.web.templating import STATIC_DIR, create_templates

PAGES = (
    login,
    dashboard,
    experiments,
    actions,
    experiment_page,
    experiment,
    experiment_edit,
    charts,
    plots,
    debug_samples,
    debug_sample_files,
    compare,
    queues,
    account,
    admin_users,
    members,
    metric_directions,
    table_export,
    table_views,
    repository_settings,
    ci_setup,
    commit_view,
    git_run_cloud,
    git_run_page,
    git_results_page,
    pipeline_page,
    optimizer_page,
)


def install(app: FastAPI) -> None:
    app.state.templates = create_templates()
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for page in PAGES:
        app.include_router(page.router, dependencies=[Depends(authorize)])
