"""Domain errors and the one place that maps them to HTTP answers."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("hwr")


class ServiceError(Exception):
    """Base of every error the service reports to a client; carries its HTTP status."""

    status_code = 400

    def __init__(self, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


class EmptyUpload(ServiceError):
    status_code = 400


class MissingUpload(ServiceError):
    """No file in the form's `file` field (absent, or text)."""

    status_code = 422


class UnsupportedImage(ServiceError):
    """The bytes are not an image in an accepted format, or cannot be decoded."""

    status_code = 415


class PayloadTooLarge(ServiceError):
    status_code = 413


class ImageTooLarge(ServiceError):
    status_code = 413


class TooManyCharacters(ServiceError):
    status_code = 422


class Overloaded(ServiceError):
    """Every pipeline slot is busy and the waiting line is full."""

    status_code = 503


class RequestTimedOut(ServiceError):
    status_code = 504


class NotReady(ServiceError):
    status_code = 503


class ModelLoadError(RuntimeError):
    """A model file is missing, unreadable or lacks the metadata the service needs."""


def json_error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one shape of every error answer: `{"detail": "..."}`."""
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors to status codes; never leak a stack trace to the client."""

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return json_error(exc.status_code, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
        return json_error(422, "; ".join(parts) or "Invalid request.")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return json_error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        # The traceback goes to the log only: it may hold paths, settings or image data.
        return json_error(500, "Internal error.")


class QuietModelLoadFailure:
    """Leaves a model that cannot load as the one log line the lifespan wrote about it.

    Starlette hands the whole traceback to the server as the start-up failure message and
    uvicorn logs it; a missing or broken model file is a deployment mistake, not a bug, so
    the traceback would only bury the line that names the file.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold_startup_failure(message: Message) -> None:
            # Which exception caused it is known only once it propagates, just after this.
            if message["type"] == "lifespan.startup.failed":
                held.append(message)
            else:
                await send(message)

        try:
            await self.app(scope, receive, hold_startup_failure)
        except ModelLoadError:
            if held:
                await send({**held[0], "message": ""})
            raise
        except BaseException:
            for message in held:
                await send(message)
            raise
        for message in held:
            await send(message)
