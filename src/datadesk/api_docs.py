"""/api/v1/docs: Swagger UI from our own static folder, under the web app's Content-Security-Policy."""

from __future__ import annotations

import secrets

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse

from datadesk.web.security import CONTENT_SECURITY_POLICY, HEADERS

DOCS_PATH = "/api/v1/docs"
OPENAPI_PATH = "/api/v1/openapi.json"
SWAGGER_DIR = "/static/swagger"


def docs_page(title: str) -> HTMLResponse:
    """Swagger UI's page; its one inline script (the initialiser FastAPI writes) runs by a fresh nonce."""
    page = get_swagger_ui_html(
        openapi_url=OPENAPI_PATH,
        title=title,
        swagger_js_url=f"{SWAGGER_DIR}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_DIR}/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
    )
    nonce = secrets.token_urlsafe(18)
    html = bytes(page.body).decode().replace("<script>", f'<script nonce="{nonce}">')
    policy = CONTENT_SECURITY_POLICY.replace("script-src 'self'", f"script-src 'self' 'nonce-{nonce}'")
    headers = {name.decode(): value.decode() for name, value in HEADERS}
    headers["content-security-policy"] = policy
    return HTMLResponse(html, headers=headers)


def install(app: FastAPI) -> None:
    """Serve the docs page (create the app with docs_url=None so FastAPI's CDN page is not mounted)."""

    async def docs() -> HTMLResponse:
        return docs_page(f"{app.title} API")

    app.add_api_route(DOCS_PATH, docs, methods=["GET"], include_in_schema=False)
