"""Descriptions rendered and sanitized: hostile READMEs, the markups people
use, and the time and memory limits.

Most tests run twice: through render_description, as the upload calls it (in
a child process with limits), and through render_markup in this process.

This module must import without Django settings: the renderer's child
process imports it to find the stand-in targets below.
"""

import logging
import os
import re
import time
from html import escape
from pathlib import Path

import pytest

from packages import rendering
from packages.rendering import (
    MAX_RENDERED_LENGTH,
    highlight_stylesheet,
    render_description,
    render_markup,
)

MD = "text/markdown"
RST = "text/x-rst"


@pytest.fixture(params=["isolated", "in_process"])
def render(request):
    return render_description if request.param == "isolated" else render_markup


def links(html: str) -> list[str]:
    return re.findall(r"<a\b[^>]*>", html)


# --- Hostile Markdown -----------------------------------------------------------------


def test_script_tags_are_removed_with_their_content(render):
    html = render("Hi\n\n<script>alert('x')</script>\n\nthere <script>steal()</script>", MD)
    assert "<script" not in html
    assert "alert" not in html
    assert "steal" not in html
    assert "Hi" in html and "there" in html


def test_event_handlers_are_dropped_and_the_image_kept(render):
    html = render('<img src="https://img.example/x.png" onerror="alert(1)" onload="x()">', MD)
    assert '<img src="https://img.example/x.png">' in html
    assert "onerror" not in html
    assert "onload" not in html


@pytest.mark.parametrize(
    "source",
    [
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">click</a>',
        '<a href="JaVaScRiPt:alert(1)">click</a>',
        '<a href="java&#x09;script:alert(1)">click</a>',
        '<a href=" javascript:alert(1)">click</a>',
        '<a href="vbscript:msgbox(1)">click</a>',
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[click][ref]\n\n[ref]: javascript:alert(1)",
    ],
)
def test_links_to_other_schemes_lose_their_target(render, source):
    html = render(source, MD)
    assert links(html) == ['<a rel="nofollow ugc">']
    assert "script:" not in html.lower()
    assert "data:" not in html


@pytest.mark.parametrize(
    "source",
    [
        "![x](javascript:alert(1))",
        '<img src="javascript:alert(1)" alt="x">',
        "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="x">',
    ],
)
def test_images_from_other_schemes_lose_their_source(render, source):
    html = render(source, MD)
    assert re.search(r'<img alt="x">', html)
    assert "src=" not in html


@pytest.mark.parametrize(
    "source, gone",
    [
        ("<style>body { display: none }</style>text", "display"),
        ('<p style="position: fixed">text</p>', "position"),
        ('<iframe src="https://evil.example"></iframe>text', "iframe"),
        ('<object data="https://evil.example/x.swf"></object>text', "object"),
        ('<embed src="https://evil.example/x.swf">text', "embed"),
        ('<form action="https://evil.example"><input name="pw"></form>text', "form"),
        ('<svg onload="alert(1)"><circle/></svg>text', "svg"),
        ('<meta http-equiv="refresh" content="0;url=https://evil.example">text', "refresh"),
        ('<base href="https://evil.example/">text', "base"),
        ('<p id="content" class="site-header">text</p>', "content"),
        ("<!-- a comment -->text", "comment"),
    ],
)
def test_tags_and_attributes_outside_the_allow_list_are_removed(render, source, gone):
    html = render(source, MD)
    assert gone not in html
    assert "text" in html


def test_every_link_gets_nofollow_ugc_whatever_it_asked_for(render):
    html = render(
        '[a](https://a.example) <a href="https://b.example" rel="me" target="_blank">b</a> '
        "<mailto:someone@example.org>",
        MD,
    )
    found = links(html)
    assert len(found) == 3
    assert all('rel="nofollow ugc"' in link for link in found)
    assert "target" not in html
    assert 'rel="me"' not in html


@pytest.mark.parametrize(
    "url", ["ftp://example.org/x", "tel:+15550100", "sms:+15550100", "ssh://example.org", "irc:x"]
)
def test_only_http_https_and_mailto_links_are_kept(render, url):
    # Schemes nh3 would allow by default, outside this index's allow-list.
    assert links(render(f'[x]({url}) <img src="{url}">', MD)) == ['<a rel="nofollow ugc">']


def test_mailto_links_are_kept(render):
    html = render("[write](mailto:someone@example.org)", MD)
    assert 'href="mailto:someone@example.org"' in html


def test_relative_links_are_kept(render):
    html = render("[usage](#usage) [docs](docs/index.md)", MD)
    assert 'href="#usage"' in html
    assert 'href="docs/index.md"' in html


def test_only_highlighting_classes_survive(render):
    html = render('<span class="k btn">x</span> <div class="highlight modal">y</div>', MD)
    assert '<span class="k">x</span>' in html
    assert '<div class="highlight">y</div>' in html
    assert "btn" not in html
    assert "modal" not in html


def test_common_readme_html_is_kept(render):
    html = render(
        '<p align="center"><img src="https://img.example/logo.png" alt="Logo" width="200" '
        'height="80"></p>\n\n<details open><summary>More</summary>\n\nH<sub>2</sub>O, '
        "x<sup>2</sup>, <kbd>Ctrl</kbd></details>",
        MD,
    )
    assert '<p align="center">' in html
    assert '<img src="https://img.example/logo.png" alt="Logo" width="200" height="80">' in html
    assert "<details open" in html and "<summary>More</summary>" in html
    assert "<sub>2</sub>" in html and "<sup>2</sup>" in html and "<kbd>Ctrl</kbd>" in html


# --- Markdown features -----------------------------------------------------------------


def test_fenced_code_is_highlighted_with_classes_not_styles(render):
    html = render("```python\nimport os\n```", MD)
    assert '<div class="highlight"><pre>' in html
    assert '<span class="kn">import</span>' in html
    assert "style=" not in html


def test_fenced_code_without_a_language_is_escaped(render):
    html = render("```\n<b>not bold</b>\n```", MD)
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html
    assert "<b>" not in html


def test_gfm_tables_with_alignment(render):
    html = render("| Name | Size |\n|:----:|-----:|\n| a | 1 |\n", MD)
    assert '<th align="center">Name</th>' in html
    assert '<td align="right">1</td>' in html


def test_strikethrough(render):
    assert "<del>gone</del>" in render("now ~~gone~~ here", MD)


def test_markdown_is_the_default_gfm_variant(render):
    assert "<table>" in render("| a |\n|---|\n| 1 |", "text/markdown; charset=UTF-8")
    assert "<table>" in render("| a |\n|---|\n| 1 |", "Text/Markdown; variant=GFM")


def test_commonmark_variant_has_no_github_extensions(render):
    html = render(
        "| a |\n|---|\n| 1 |\n\nSee https://example.org ~~x~~", "text/markdown; variant=CommonMark"
    )
    assert "<table>" not in html
    assert "<a" not in html
    assert "<del>" not in html
    assert "See https://example.org ~~x~~" in html


@pytest.mark.parametrize(
    "source, href, text",
    [
        ("see https://example.org/a_b_c now", "https://example.org/a_b_c", None),
        ("see http://example.org.", "http://example.org", None),
        ("see www.python.org, then", "http://www.python.org", "www.python.org"),
        ("(https://example.org/x)", "https://example.org/x", None),
        (
            "https://en.wikipedia.org/wiki/Foo_(bar)!",
            "https://en.wikipedia.org/wiki/Foo_(bar)",
            None,
        ),
        ("*https://example.org/*", "https://example.org/", None),
    ],
)
def test_bare_urls_become_links_without_trailing_punctuation(render, source, href, text):
    html = render(source, MD)
    expected = f'<a href="{href}" rel="nofollow ugc">{text or href}</a>'
    assert expected in html


@pytest.mark.parametrize(
    "source",
    [
        "`https://example.org` in code",
        "```\nhttps://example.org\n```",
        "    https://example.org",
        "just http:// and http://localhost and mailhttp://example.org",
    ],
)
def test_no_bare_url_link_in_code_or_without_a_host(render, source):
    assert "<a" not in render(source, MD)


def test_no_link_inside_a_link_or_an_html_attribute(render):
    html = render(
        '[https://a.example](https://b.example) <img src="https://img.example/x.png" alt="x"> '
        "<https://c.example>",
        MD,
    )
    assert links(html) == [
        '<a href="https://b.example" rel="nofollow ugc">',
        '<a href="https://c.example" rel="nofollow ugc">',
    ]
    assert '<img src="https://img.example/x.png" alt="x">' in html


def test_deeply_nested_markdown_falls_back_to_plain_text(render):
    # Past Python's recursion limit: 400 nested lists.
    source = "".join("    " * depth + "- x <b>\n" for depth in range(400))
    assert render(source, MD) == f"<pre>{escape(source)}</pre>"


# --- reStructuredText -----------------------------------------------------------------

RST_DOC = """\
Title
=====

Some *text*, ``pip install x`` and a `link <https://example.org>`_.

.. code-block:: python

   import os

==== ====
a    b
==== ====
1    2
==== ====
"""


def test_rst_renders_headings_code_tables_and_links(render):
    html = render(RST_DOC, RST)
    assert "<h3>Title</h3>" in html
    assert "<em>text</em>" in html
    assert '<span class="literal">pip install x</span>' in html
    assert '<a href="https://example.org" rel="nofollow ugc">link</a>' in html
    assert '<pre class="code"><code><span class="kn">import</span>' in html
    assert "<th><p>a</p></th>" in html
    assert "<td><p>2</p></td>" in html
    assert "id=" not in html


@pytest.mark.parametrize("content_type", ["", RST, "text/x-rst; charset=UTF-8"])
def test_missing_content_type_means_rst(render, content_type):
    assert "<em>text</em>" in render("Some *text*.", content_type)


@pytest.mark.parametrize(
    "source",
    [
        ".. raw:: html\n\n   <script>alert(1)</script>\n",
        ".. role:: html(raw)\n   :format: html\n\n:html:`<script>alert(1)</script>`\n",
        "Intro\n\n.. raw:: html\n   :url: https://evil.example/x.html\n",
    ],
)
def test_raw_html_is_refused_and_shown_as_text(render, source):
    assert render(source, RST) == f"<pre>{escape(source, quote=False)}</pre>"


@pytest.mark.parametrize(
    "source",
    [
        ".. include:: /etc/passwd\n",
        ".. include:: /etc/passwd\n   :literal:\n",
        ".. csv-table:: Users\n   :file: /etc/passwd\n",
        ".. raw:: html\n   :file: /etc/passwd\n",
    ],
)
def test_files_are_never_read(render, source):
    assert "root:" in Path("/etc/passwd").read_text()
    html = render(source, RST)
    assert "root:" not in html
    assert html == f"<pre>{source}</pre>"


def test_docutils_config_files_are_ignored(tmp_path, monkeypatch):
    config = tmp_path / "docutils.conf"
    config.write_text("[general]\nraw_enabled: yes\nfile_insertion_enabled: yes\n")
    monkeypatch.setenv("DOCUTILSCONFIG", str(config))
    monkeypatch.chdir(tmp_path)
    html = render_markup(".. raw:: html\n\n   <script>alert(1)</script>\n", RST)
    assert "<script" not in html
    assert html.startswith("<pre>")


@pytest.mark.parametrize(
    "source",
    [
        "A `link <javascript:alert(1)>`_.",
        "A `link <data:text/html,hi>`_.",
        "A link_.\n\n.. _link: javascript:alert(1)\n",
    ],
)
def test_rst_links_to_other_schemes_lose_their_target(render, source):
    html = render(source, RST)
    assert links(html) == ['<a rel="nofollow ugc">']
    assert "javascript" not in html
    assert "data:" not in html


def test_rst_image_with_javascript_source_loses_it(render):
    html = render(".. image:: javascript:alert(1)\n   :alt: pic\n", RST)
    assert "<img" in html
    assert "src=" not in html


def test_invalid_rst_falls_back_to_escaped_plain_text(render):
    source = "A `broken link\n\n<script>alert(1)</script>"
    assert render(source, RST) == (
        "<pre>A `broken link\n\n&lt;script&gt;alert(1)&lt;/script&gt;</pre>"
    )


def test_system_messages_never_reach_the_page(render):
    # Two sections of one title: an INFO message below the halt level.
    html = render("Same\n====\n\nx\n\nSame\n====\n\ny\n", RST)
    assert html.count("<h3>Same</h3>") == 2
    assert "System Message" not in html
    assert "Duplicate" not in html


def test_deeply_nested_rst_falls_back_to_plain_text(render):
    # Past Python's recursion limit: 150 nested lists.
    source = "".join("   " * depth + "- item <b>\n\n" for depth in range(150))
    assert render(source, RST) == f"<pre>{escape(source)}</pre>"


# --- Plain text and unknown types -----------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "text/plain; charset=UTF-8", "text/html", "application/x-what"]
)
def test_plain_and_unknown_types_are_escaped_text(render, content_type):
    html = render("<b>bold</b> & *not em*\nline two", content_type)
    assert html == "<pre>&lt;b&gt;bold&lt;/b&gt; &amp; *not em*\nline two</pre>"


def test_blank_description_renders_to_nothing():
    assert render_description("", MD) == ""
    assert render_description("  \n\t", RST) == ""


# --- Limits ---------------------------------------------------------------------------


def test_a_description_over_the_limit_is_cut_plain_text_without_parsing():
    source = "<script>x</script>" + "[" * MAX_RENDERED_LENGTH
    started = time.monotonic()
    html = render_description(source, MD)
    assert time.monotonic() - started < 5
    assert html.startswith("<p>This description is longer than 1,000,000 characters")
    assert "<pre>&lt;script&gt;x&lt;/script&gt;[[[" in html
    assert html.count("[") == MAX_RENDERED_LENGTH - len("<script>x</script>")


def test_a_description_just_under_the_limit_is_rendered():
    html = render_description("*a*" + " " * (MAX_RENDERED_LENGTH - 3), MD)
    assert html.startswith("<p><em>a</em>")


def test_hostile_markdown_is_stopped_at_the_deadline(monkeypatch, caplog):
    # Python-Markdown needs minutes for this; the renderer gets half a second.
    monkeypatch.setattr(rendering, "RENDER_TIMEOUT_SECONDS", 0.5)
    source = "[" * 50_000 + "<script>"
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="packages.rendering"):
        html = render_description(source, MD)
    assert time.monotonic() - started < 5
    assert html == "<pre>" + "[" * 50_000 + "&lt;script&gt;</pre>"
    assert caplog.records[-1].args[-1] == -9  # killed


def test_a_reference_link_bomb_is_stopped_by_the_memory_ceiling(monkeypatch, caplog):
    # 10,000 copies of a 300 kB URL: 3 GB of HTML from 370 kB of Markdown. The
    # ceiling, not the deadline, must stop it, also on a machine so busy that
    # filling the default ceiling would take longer than the default deadline.
    monkeypatch.setattr(rendering, "RENDER_MEMORY_BYTES", 512 * 1024**2)
    monkeypatch.setattr(rendering, "RENDER_TIMEOUT_SECONDS", 120)
    source = "[a]: https://x.example/" + "y" * 300_000 + "\n\n" + "[a][a] " * 10_000
    with caplog.at_level(logging.WARNING, logger="packages.rendering"):
        html = render_description(source, MD)
    assert html.startswith("<pre>[a]: https://x.example/yyy")
    assert "<a" not in html
    assert caplog.records[-1].args[-1] == 1  # MemoryError in the renderer


def test_memory_limit_is_the_ceiling_or_a_lower_hard_limit(monkeypatch):
    infinity = rendering.resource.RLIM_INFINITY
    monkeypatch.setattr(rendering.resource, "getrlimit", lambda which: (infinity, infinity))
    assert rendering._memory_limits() == (rendering.RENDER_MEMORY_BYTES, infinity)
    monkeypatch.setattr(rendering.resource, "getrlimit", lambda which: (infinity, 2**29))
    assert rendering._memory_limits() == (2**29, 2**29)
    monkeypatch.setattr(rendering.resource, "getrlimit", lambda which: (infinity, 2**40))
    assert rendering._memory_limits() == (rendering.RENDER_MEMORY_BYTES, 2**40)


def test_html_over_its_limit_is_not_kept():
    assert rendering._bounded("x" * rendering.MAX_HTML_LENGTH) == "x" * rendering.MAX_HTML_LENGTH
    assert rendering._bounded("x" * (rendering.MAX_HTML_LENGTH + 1)) is None


def _die_without_answering(connection, text, content_type):  # runs in the child
    os._exit(3)


def _answer_too_long(connection, text, content_type):  # runs in the child
    connection.send(None)


@pytest.mark.parametrize("target, code", [(_die_without_answering, 3), (_answer_too_long, 0)])
def test_a_renderer_without_a_result_means_plain_text(monkeypatch, caplog, target, code):
    monkeypatch.setattr(rendering, "_render_child", target)
    with caplog.at_level(logging.WARNING, logger="packages.rendering"):
        html = render_description("# Title <b>", MD)
    assert html == "<pre># Title &lt;b&gt;</pre>"
    assert caplog.records[-1].args == ("text/markdown", 11, code)


# Modules a render imports on first use: each stands for a part of the start-up
# a renderer no longer pays (Markdown's extensions, docutils' parser and
# writer, a Pygments lexer).
LAZY_MODULES = (
    "markdown.extensions.codehilite",
    "markdown.extensions.tables",
    "docutils.parsers.rst.directives.body",
    "docutils.writers.html5_polyglot",
    "pygments.lexers.python",
    "pygments.lexers.shell",
    "pygments.lexers.configs",
)


def _report_modules_not_loaded(connection, text, content_type):  # runs in the child
    import sys

    connection.send(" ".join(name for name in LAZY_MODULES if name not in sys.modules))


def test_a_renderer_starts_with_the_markup_libraries_loaded(monkeypatch):
    monkeypatch.setattr(rendering, "_render_child", _report_modules_not_loaded)
    assert render_description("text", MD) == ""


def test_warm_up_samples_render_every_markup_and_language():
    for text, content_type in rendering._WARM_UP_SAMPLES:
        html = render_markup(text, content_type)
        assert not html.startswith("<pre>")  # no plain-text fallback
        assert "<table>" in html or "<ul>" in html
        highlighted = html.count('<div class="highlight">') + html.count('<pre class="code')
        assert highlighted == len(rendering._WARM_UP_LANGUAGES)
    # What the fork server imports: the same warm-up, here where coverage sees it.
    import packages.rendering_preload  # noqa: F401


def test_no_content_type_is_named_in_the_log(monkeypatch, caplog):
    monkeypatch.setattr(rendering, "_render_child", _answer_too_long)
    with caplog.at_level(logging.WARNING, logger="packages.rendering"):
        render_description("text", "")
    assert caplog.records[-1].args[0] == "no content type"


# --- Stylesheet -----------------------------------------------------------------------

STYLESHEET = Path(__file__).resolve().parents[2] / "static" / "css" / "highlight.css"


def test_committed_stylesheet_is_the_generated_one():
    assert STYLESHEET.read_text() == highlight_stylesheet()


def test_stylesheet_rules_are_all_scoped_to_descriptions():
    rules = [line for line in highlight_stylesheet().splitlines() if "{" in line]
    assert rules
    for rule in rules:
        selectors = rule.split("{", 1)[0].split(",")
        assert all(s.strip().startswith(".description ") for s in selectors), rule


def _luminance(hex_colour: str) -> float:
    digits = hex_colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_stylesheet_colours_meet_wcag_aa_on_its_white_background():
    css = highlight_stylesheet()
    assert "background: #ffffff;" in css
    colours = re.findall(r"(?<![-\w])color: (#[0-9a-fA-F]{3,6})", css)
    assert len(colours) > 40
    for colour in colours:
        ratio = (1 + 0.05) / (_luminance(colour) + 0.05)
        assert ratio >= 4.5, colour


def test_highlighted_markdown_and_rst_use_classes_the_stylesheet_styles(render):
    css = highlight_stylesheet()
    code = "@dataclass\nclass A(B):\n    x: int = 1  # c\n"
    markdown_html = render(f"```python\n{code}```", MD)
    indented = "".join(f"   {line}\n" for line in code.splitlines())
    rst_html = render(f".. code-block:: python\n\n{indented}", RST)
    for html, scope in ((markdown_html, ".highlight"), (rst_html, "pre.code")):
        classes = set(re.findall(r'<span class="([^"]+)"', html))
        assert {"nd", "k", "nc", "mi", "c1"} <= classes
        for name in ("nd", "k", "nc", "mi", "c1"):
            assert re.search(rf"\.description {re.escape(scope)} \.{name}[ ,]", css)


def test_description_headings_sit_below_the_page_headings(render):
    html = render("# Top\n\n## Next\n\n###### Deep\n\n<h1>Raw</h1>\n", "text/markdown")
    assert "<h3>Top</h3>" in html
    assert "<h4>Next</h4>" in html
    assert "<h6>Deep</h6>" in html  # h6 at most
    assert "<h3>Raw</h3>" in html
    assert "<h1" not in html and "<h2" not in html
