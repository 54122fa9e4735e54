"""Name protection for new projects.

``check_new_project_name`` refuses a name outright; ``similar_popular_name``
and ``queue_name_review`` accept it but queue it for a moderator. The upload
pipeline asks them through packages.name_policy (this module is the policy
ModerationConfig.ready() registers there) when an upload would create a project.

Confusable folding (``fold_name``), applied to the PEP 503 normalized name:

- ``i`` and ``1`` become ``l``: an upper-case I, a lower-case l and the digit 1
  are one vertical stroke in many fonts (normalization has already lowered I);
- ``0`` becomes ``o``;
- dashes are dropped: ``req-uests`` reads as ``requests``, and normalization has
  already made ``_`` and ``.`` dashes.

``rn`` -> ``m`` and other multi-letter look-alikes are not folded: they would
refuse ordinary pairs of real words (modern/modem, corn/com); a name one edit
away from a popular project is flagged for review instead, which is where such
cases belong. The public index folds the same characters (its
"ultranormalized" names).

The fold is computed in SQL (one expression, the same on both databases), so no
column is needed; on PostgreSQL migration 0002 of this app indexes that
expression, which makes the collision check one index lookup.
"""

import sys
from functools import cache as memoize

from django.conf import settings
from django.core.cache import cache
from django.db.models import CharField, Func, Sum
from django.utils import timezone

from packages.models import DownloadCount, Project
from packages.name_policy import ProjectNameError
from packages.names import normalize_project_name

from .models import NameReview, ProhibitedName

_FOLD_FROM = "i10"
_FOLD_TO = "llo"
POPULAR_NAMES_CACHE_KEY = "moderation:popular-names"
POPULAR_WINDOW_DAYS = 30


def fold_name(name: str) -> str:
    """The confusable-folded form of a project name (see the module docstring)."""
    normalized = normalize_project_name(name).replace("-", "")
    return normalized.translate(str.maketrans(_FOLD_FROM, _FOLD_TO))


def _folded_sql() -> str:
    # REPLACE, not TRANSLATE: SQLite has only the former, and one expression
    # for both keeps the PostgreSQL index (migration 0002) matching the query.
    sql = "REPLACE(%(expressions)s, '-', '')"
    for old, new in zip(_FOLD_FROM, _FOLD_TO, strict=True):
        sql = f"REPLACE({sql}, '{old}', '{new}')"
    return sql


class Folded(Func):
    """fold_name() of a normalized-name column, in SQL. Literal SQL (no
    parameters): the PostgreSQL expression index was built on exactly this
    text, so the planner can match it."""

    output_field = CharField()
    template = _folded_sql()


@memoize
def _stdlib_names() -> frozenset[str]:
    # Top-level modules of the running Python; private ones ("_ast") normalize
    # to names no project can have, so they never match.
    return frozenset(normalize_project_name(name) for name in sys.stdlib_module_names)


def prohibited_name(name: str) -> str | None:
    """The prohibited name ``name`` reads as (look-alike characters and
    separators folded), or None. New projects and new organizations ask."""
    return (
        ProhibitedName.objects.annotate(folded=Folded("normalized_name"))
        .filter(folded=fold_name(name))
        .values_list("name", flat=True)
        .first()
    )


def check_new_project_name(name: str) -> None:
    """Raise ProjectNameError when a project called ``name`` may not be created."""
    normalized = normalize_project_name(name)
    if normalized in _stdlib_names():
        raise ProjectNameError(
            f"The name {name!r} isn't allowed: it is the name of a module of Python's "
            "standard library, and installing a project of that name would shadow it. "
            "Choose another name. See /help/#project-name for more information."
        )
    folded = fold_name(name)
    prohibited = prohibited_name(name)
    if prohibited is not None:
        raise ProjectNameError(
            f"The name {name!r} isn't allowed: the index's moderators have prohibited "
            f"{prohibited!r}. Choose another name. "
            "See /help/#project-name for more information."
        )
    existing = (
        Project.objects.annotate(folded=Folded("normalized_name"))
        .filter(folded=folded)
        .exclude(normalized_name=normalized)
        .first()
    )
    if existing is not None:
        raise ProjectNameError(
            f"The name {name!r} is too similar to an existing project, {existing.name!r} "
            "(it differs only in characters that look alike: 1, l and I; 0 and O; "
            "or separators). Choose another name. "
            "See /help/#project-name for more information."
        )


def within_one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by at most one insertion, deletion,
    substitution or swap of two adjacent characters (Damerau distance <= 1)."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    if len(a) == len(b):
        rest_a, rest_b = a[start + 1 :], b[start + 1 :]
        if rest_a == rest_b:  # one substitution
            return True
        # one transposition of neighbours
        return (
            a[start] == b[start + 1]
            and a[start + 1] == b[start]
            and a[start + 2 :] == b[start + 2 :]
        )
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[start + 1 :] == shorter[start:]


def popular_project_names() -> list[tuple[str, str]]:
    """(normalized name, display name) of the most downloaded projects over the
    last 30 days, most downloaded first; computed once per cache period."""
    names = cache.get(POPULAR_NAMES_CACHE_KEY)
    if names is None:
        since = timezone.now().date() - timezone.timedelta(days=POPULAR_WINDOW_DAYS)
        top = (
            DownloadCount.objects.filter(day__gte=since)
            .values("project")
            .annotate(total=Sum("count"))
            .order_by("-total", "project")[: settings.NAME_REVIEW_TOP_PROJECTS]
        )
        ids = [row["project"] for row in top]
        by_id = {
            pk: (normalized, name)
            for pk, normalized, name in Project.objects.filter(pk__in=ids).values_list(
                "pk", "normalized_name", "name"
            )
        }
        names = [by_id[pk] for pk in ids]
        cache.set(POPULAR_NAMES_CACHE_KEY, names, settings.NAME_REVIEW_CACHE_SECONDS)
    return names


def similar_popular_name(normalized_name: str) -> str | None:
    """The popular project whose name ``normalized_name`` is one edit away
    from (typosquatting: "reqeusts" for "requests"), if any."""
    for normalized, name in popular_project_names():
        if normalized != normalized_name and within_one_edit(normalized, normalized_name):
            return name
    return None


def queue_name_review(project: Project, similar_to: str | None) -> NameReview | None:
    """Queue ``project`` for review when ``similar_to`` names a popular project."""
    if similar_to is None:
        return None
    return NameReview.objects.create(
        project=project, project_name=project.name, similar_to=similar_to
    )
