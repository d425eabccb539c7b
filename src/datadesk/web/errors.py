"""Friendly HTML error pages for the web app; the JSON API keeps its error JSON (see http_errors)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from datadesk.errors import InternalError
from datadesk.web.render import render
from datadesk.web.security import HEADERS, is_page

TITLES = {
    400: "That did not work",
    403: "Not allowed",
    404: "Not found",
    409: "That clashes with something",
    413: "Too large",
    422: "That did not work",
    429: "Slow down",
    500: "Something went wrong",
    502: "The AI provider failed",
    504: "The AI provider took too long",
}


def page_error(request: Request, status: int, code: str, message: str) -> Response | None:
    """An HTML answer for an error on a page; None for the API and everything else that is not a page."""
    if not is_page(request.url.path):
        return None
    if status == 401:
        return login_redirect(request)
    if getattr(request.app.state, "templates", None) is None:
        return None
    if status == 404:
        message = "This page does not exist, or you cannot see it."
    elif status >= 500 and code == "internal_error":
        message = InternalError().message
    title = TITLES.get(status, "That did not work")
    # Set here too: the 500 handler answers from outside the middleware that adds them to other pages.
    headers = {name.decode(): value.decode() for name, value in HEADERS}
    context = {"status": status, "title": title, "message": message}
    return render(request, "error.html", context, status=status, headers=headers)


def login_redirect(request: Request) -> Response:
    """To the login page, coming back here afterwards; htmx follows HX-Redirect instead."""
    target = request.url.path
    if request.method != "GET" or target in ("/", "/login"):
        url = "/login"
    else:
        url = "/login?next=" + quote(target + (f"?{request.url.query}" if request.url.query else ""), safe="")
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
