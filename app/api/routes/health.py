"""GET /health: liveness plus what is loaded and where it runs."""

from fastapi import APIRouter, Request

from app.core.engine import OnnxModel
from app.schemas import HealthResponse, ModelInfo

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthResponse)
def health(request: Request) -> HealthResponse:
    """Service status, each model's name, version and checksum, and the provider in use."""
    models: dict[str, OnnxModel] = request.app.state.models
    return HealthResponse(
        status="ok",
        models={
            route: ModelInfo(name=m.name, version=m.version, sha256=m.sha256, provider=m.provider)
            for route, m in models.items()
        },
    )
