"""GET /health: liveness plus what is loaded and where it runs; GET /ready: readiness."""

from fastapi import APIRouter, Request

from app.core.engine import OnnxModel
from app.core.errors import NotReady
from app.lines.lm import CharNgramLM
from app.schemas import ErrorResponse, HealthResponse, ModelInfo, ReadyResponse

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthResponse)
def health(request: Request) -> HealthResponse:
    """Service status, each model's name, version and checksum, and the provider in use."""
    models: dict[str, OnnxModel | CharNgramLM] = request.app.state.models
    return HealthResponse(
        status="ok",
        models={
            route: ModelInfo(name=m.name, version=m.version, sha256=m.sha256, provider=m.provider)
            for route, m in models.items()
        },
    )


@router.get(
    "/ready",
    response_model=ReadyResponse,
    responses={503: {"model": ErrorResponse, "description": "Models not loaded (yet)."}},
)
def ready(request: Request) -> ReadyResponse:
    """200 once every model is loaded and until shutdown begins; 503 otherwise."""
    if not request.app.state.ready:
        raise NotReady("The models are not loaded.")
    return ReadyResponse(status="ready")
