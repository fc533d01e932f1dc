"""Domain errors and the one place that maps them to HTTP answers."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("hwr")


class ServiceError(Exception):
    """Base of every error the service reports to a client; carries its HTTP status."""

    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class EmptyUpload(ServiceError):
    status_code = 400


class UnsupportedImage(ServiceError):
    """The bytes are not an image in an accepted format, or cannot be decoded."""

    status_code = 415


class PayloadTooLarge(ServiceError):
    status_code = 413


class ImageTooLarge(ServiceError):
    status_code = 413


class TooManyCharacters(ServiceError):
    status_code = 422


class ModelLoadError(RuntimeError):
    """A model file is missing, unreadable or lacks the metadata the service needs."""


def _json(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors to status codes; never leak a stack trace to the client."""

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return _json(exc.status_code, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
        return _json(422, "; ".join(parts) or "Invalid request.")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _json(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _json(500, "Internal error; it has been logged.")
