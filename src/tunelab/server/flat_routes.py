"""The app's routes as one flat list, so a request is matched in one pass.

Routers are written one per concept and included into each other (``/api/v1`` holds 27,
the pages hold 40). Since FastAPI 0.165 an included router stays a node of its own: a
request walks the nodes, checking each router's routes for changes, and the chosen one
matches again to handle it (a quarter of the server's CPU on a small write). Once the app
is built nothing is added, so ``flatten`` replaces each included router with the routes it
resolves to: the same path, dependencies (the ``authorize`` gate first), response class,
body limit and OpenAPI entry, in the same order, so the first match is the same route.

Example::

    app.include_router(api_router, prefix="/api/v1")
    flatten(app)  # last, once every router is in
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute


def flatten(app: FastAPI) -> None:
    """Replace every included router of ``app`` with its routes, in matching order. A
    router holding anything but API routes (a mount, a websocket) stays as it is."""
    flat: list[BaseRoute] = []
    for route in app.router.routes:
        contexts = list(iter_route_contexts([route]))
        if len(contexts) == 1 and contexts[0].original_route is route:
            flat.append(route)  # not an included router
        elif all(isinstance(context.original_route, APIRoute) for context in contexts):
            flat.extend(_as_route(context) for context in contexts)
        else:
            flat.append(route)
    app.router.routes[:] = flat
    app.openapi_schema = None  # drawn again from the new routes, the same document


def _as_route(context: RouteContext) -> APIRoute:
    """The route ``context`` resolves to, with what its inclusions added (prefix,
    dependencies, tags, responses, defaults) made its own, as FastAPI resolves them; of
    the original's class, as an included router's ``route_class`` makes it."""
    original = context.original_route
    assert isinstance(original, APIRoute) and context.path is not None
    return type(original)(
        context.path,
        original.endpoint,
        response_model=context.response_model,
        status_code=context.status_code,
        tags=context.tags,
        dependencies=context.dependencies,
        summary=context.summary,
        description=context.description,
        response_description=context.response_description,
        responses=context.responses,
        deprecated=context.deprecated,
        name=context.name,
        methods=context.methods,
        operation_id=context.operation_id,
        response_model_include=context.response_model_include,
        response_model_exclude=context.response_model_exclude,
        response_model_by_alias=context.response_model_by_alias,
        response_model_exclude_unset=context.response_model_exclude_unset,
        response_model_exclude_defaults=context.response_model_exclude_defaults,
        response_model_exclude_none=context.response_model_exclude_none,
        include_in_schema=context.include_in_schema,
        response_class=context.response_class,
        dependency_overrides_provider=context.dependency_overrides_provider,
        callbacks=context.callbacks,
        openapi_extra=context.openapi_extra,
        generate_unique_id_function=context.generate_unique_id_function,
        strict_content_type=context.strict_content_type,
        max_body_size=context.max_body_size,
        form_limits=original.form_limits,
    )
