"""The API's own documentation, offline: ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) served
from assets vendored in ``static/vendor`` (no CDN), and the shape of ``/openapi.json``.

The OpenAPI document says what the server really answers: request validation fails with
400 :class:`~vectron.services.gateway.models.ErrorResponse` (the exception handler in
``rest.py`` turns FastAPI's 422 into it), so FastAPI's generated 422 ``HTTPValidationError``
responses are replaced by that 400. (``filter`` fields get their ``Filter`` schema from
``models.FilterT``.)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

__all__ = ["docs_router", "install_openapi", "VENDOR_URL"]

VENDOR_URL = "/dashboard/static/vendor"
#: the docs pages may load images only from here: ReDoc's footer logo would come from a CDN
_CSP = {"Content-Security-Policy": "img-src 'self' data:"}
_BAD_INPUT = {
    "description": "bad input (the field is named)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
}


def docs_router(openapi_url: str, title: str) -> APIRouter:
    """``/docs``, its OAuth2 redirect page and ``/redoc``, all from vendored files."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs", name="swagger_ui")
    def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{title} - Swagger UI", oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{VENDOR_URL}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{VENDOR_URL}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{VENDOR_URL}/swagger-ui/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},  # no badge from the public validator
        )
        page.headers.update(_CSP)
        return page

    @router.get("/docs/oauth2-redirect", name="swagger_ui_redirect")
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @router.get("/redoc", name="redoc")
    def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url, title=f"{title} - ReDoc", redoc_js_url=f"{VENDOR_URL}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{VENDOR_URL}/swagger-ui/favicon-32x32.png", with_google_fonts=False,
        )
        page.headers.update(_CSP)
        return page

    return router


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with its 422 answers replaced by the real 400."""
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.get("components", {}).get("schemas", {})
    for item in doc.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", _BAD_INPUT)
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    return doc


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and so ``/openapi.json``) build :func:`openapi_document` once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
