"""Templates and safe rendering: Jinja2 with autoescape, markdown through markdown-it-py and then nh3."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import nh3
from fastapi import Request
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from datadesk.web.session import CSRF_FIELD, viewer_of, web_session_of

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

EXTERNAL_REL = "noopener noreferrer nofollow"
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "rel"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
}
URL_SCHEMES = {"http", "https", "mailto"}


def is_external(url: str) -> bool:
    """Whether a URL leaves this server: it names a scheme or a host."""
    parsed = urlparse(url.strip())
    return bool(parsed.scheme or parsed.netloc) or url.strip().startswith("//")


def _link_open(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    if is_external(str(token.attrGet("href") or "")):
        token.attrSet("rel", EXTERNAL_REL)
    return self.renderToken(tokens, idx, options, env)


def _image(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    # An image from another host would be a request leaving the page (a tracker, or worse): show a link instead.
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env)
    if is_external(src):
        label = f"image: {alt}" if alt else "image"
        return f'<a href="{_attr(src)}" rel="{EXTERNAL_REL}">{_text(label)}</a>'
    return f'<img src="{_attr(src)}" alt="{_attr(alt)}">'


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _markdown() -> MarkdownIt:
    # html=False: raw HTML in a description or an answer is shown as text, never as markup.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("image", _image)
    return md


_MD = _markdown()


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src" and is_external(value):
        return None
    return value


def sanitize(html: str) -> str:
    """Keep only harmless tags and attributes; scripts, handlers and javascript: URLs go."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=None,
        attribute_filter=_keep_attribute,
        strip_comments=True,
    )


def markdown(text: str | None) -> Markup:
    """Markdown rendered and sanitised, ready for a template."""
    if not text:
        return Markup("")
    return Markup(sanitize(_MD.render(text)))


def plaintext(text: str | None) -> str:
    """Markdown reduced to its words, for one-line summaries (the template escapes them)."""
    if not text:
        return ""
    return " ".join(html.unescape(nh3.clean(_MD.render(text), tags=set())).split())


def filesize(size: int | float | None) -> str:
    size = float(size or 0)
    if size < 1024:
        return f"{int(size)} bytes" if size != 1 else "1 byte"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def when(value: datetime | None) -> str:
    if value is None:
        return "never"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


PROVIDER_NAMES = {"local": "this server", "openai": "OpenAI", "anthropic": "Anthropic"}


def receipt(disclosure: Mapping[str, Any] | None) -> str:
    """The disclosure receipt in one line: what was sent where."""
    disclosure = disclosure or {}
    provider = str(disclosure.get("provider") or "")
    if provider in ("", "local") or disclosure.get("region") == "this server":
        return "nothing left this server"
    size = int(disclosure.get("bytes") or 0)
    if not size:
        return "nothing was sent"
    count = len(disclosure.get("resource_ids") or [])
    name = PROVIDER_NAMES.get(provider, provider)
    region = disclosure.get("region") or "unknown region"
    if region == "self-hosted":
        name, region = str(disclosure.get("host") or name), "self-hosted"
    noun = "resource" if count == 1 else "resources"
    return f"sent to {name} ({region}): {count} {noun}, {filesize(size)}"


def plural(count: int, singular: str, many: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (many or singular + 's')}"


def make_templates() -> Jinja2Templates:
    """The web app's templates; built by create_app, one set per app."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.filters.update(
        markdown=markdown, plaintext=plaintext, filesize=filesize, when=when, receipt=receipt, plural=plural
    )
    env.globals.update(CSRF_FIELD=CSRF_FIELD, provider_names=PROVIDER_NAMES)
    env.trim_blocks = True
    env.lstrip_blocks = True
    return templates


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A page (or an htmx fragment) with the signed-in person and the CSRF token in its context."""
    templates: Jinja2Templates = request.app.state.templates
    web_session = web_session_of(request)
    full = {
        "viewer": viewer_of(request),
        "csrf_token": web_session.csrf,
        "path": request.url.path,
        "htmx": is_htmx(request),
        **(context or {}),
    }
    response = templates.TemplateResponse(request, name, full, status_code=status, headers=dict(headers or {}))
    web_session.save_if_new(request, response)
    return response


def fragment(request: Request, name: str, context: Mapping[str, Any] | None = None) -> str:
    """A template rendered to a string (for server-sent events)."""
    templates: Jinja2Templates = request.app.state.templates
    web_session = web_session_of(request)
    full = {"viewer": viewer_of(request), "csrf_token": web_session.csrf, "request": request, **(context or {})}
    return templates.get_template(name).render(full)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def see_other(request: Request, url: str) -> Response:
    """After a form: go to url (htmx is told to navigate there itself)."""
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def safe_next(url: str | None, default: str = "/") -> str:
    """A local path to return to; anything that could lead off this server becomes the default."""
    if not url or not url.startswith("/") or url.startswith(("//", "/\\")) or any(c in url for c in "\r\n\\"):
        return default
    return url


def split_words(text: str | None) -> list[str]:
    """Tags typed as a comma-separated list (one per line works too)."""
    return [part.strip() for part in (text or "").replace("\n", ",").split(",") if part.strip()]
