"""Optional API key and CORS: both off unless configured."""

import hmac
from collections.abc import Collection
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.config import Settings
from app.core.errors import json_error

API_KEY_HEADER = "X-API-Key"
# Probes, the redirect and the documentation stay open so orchestrators and people can see
# that the service is up and what it offers.
PUBLIC_PATHS = frozenset(
    {"/", "/health", "/ready", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)


class ApiKeyGuard:
    """Answers 401 unless the X-API-Key header holds the key; `public` paths need none.

    A middleware, not a route dependency: FastAPI parses the body before dependencies run,
    and a route added later is guarded without anyone having to remember it.
    """

    def __init__(self, app: ASGIApp, key: str, public: Collection[str] = PUBLIC_PATHS) -> None:
        self.app = app
        self.key = key.encode()
        self.public = frozenset(public)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public:
            await self.app(scope, receive, send)
            return
        header = API_KEY_HEADER.lower().encode()
        given = next((value for name, value in scope["headers"] if name == header), None)
        if given is not None and hmac.compare_digest(given, self.key):
            await self.app(scope, receive, send)
            return
        detail = f"Missing {API_KEY_HEADER} header." if given is None else "Wrong API key."
        await json_error(401, detail)(scope, receive, send)


def document_api_key(app: FastAPI, public: Collection[str] = PUBLIC_PATHS) -> None:
    """Declares the key in the OpenAPI schema, so /docs offers an Authorize button."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["APIKey"] = {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}
            for path, operations in schema.get("paths", {}).items():
                if path in public:
                    continue
                for operation in operations.values():
                    operation["security"] = [{"APIKey": []}]
                    operation["responses"].setdefault(
                        "401", {"description": f"Missing or wrong {API_KEY_HEADER} header."}
                    )
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def install_access_control(app: FastAPI, settings: Settings) -> None:
    """API key check, then CORS outside it, so preflights and 401s carry CORS headers."""
    if settings.api_key is not None:
        app.add_middleware(ApiKeyGuard, key=settings.api_key.get_secret_value())
        document_api_key(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=[API_KEY_HEADER],
            expose_headers=["Retry-After"],
        )
