"""The FastAPI application: models load once in the lifespan; routes get them by dependency."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import cv2
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.formparsers import MultiPartParser

from app.api.deps import PipelineSlots
from app.api.overload import EarlyOverloadRefusal, pipeline_paths
from app.api.routes import digits, health, lines
from app.core.config import Settings, get_settings
from app.core.engine import EngineOptions, OnnxModel, resolve_device
from app.core.errors import ModelLoadError, QuietModelLoadFailure, install_error_handlers
from app.core.limits import BodySizeLimit
from app.core.logs import configure_logging
from app.core.security import install_access_control
from app.digits.reader import REQUIRED_METADATA as DIGIT_METADATA
from app.digits.reader import DigitReader
from app.lines.direction import REQUIRED_METADATA as DIRECTION_METADATA
from app.lines.direction import LineDirection
from app.lines.lm import CharNgramLM
from app.lines.reader import REQUIRED_METADATA as LINE_METADATA
from app.lines.reader import LineReader

log = logging.getLogger("hwr")
# Included without a prefix, so their route paths are the app's.
ROUTERS = (health.router, digits.router, lines.router)


def load_models(app: FastAPI, settings: Settings) -> None:
    device = resolve_device(settings.device)
    options = EngineOptions(
        device, settings.intra_op_threads, settings.inter_op_threads, settings.onnx_spinning
    )
    lenet = OnnxModel(settings.digits_model, options, DIGIT_METADATA)
    pairs = (
        OnnxModel(settings.digit_pairs_model, options, DIGIT_METADATA)
        if settings.digit_pairs_model
        else None
    )
    chains = (
        OnnxModel(settings.digit_chains_model, options, LINE_METADATA)
        if settings.digit_chains_model
        else None
    )
    app.state.digit_reader = DigitReader(
        lenet,
        max_digits=settings.max_digits,
        pairs=pairs,
        chains=chains,
        clean_crops=settings.clean_crops,
    )
    crnn = OnnxModel(settings.lines_model, options, LINE_METADATA)
    lm = CharNgramLM(settings.lines_lm) if settings.lines_lm else None
    direction = (
        OnnxModel(settings.lines_direction_model, options, DIRECTION_METADATA)
        if settings.lines_direction_model
        else None
    )
    app.state.line_reader = LineReader(
        crnn,
        max_lines=settings.max_lines,
        lm=lm,
        lm_weights={"chinese": settings.lm_weight_chinese, "latin": settings.lm_weight_latin},
        direction=LineDirection(direction) if direction is not None else None,
    )
    app.state.models = {"digits": lenet, "lines": crnn}
    if direction is not None:
        app.state.models["lines_direction"] = direction
    if pairs is not None:
        app.state.models["digit_pairs"] = pairs
    if chains is not None:
        app.state.models["digit_chains"] = chains
    if lm is not None:
        app.state.models["lines_lm"] = lm
    for role, model in app.state.models.items():
        log.info(
            "loaded %s for %s on %s (sha256 %s)",
            model.path.name,
            role,
            model.provider,
            model.sha256[:12],
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # OpenCV's own thread pool costs more to wake than the small images it would split.
        cv2.setNumThreads(settings.opencv_threads)
        app.state.pipeline_slots = PipelineSlots(
            settings.max_concurrency, settings.max_queue, settings.request_timeout_s
        )
        try:
            load_models(app, settings)
        except ModelLoadError as exc:
            log.error("Cannot start: %s", exc)  # the one line; QuietModelLoadFailure drops the rest
            raise
        app.state.ready = True
        yield
        app.state.ready = False

    app = FastAPI(
        title="Handwriting recognition",
        version="0.1.0",
        description=(
            "Reads handwritten digits and lines from uploaded images "
            "(LeNet-5 and CRNN on onnxruntime)."
        ),
        lifespan=lifespan,
    )
    configure_logging(settings.log_level)
    app.state.settings = settings
    app.state.models = {}
    app.state.ready = False
    # Uploads the general form parser reads (`app.api.upload`) stay in memory up to the body
    # limit: they are never spooled to disk.
    MultiPartParser.spool_max_size = settings.max_upload_bytes + 1
    # The last added runs first: the key check, then the size limit, then the overload
    # refusal, so a client without the key gets 401 and never learns how busy the service is.
    app.add_middleware(EarlyOverloadRefusal, paths=pipeline_paths(ROUTERS))
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes)
    install_access_control(app, settings)
    app.add_middleware(QuietModelLoadFailure)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app


app = create_app()
