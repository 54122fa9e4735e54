"""Project search: the index (one SearchDocument per project with releases)
and the queries over it.

``search_index_update`` is called inside the transaction of every change to a
project's releases (upload, yank, unyank, delete), so a new release is found as
soon as it is committed. ``search`` and ``suggest_names`` read the index: on
PostgreSQL through the weighted tsvector column and the trigram indexes that
migration 0003 adds, elsewhere (SQLite) through a simpler ranking over the
plain columns.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Sequence

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Length

from .models import Classifier, Project, SearchDocument
from .releases import pick_latest

MAX_QUERY_LENGTH = 200
# Enough for any README worth reading; keeps the stored text and its tsvector
# (which PostgreSQL caps at 1 MiB) small.
MAX_DESCRIPTION_BYTES = 64 * 1024
ORDERS = ("relevance", "date")

_SEPARATORS = re.compile(r"[-_.\s]+")


# --- The index -------------------------------------------------------------------


def search_index_update(project: Project) -> None:
    """Recompute ``project``'s document from its latest release (or delete it
    when no release is left). Call it inside the transaction of the change."""
    latest = pick_latest(project.releases.all())
    if latest is None:
        SearchDocument.objects.filter(project=project).delete()
        return
    people = (latest.author, latest.author_email, latest.maintainer, latest.maintainer_email)
    description = latest.description.encode()[:MAX_DESCRIPTION_BYTES]
    document, _ = SearchDocument.objects.update_or_create(
        project=project,
        defaults={
            "name": project.name,
            "normalized_name": project.normalized_name,
            "version": latest.version,
            "summary": latest.summary,
            "keywords": latest.keywords,
            # A cut in the middle of a character drops that character only.
            "description": description.decode(errors="ignore"),
            "people": " ".join(part for part in people if part),
            "released_at": latest.created_at,
            "created_at": project.created_at,
        },
    )
    document.classifiers.set(_classifier_ids(latest.classifiers))


def _classifier_ids(names: Sequence[str]) -> list[int]:
    """Ids of the Classifier rows named, created when missing: two queries
    when all exist, three otherwise, however many there are."""
    wanted = set(names)
    ids = dict(Classifier.objects.filter(name__in=wanted).values_list("name", "id"))
    missing = wanted - ids.keys()
    if missing:
        # A concurrent upload may create the same row first: ignore the
        # conflict and read back whichever row won.
        Classifier.objects.bulk_create(
            [Classifier(name=name) for name in sorted(missing)], ignore_conflicts=True
        )
        ids.update(Classifier.objects.filter(name__in=missing).values_list("name", "id"))
    return list(ids.values())


# --- Queries ---------------------------------------------------------------------


def normalize_query(query: str) -> str:
    """The query as a normalized project name would be written: runs of
    separators and spaces become one dash, all lowercase."""
    return _SEPARATORS.sub("-", query.strip()).strip("-").lower()


def clean_query(query: str) -> str:
    # PostgreSQL refuses NUL in any string; nobody searches for one.
    return query.replace("\x00", "")[:MAX_QUERY_LENGTH].strip()


def search(
    query: str, *, classifiers: Sequence[str] = (), order: str = "relevance"
) -> QuerySet[SearchDocument]:
    """Documents matching ``query`` and having every one of ``classifiers``,
    best first (``order="date"``: latest release first).

    No query and no classifier: nothing (the page shows its empty state). No
    query but classifiers: every document having them all, newest first.
    """
    text = clean_query(query)
    documents = _with_classifiers(SearchDocument.objects.all(), classifiers)
    if not text:
        if not classifiers:
            return SearchDocument.objects.none()
        return documents.order_by("-released_at", "normalized_name")
    backend = _BACKENDS.get(connection.vendor, _search_plain)
    results = backend(documents, text, normalize_query(text))
    if order == "date":
        return results.order_by("-released_at", "normalized_name")
    return results


def _with_classifiers(
    documents: QuerySet[SearchDocument], names: Sequence[str]
) -> QuerySet[SearchDocument]:
    """Only documents having every one of ``names``: one EXISTS per name, so
    each can use the (document, classifier) unique index."""
    through = SearchDocument.classifiers.through
    for name in dict.fromkeys(names):
        documents = documents.filter(
            Exists(through.objects.filter(searchdocument=OuterRef("pk"), classifier__name=name))
        )
    return documents


_TABLE = '"packages_searchdocument"'
_TSQUERY = "websearch_to_tsquery('english'::regconfig, %s)"
# ts_rank_cd's weights for D, C, B, A: description, keywords and people,
# summary, name.
_RANK_WEIGHTS = "'{0.1, 0.2, 0.4, 1.0}'::float4[]"


def _search_postgresql(
    documents: QuerySet[SearchDocument], text: str, normalized: str
) -> QuerySet[SearchDocument]:
    """Full-text match on the weighted vector, or a name within trigram
    similarity of the query (a typo); ranked exact name first, then by
    ts_rank_cd plus name similarity."""
    # "%%" is pg_trgm's similarity operator (threshold pg_trgm.similarity_threshold,
    # 0.3 by default), which the trigram index answers; similarity() alone would not.
    matches = RawSQL(
        f"({_TABLE}.search_vector @@ {_TSQUERY} OR {_TABLE}.normalized_name %% %s)",
        (text, normalized),
        output_field=BooleanField(),
    )
    rank = RawSQL(
        f"ts_rank_cd({_RANK_WEIGHTS}, {_TABLE}.search_vector, {_TSQUERY})"
        f" + similarity({_TABLE}.normalized_name, %s)",
        (text, normalized),
        output_field=FloatField(),
    )
    return (
        documents.filter(matches)
        .annotate(exact=_exact(normalized), rank=rank)
        .order_by("-exact", "-rank", "normalized_name")
    )


def _search_plain(
    documents: QuerySet[SearchDocument], text: str, normalized: str
) -> QuerySet[SearchDocument]:
    """Any other database (SQLite): every word must appear somewhere
    (case-insensitively); the exact normalized name first, then names starting
    with the query, then by where the words appear, name > summary > keywords
    and people > description."""
    words = list(dict.fromkeys(text.lower().split()))

    def in_name(word: str) -> Q:
        return Q(name__icontains=word) | Q(normalized_name__contains=normalize_query(word))

    def anywhere(word: str) -> Q:
        return (
            in_name(word)
            | Q(summary__icontains=word)
            | Q(keywords__icontains=word)
            | Q(people__icontains=word)
            | Q(description__icontains=word)
        )

    def score(word: str) -> Case:
        return Case(
            When(in_name(word), then=Value(8)),
            When(summary__icontains=word, then=Value(4)),
            When(Q(keywords__icontains=word) | Q(people__icontains=word), then=Value(2)),
            default=Value(1),
        )

    matches = Q(normalized_name=normalized) | functools.reduce(operator.and_, map(anywhere, words))
    prefix = Case(
        When(normalized_name__startswith=normalized, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    return (
        documents.filter(matches)
        .annotate(
            exact=_exact(normalized),
            prefix=prefix,
            rank=functools.reduce(operator.add, map(score, words)),
        )
        .order_by("-exact", "-prefix", "-rank", "normalized_name")
    )


def _exact(normalized: str) -> Case:
    return Case(
        When(normalized_name=normalized, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )


_BACKENDS: dict[str, Callable[..., QuerySet[SearchDocument]]] = {
    "postgresql": _search_postgresql,
}


# --- Suggestions -----------------------------------------------------------------


def suggest_names(prefix: str, limit: int = 10) -> list[str]:
    """Up to ``limit`` project names starting with ``prefix`` (normalized),
    shortest first; on PostgreSQL topped up with names similar to it."""
    normalized = normalize_query(clean_query(prefix))
    if not normalized or limit <= 0:
        return []
    starting = SearchDocument.objects.filter(normalized_name__startswith=normalized).order_by(
        Length("normalized_name"), "normalized_name"
    )
    names = list(starting.values_list("name", flat=True)[:limit])
    if len(names) < limit and connection.vendor == "postgresql":
        similar = (
            SearchDocument.objects.filter(normalized_name__trigram_similar=normalized)
            .exclude(normalized_name__startswith=normalized)
            .annotate(similarity=RawSQL("similarity(normalized_name, %s)", (normalized,)))
            .order_by("-similarity", Length("normalized_name"), "normalized_name")
        )
        names += similar.values_list("name", flat=True)[: limit - len(names)]
    return names
