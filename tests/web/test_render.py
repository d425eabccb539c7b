"""Markdown from metadata and answers goes through markdown-it-py and nh3: nothing runs, nothing loads."""

from __future__ import annotations

import pytest

from datadesk.web.render import markdown, plaintext, receipt


def test_script_tags_are_text_never_markup() -> None:
    html = str(markdown('Hello <script src="http://evil.example/x.js"></script><script>alert(1)</script>'))
    assert "<script" not in html
    assert "&lt;script" in html  # shown, harmlessly, as what it is


def test_raw_html_is_not_rendered() -> None:
    html = str(markdown('<img src="http://evil.example/a.png" onerror="alert(1)"> <b onclick="x()">bold</b>'))
    assert "<img" not in html and "<b" not in html  # escaped: &lt;img ... is text on the page


@pytest.mark.parametrize(
    "source",
    [
        "[click](javascript:alert(1))",
        "[click](JAVASCRIPT:alert(1))",
        "[click](  javascript:alert(1))",
        "[click](vbscript:msgbox(1))",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        "<javascript:alert(1)>",
    ],
)
def test_dangerous_links_are_dropped(source: str) -> None:
    html = str(markdown(source)).lower()
    assert 'href="javascript' not in html and 'href="vbscript' not in html and 'href="data:' not in html


def test_links_to_other_hosts_get_rel_and_local_links_do_not() -> None:
    html = str(markdown("[docs](https://example.org/x) and [home](/resources/abc)"))
    assert '<a href="https://example.org/x" rel="noopener noreferrer nofollow">docs</a>' in html
    assert '<a href="/resources/abc">home</a>' in html


def test_images_from_other_hosts_become_links() -> None:
    html = str(markdown("![x](http://evil.example/x.png) ![y](//evil.example/y.png) ![ok](/static/favicon.svg)"))
    assert 'src="http://evil.example' not in html and 'src="//evil.example' not in html
    assert '<a href="http://evil.example/x.png" rel="noopener noreferrer nofollow">image: x</a>' in html
    assert '<img src="/static/favicon.svg" alt="ok">' in html


def test_ordinary_markdown_survives() -> None:
    html = str(markdown("# Title\n\n**bold** `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- item"))
    for piece in ("<h1>Title</h1>", "<strong>bold</strong>", "<code>code</code>", "<table>", "<li>item</li>"):
        assert piece in html


def test_plaintext_summary() -> None:
    assert (
        plaintext("**Every** order <script>x()</script>\n\n[link](http://a.example)")
        == "Every order <script>x()</script> link"
    )


@pytest.mark.parametrize(
    ("disclosure", "text"),
    [
        (
            {"provider": "local", "host": "this server", "region": "this server", "resource_ids": ["a"], "bytes": 900},
            "nothing left this server",
        ),
        (
            {
                "provider": "openai",
                "host": "api.openai.com",
                "region": "US",
                "resource_ids": list("abcdefg"),
                "bytes": 3174,
            },
            "sent to OpenAI (US): 7 resources, 3.1 KB",
        ),
        (
            {"provider": "anthropic", "host": "api.anthropic.com", "region": "US", "resource_ids": ["a"], "bytes": 512},
            "sent to Anthropic (US): 1 resource, 512 bytes",
        ),
        (
            {"provider": "openai", "host": "llm.internal", "region": "self-hosted", "resource_ids": [], "bytes": 2048},
            "sent to llm.internal (self-hosted): 0 resources, 2.0 KB",
        ),
        (
            {"provider": "openai", "host": "api.openai.com", "region": "US", "resource_ids": [], "bytes": 0},
            "nothing was sent",
        ),
    ],
)
def test_receipt_wording(disclosure: dict, text: str) -> None:  # type: ignore[type-arg]
    assert receipt(disclosure) == text
