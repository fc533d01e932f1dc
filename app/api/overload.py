"""Refuses uploads before their body is read while the pipelines are saturated."""

from collections.abc import Collection, Iterable

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.deps import PipelineSlots, get_pipeline_runner
from app.core.errors import json_error


def runs_pipeline(dependant: Dependant) -> bool:
    """Whether a route's dependency tree takes the pipeline runner, i.e. it may queue."""
    return any(
        dep.call is get_pipeline_runner or runs_pipeline(dep) for dep in dependant.dependencies
    )


def pipeline_paths(routers: Iterable[APIRouter]) -> frozenset[str]:
    """Paths of the POST routes in `routers` that run a pipeline."""
    return frozenset(
        route.path
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        and "POST" in route.methods
        and runs_pipeline(route.dependant)
    )


class EarlyOverloadRefusal:
    """Answers 503 to a POST to one of `paths` while PipelineSlots is full.

    PipelineSlots.run refuses as well, but only after FastAPI has parsed the multipart body
    on the event loop: under a flood of immediate retries those parses crowd out the
    requests already accepted. Here a refusal costs a look at the method and path. A request
    let through can still be refused by run (the line may fill while its body arrives), so
    the line stays bounded either way.
    """

    def __init__(self, app: ASGIApp, paths: Collection[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in self.paths:
            service: FastAPI = scope["app"]
            # Set in the lifespan: without it nothing runs, and nothing is worth refusing.
            slots: PipelineSlots | None = getattr(service.state, "pipeline_slots", None)
            if slots is not None and slots.full:
                refusal = slots.refusal()
                answer = json_error(refusal.status_code, refusal.detail, refusal.headers)
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)
