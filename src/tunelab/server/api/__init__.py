"""The JSON API, mounted under /api/v1."""

from fastapi import APIRouter

from tunelab.server.api import console, health, projects, scalars, tasks

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(projects.router)
api_router.include_router(tasks.router)
api_router.include_router(scalars.router)
api_router.include_router(console.router)
