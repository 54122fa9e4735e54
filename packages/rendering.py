"""Project descriptions rendered to HTML once, at upload, and sanitized.

The result is stored on the release (``description_html``) with the version of
this renderer (``description_renderer``); pages show the stored HTML as it is,
and ``manage.py render_descriptions`` renders again the rows an older renderer
wrote. Whatever the description holds, the output passes through one
allow-list sanitizer (nh3), so a hole in a markup library is not a hole in the
site.

The Description-Content-Type decides the markup (core metadata spec):
``text/markdown`` (``variant=GFM``, the default, or ``variant=CommonMark``),
``text/x-rst`` or nothing (reStructuredText), ``text/plain``; anything else is
shown as plain text.

render_description parses in a child process (multiprocessing's fork server)
with a deadline and a memory ceiling. Like any fork-server user, a program that
calls it must guard its entry script with ``if __name__ == "__main__"``, as
manage.py, gunicorn and pytest do.
"""

import html
import io
import logging
import multiprocessing
import re
import resource
from xml.etree.ElementTree import Element

import markdown
import nh3
from django.utils.http import parse_header_parameters
from docutils.core import publish_parts
from docutils.utils import SystemMessage
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor, SimpleTagInlineProcessor
from markdown.util import AtomicString
from pygments.formatters import HtmlFormatter
from pygments.token import STANDARD_TYPES

logger = logging.getLogger(__name__)

# Bump whenever the HTML for some input changes (library upgrade included, if
# it changes output), then run ``manage.py render_descriptions``.
RENDERER_VERSION = "3"

# Markdown and docutils are pure Python with super-linear corners (Markdown
# takes minutes over a few ten thousand "["), and a few reference links can
# expand to gigabytes. So a description is rendered in a child process with a
# deadline and a memory ceiling, and one over MAX_RENDERED_LENGTH characters
# is not parsed at all: it is shown as plain text, cut at that length.
MAX_RENDERED_LENGTH = 1_000_000
# docutils parses some 40 kB of reStructuredText a second, Markdown about ten
# times that: ample for READMEs many times the usual size.
RENDER_TIMEOUT_SECONDS = 10
RENDER_MEMORY_BYTES = 1024**3
# Highlighted code takes about 4 characters of HTML per character of source.
MAX_HTML_LENGTH = 10 * MAX_RENDERED_LENGTH

# The class highlighted code blocks carry; static/css/highlight.css is scoped to it.
HIGHLIGHT_CLASS = "highlight"
HIGHLIGHT_STYLE = "xcode"  # every token colour has at least 5:1 contrast on white
STYLESHEET_SCOPE = ".description"

# A description sits under the page's <h1> (the project) and <h2>
# ("Description"): its own top-level headings become <h3>, and the rest follow.
DESCRIPTION_TOP_HEADING = 3

# --- Sanitizing -----------------------------------------------------------------

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
ALLOWED_TAGS = {
    *_HEADINGS,
    "a",
    "abbr",
    "acronym",
    "b",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "samp",
    "section",
    "small",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "tt",
    "ul",
    "var",
}
# No id (DOM clobbering), no style, no event handlers, no rel or target:
# every link gets rel="nofollow ugc" from the sanitizer.
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "acronym": {"title"},
    "img": {"src", "alt", "title", "width", "height", "align"},
    "ol": {"start", "type", "reversed"},
    "li": {"value"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "details": {"open"},
    "q": {"cite"},
    "blockquote": {"cite"},
    # GitHub READMEs centre their banner with align; it carries no URL or script.
    **{tag: {"align"} for tag in ("p", "div", *_HEADINGS)},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow ugc"
# Only the classes the highlighting stylesheet styles, so a description can't
# borrow the site's own classes to dress up as part of the page.
_TOKEN_CLASSES = {name for name in STANDARD_TYPES.values() if name}
ALLOWED_CLASSES = {
    "div": {HIGHLIGHT_CLASS},  # Markdown's highlighted blocks
    "pre": {"code"},  # docutils' highlighted blocks
    # Token classes, and docutils' ``inline literal`` (a span, not <code>).
    "span": {*_TOKEN_CLASSES, "literal"},
}


def sanitize(html_text: str) -> str:
    return nh3.clean(
        html_text,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel=LINK_REL,
        allowed_classes=ALLOWED_CLASSES,
        strip_comments=True,
    )


# --- Plain text -----------------------------------------------------------------


def render_plain(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


# --- Markdown -------------------------------------------------------------------

# A bare URL, as GitHub links it: http(s):// or www., up to whitespace or "<".
# Control characters end it too: Python-Markdown stashes already-processed
# inline HTML behind STX/ETX placeholders.
_BARE_URL_RE = r"(?<![\w/@.:-])((?:https?://|www\.)[^\s<>\"'`\x00-\x1f\x7f]+)"
# Punctuation that ends a sentence rather than the URL.
_TRAILING = ".,:;!?*_~'\""


def _trim_url(url: str) -> str:
    # A closing parenthesis belongs to the URL only if it closes one opened
    # inside it (https://en.wikipedia.org/wiki/Python_(language)).
    opened, closed = url.count("("), url.count(")")
    end = len(url)
    while True:  # stops at the latest on the URL's first letter, "h" or "w"
        last = url[end - 1]
        if last == ")" and closed > opened:
            closed -= 1
        elif last not in _TRAILING:
            return url[:end]
        end -= 1


class _BareUrlProcessor(InlineProcessor):
    # Never a link inside a link ([http://a](http://b)).
    ANCESTOR_EXCLUDES = ("a",)

    def handleMatch(self, m, data):
        url = _trim_url(m.group(1))
        if "." not in url.split("//", 1)[-1].split("/", 1)[0].strip("."):
            return None, None, None  # "http://" alone, or no host to speak of
        element = Element("a")
        element.set("href", url if "://" in url else f"http://{url}")
        element.text = AtomicString(url)
        return element, m.start(1), m.start(1) + len(url)


class _GfmExtension(Extension):
    """The GitHub additions CommonMark lacks: bare URL links and ~~strike~~."""

    def extendMarkdown(self, md):
        # After inline HTML (90), so URLs inside tags' attributes are already
        # stashed; before entities (80) and emphasis, so a URL's _ or * stay.
        md.inlinePatterns.register(_BareUrlProcessor(_BARE_URL_RE, md), "bare_url", 85)
        md.inlinePatterns.register(
            SimpleTagInlineProcessor(r"(~~)(?!~)(.+?)(?<!~)~~", "del"), "strike", 65
        )


def _markdown_extensions(variant: str) -> list:
    extensions = [
        "fenced_code",
        "codehilite",
    ]
    if variant != "commonmark":
        extensions += ["tables", _GfmExtension()]
    return extensions


_MARKDOWN_CONFIG = {
    "codehilite": {
        "css_class": HIGHLIGHT_CLASS,
        "guess_lang": False,  # guessing is slow and usually wrong
        "use_pygments": True,
        "noclasses": False,
    },
    "tables": {"use_align_attribute": True},
}


_HEADING_TAG_RE = re.compile(r"<(/?)h([1-6])(?=[\s/>])", re.IGNORECASE)


def _demote_headings(html_text: str) -> str:
    """<h1> becomes <h{DESCRIPTION_TOP_HEADING}> and so on down, h6 at most;
    inline HTML headings too."""
    shift = DESCRIPTION_TOP_HEADING - 1
    return _HEADING_TAG_RE.sub(
        lambda m: f"<{m.group(1)}h{min(int(m.group(2)) + shift, 6)}", html_text
    )


def render_markdown(text: str, *, variant: str = "gfm") -> str:
    converter = markdown.Markdown(
        extensions=_markdown_extensions(variant),
        extension_configs=_MARKDOWN_CONFIG,
        output_format="html",
    )
    try:
        return _demote_headings(converter.convert(text))
    except RecursionError:
        # Thousands of nested quotes or lists: no page needs them rendered.
        return render_plain(text)


# --- reStructuredText -----------------------------------------------------------

_DOCUTILS_SETTINGS = {
    # Nothing from the file system or the network, no HTML passed through.
    "raw_enabled": False,
    "file_insertion_enabled": False,
    "_disable_config": True,  # no docutils.conf from the working directory
    # Warnings stop the parse (the description falls back to plain text)
    # and no system message ends up in the page.
    "halt_level": 2,
    "report_level": 5,
    "traceback": True,  # raise SystemMessage instead of exiting
    "syntax_highlight": "short",  # the same token classes as Markdown's
    "doctitle_xform": False,  # keep the first heading in the body
    "initial_header_level": DESCRIPTION_TOP_HEADING,
    "sectsubtitle_xform": False,
    "math_output": "HTML",
    "embed_stylesheet": False,
    "stylesheet_path": "",
}


def render_rst(text: str) -> str:
    settings = {**_DOCUTILS_SETTINGS, "warning_stream": io.StringIO()}
    try:
        parts = publish_parts(text, writer="html5", settings_overrides=settings)
    except (SystemMessage, RecursionError):
        return render_plain(text)
    return parts["body"]


# --- Dispatch -------------------------------------------------------------------


def _markup(text: str, content_type: str) -> str:
    media_type, params = parse_header_parameters(content_type or "")
    if media_type in ("", "text/x-rst"):
        return render_rst(text)
    if media_type == "text/markdown":
        return render_markdown(text, variant=params.get("variant", "gfm").lower())
    return render_plain(text)


def render_markup(text: str, content_type: str) -> str:
    """Sanitized HTML, rendered here and now: no time or memory limit."""
    return sanitize(_markup(text, content_type))


# --- Limits ---------------------------------------------------------------------


# Samples that reach every module the renderers import lazily: Markdown's
# extensions (found through package metadata), docutils' parser, directives,
# writer and languages, and the Pygments lexers READMEs use most.
_WARM_UP_LANGUAGES = ("python", "pycon", "console", "bash", "shell", "toml", "yaml", "json", "ini")
_WARM_UP_SAMPLES = (
    (
        "# A\n\n*b* https://example.org ~~c~~\n\n| d |\n|---|\n| e |\n\n"
        + "".join(f"```{language}\nx\n```\n\n" for language in _WARM_UP_LANGUAGES),
        "text/markdown",
    ),
    (
        "A\n=\n\n*b* `c <https://example.org>`_ :math:`d`\n\n- e\n\n"
        + "".join(f".. code:: {language}\n\n   x\n\n" for language in _WARM_UP_LANGUAGES),
        "text/x-rst",
    ),
)
# Imported by the fork server before it forks any renderer: see _context.
_PRELOAD_MODULE = "packages.rendering_preload"


def warm_up() -> None:
    """Render a sample of each markup, so this process holds everything a
    render imports or caches on first use."""
    for text, content_type in _WARM_UP_SAMPLES:
        render_markup(text, content_type)


def _context():
    # A fork server: one clean single-threaded process forks the renderers;
    # forking a threaded web worker itself could deadlock the child on a lock
    # another thread held. The fork server warms up once (_PRELOAD_MODULE), so
    # a renderer starts with docutils, Markdown and Pygments loaded: importing
    # them took some 60-90 ms of each render, rendering a README takes 3-8.
    # "__main__" first: each child otherwise runs the program's entry script
    # again (gunicorn's, manage.py) before it renders.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", __name__, _PRELOAD_MODULE])
    return context


def _memory_limits() -> tuple[int, int]:
    """RLIMIT_AS for the renderer: RENDER_MEMORY_BYTES, or less if the hard
    limit is lower (an unprivileged process can't raise it)."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY:
        return RENDER_MEMORY_BYTES, hard
    return min(hard, RENDER_MEMORY_BYTES), hard


def _bounded(rendered: str) -> str | None:
    return rendered if len(rendered) <= MAX_HTML_LENGTH else None


def _render_child(connection, text: str, content_type: str) -> None:  # pragma: no cover
    # Runs in the renderer process only, where coverage does not follow;
    # test_rendering drives it through render_description. An exception here
    # (MemoryError above all) ends the process, which the parent reads as
    # "no result".
    resource.setrlimit(resource.RLIMIT_AS, _memory_limits())
    connection.send(_bounded(render_markup(text, content_type)))


def _render_isolated(text: str, content_type: str) -> str | None:
    """render_markup in a child process killed after RENDER_TIMEOUT_SECONDS;
    None when it gave no result in time."""
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_render_child, args=(sender, text, content_type), daemon=True)
    process.start()
    sender.close()
    rendered = None
    try:
        if receiver.poll(RENDER_TIMEOUT_SECONDS):
            rendered = receiver.recv()
            process.join(1)  # it exits once it has answered
    except EOFError:  # it died without answering
        process.join(1)
    finally:
        receiver.close()
        process.kill()  # past the deadline; a no-op once it has exited
        process.join()
    if rendered is None:
        logger.warning(
            "Description (%s, %d characters) not rendered within the limits, shown as "
            "plain text; renderer exit code %s (-9: deadline, 1: error such as out of "
            "memory, 0: HTML too long).",
            content_type or "no content type",
            len(text),
            process.exitcode,
        )
    return rendered


def render_description(text: str, content_type: str) -> str:
    """Sanitized HTML for a description of the given Description-Content-Type,
    rendered within time and memory limits; a description that exceeds them
    is shown as plain text."""
    if not text.strip():
        return ""
    if len(text) > MAX_RENDERED_LENGTH:
        note = (
            f"<p>This description is longer than {MAX_RENDERED_LENGTH:,} characters: "
            f"it is shown as plain text, cut at that length.</p>"
        )
        return sanitize(note + render_plain(text[:MAX_RENDERED_LENGTH]))
    rendered = _render_isolated(text, content_type)
    return sanitize(render_plain(text)) if rendered is None else rendered


# --- Stylesheet -----------------------------------------------------------------


def highlight_stylesheet() -> str:
    """static/css/highlight.css, regenerated with
    ``python -c "from packages.rendering import highlight_stylesheet as h; print(h(), end='')"
    > static/css/highlight.css``."""
    formatter = HtmlFormatter(style=HIGHLIGHT_STYLE)
    scopes = [
        f"{STYLESHEET_SCOPE} .{HIGHLIGHT_CLASS}",  # Markdown (codehilite)
        f"{STYLESHEET_SCOPE} pre.code",  # reStructuredText (docutils)
    ]
    rules = [
        *formatter.get_background_style_defs(scopes),
        *formatter.get_token_style_defs(scopes),
        f"{STYLESHEET_SCOPE} span.literal {{ font-family: monospace; }}",
    ]
    header = (
        f"/* Syntax highlighting in project descriptions: Pygments style "
        f"{HIGHLIGHT_STYLE!r}, scoped to {STYLESHEET_SCOPE}.\n"
        f"   Generated by packages.rendering.highlight_stylesheet(); do not edit. */\n"
    )
    return header + "\n".join(rules) + "\n"
