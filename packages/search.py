"""Project search: the index (one SearchDocument per project with releases)
and the queries over it.

``search_index_update`` is called inside the transaction of every change to a
project's releases (yank, unyank, delete), so the change is found as soon as it
is committed; an upload's new release is indexed right after its commit, with
its description (``packages.descriptions``), not in the upload's request.
``search`` and ``suggest_names`` read the index: on PostgreSQL through the
weighted tsvector columns and the indexes that migration 0003 adds, elsewhere
(SQLite) through a simpler ranking over the plain columns.

A quarantined project keeps its document but is left out of every query
(``SearchDocument.objects.visible()``): the filter follows the document's
primary key to its project, and a release from quarantine shows the project
again at once, with no writer (moderator action, admin edit, yank inside the
quarantine) having to remember to delete or rebuild the document.
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

from .models import PROJECT_VISIBLE_SQL, Classifier, Project, Release, SearchDocument
from .names import normalize_project_name
from .releases import pick_latest

MAX_QUERY_LENGTH = 200
# Enough for any README worth reading; keeps the stored text and its tsvector
# (which PostgreSQL caps at 1 MiB) small.
MAX_DESCRIPTION_BYTES = 64 * 1024
MAX_RESULTS = 500


# --- The index -------------------------------------------------------------------


def search_index_update(project: Project) -> None:
    """Recompute ``project``'s document from its latest release (or delete it
    when no release is left). Call it inside the transaction of the change,
    with the project's row locked."""
    # Chosen among short rows: a project's every description is not read on
    # each upload, only the chosen release's.
    picked = pick_latest(
        project.releases.only("id", "project_id", "version", "yanked", "is_prerelease")
    )
    if picked is None:
        SearchDocument.objects.filter(project=project).delete()
        return
    latest = Release.objects.get(pk=picked.pk)
    people = (latest.author, latest.author_email, latest.maintainer, latest.maintainer_email)
    description = latest.description.encode()[:MAX_DESCRIPTION_BYTES]
    fields = {
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
    }
    # The caller's transaction already serializes changes to the project's
    # releases: a plain UPDATE, else INSERT, with no lock or savepoint of its own.
    if SearchDocument.objects.filter(project=project).update(**fields):
        document = SearchDocument(project=project, **fields)
    else:
        document = SearchDocument.objects.create(project=project, **fields)
    document.classifiers.set(_classifier_ids(latest.classifiers))


def _classifier_ids(names: Sequence[str]) -> list[int]:
    """Ids of the Classifier rows named, created when missing: one query when
    all exist, three otherwise, however many there are."""
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


class SearchResults:
    """What ``search`` returns: querysets shown one after the other, counted up
    to ``MAX_RESULTS``. Django's Paginator takes it as it takes a QuerySet.

    Counting stops at ``MAX_RESULTS + 1`` rows because an exact count of a
    common word's matches costs more than the page itself, and nobody pages
    through more than ``MAX_RESULTS`` results (``capped`` tells the page to
    say "more than").
    """

    def __init__(self, *parts: QuerySet[SearchDocument]):
        self.parts = parts
        self._counts: list[int] | None = None

    def _part_counts(self) -> list[int]:
        if self._counts is None:
            room = MAX_RESULTS + 1
            self._counts = []
            for part in self.parts:
                found = part.order_by()[:room].count() if room else 0
                self._counts.append(found)
                room -= found
        return self._counts

    def count(self) -> int:
        return min(sum(self._part_counts()), MAX_RESULTS)

    @property
    def capped(self) -> bool:
        """Whether more than ``MAX_RESULTS`` documents matched."""
        return sum(self._part_counts()) > MAX_RESULTS

    def __len__(self) -> int:
        return self.count()

    def __iter__(self):
        return iter(self[:])

    def __getitem__(self, key):
        if isinstance(key, int):
            found = self[key : key + 1] if key >= 0 else []
            if not found:
                raise IndexError(key)
            return found[0]
        start, stop, step = key.indices(self.count())
        if step != 1:
            raise ValueError("SearchResults slices take no step")
        documents: list[SearchDocument] = []
        for part, size in zip(self.parts, self._part_counts(), strict=True):
            if start < size and start < stop:
                documents += part[start : min(stop, size)]
            start, stop = max(start - size, 0), stop - size
        return documents


def normalize_query(query: str) -> str:
    """The query as a normalized project name would be written: runs of
    separators and spaces become one dash, all lowercase."""
    return normalize_project_name("-".join(query.split())).strip("-")


# Control characters other than whitespace: PostgreSQL refuses a NUL in any
# string, and none of them is in a name, a summary or a classifier.
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_CLASSIFIER_LENGTH = Classifier._meta.get_field("name").max_length


def clean_query(query: str) -> str:
    """The query as searched: no control characters, at most
    ``MAX_QUERY_LENGTH`` characters."""
    query = _CONTROL_CHARACTERS.sub("", query).strip()
    if len(query) > MAX_QUERY_LENGTH:
        # Whole words only: half a word would match nothing.
        words, _, _ = query[: MAX_QUERY_LENGTH + 1].rpartition(" ")
        query = words or query[:MAX_QUERY_LENGTH]
    return query.strip()


def clean_classifier(name: str) -> str:
    """A classifier filter as looked up: no control characters, and no longer
    than a classifier can be (a longer one matches nothing either way)."""
    return _CONTROL_CHARACTERS.sub("", name).strip()[:MAX_CLASSIFIER_LENGTH]


def search(
    query: str, *, classifiers: Sequence[str] = (), order: str = "relevance"
) -> SearchResults:
    """Documents matching ``query`` and having every one of ``classifiers``,
    best first (``order="date"``: latest release first).

    No query and no classifier: nothing (the page shows its empty state). No
    query but classifiers: every document having them all, newest first.
    """
    text = clean_query(query)
    documents = _with_classifiers(SearchDocument.objects.visible(), classifiers)
    if not text:
        if not classifiers:
            return SearchResults()
        return SearchResults(documents.order_by("-released_at", "normalized_name"))
    backend = _BACKENDS.get(connection.vendor, _search_plain)
    return backend(documents, text, normalize_query(text), by_date=order == "date")


def _with_classifiers(
    documents: QuerySet[SearchDocument], names: Sequence[str]
) -> QuerySet[SearchDocument]:
    """Only documents having every one of ``names``: one EXISTS per classifier
    on the (document, classifier) unique index; an unknown name matches nothing.

    The ids are looked up first, in a query of their own, so the planner sees
    them as values and can use its statistics of how common each one is: as a
    subquery, it plans for an average classifier and for a common one (in most
    documents) picks a plan ten times slower."""
    wanted = set(names)
    if not wanted:
        return documents
    ids = list(Classifier.objects.filter(name__in=wanted).values_list("id", flat=True))
    if len(ids) < len(wanted):
        return documents.none()
    through = SearchDocument.classifiers.through
    for classifier_id in ids:
        documents = documents.filter(
            Exists(through.objects.filter(searchdocument=OuterRef("pk"), classifier=classifier_id))
        )
    return documents


_TABLE = '"packages_searchdocument"'
_TSQUERY = "websearch_to_tsquery('english'::regconfig, %s)"
# ts_rank_cd's weights for D, C, B, A: description, keywords and people,
# summary, name.
_RANK_WEIGHTS = "'{0.1, 0.2, 0.4, 1.0}'::float4[]"
# Below this many documents matching the query in their name, summary, keywords
# or people, the query may be a misspelt name: look for similar names too.
TYPO_FALLBACK_BELOW = 20
MAX_TYPO_MATCHES = 50
# Names within trigram similarity of the query ("%%" is pg_trgm's operator,
# threshold pg_trgm.similarity_threshold, 0.3 by default, which the trigram
# index answers), looked for only when the query is nobody's exact name (a
# quarantined project's name counts as nobody's) and matches few documents in
# their name, summary, keywords or people: for a common word the trigram index
# would hand over thousands of names to check, and similar names would only add
# noise. Both conditions are uncorrelated, so
# PostgreSQL checks them once, before it touches the trigram index.
_TYPO_IDS = (  # Constants only: the user's text goes in the parameters.
    "SELECT typo.project_id FROM packages_searchdocument AS typo"  # noqa: S608
    " WHERE typo.normalized_name %% %s"
    " AND NOT EXISTS (SELECT 1 FROM packages_searchdocument AS same"
    " JOIN packages_project AS owner ON owner.id = same.project_id"
    f" WHERE same.normalized_name = %s AND {PROJECT_VISIBLE_SQL.format(project='owner')})"
    " AND (SELECT count(*) FROM (SELECT 1 FROM packages_searchdocument AS hit"
    f" WHERE hit.search_head @@ {_TSQUERY} LIMIT {TYPO_FALLBACK_BELOW}) AS few)"
    f" < {TYPO_FALLBACK_BELOW}"
    f" ORDER BY similarity(typo.normalized_name, %s) DESC LIMIT {MAX_TYPO_MATCHES}"
)


def _typo_ids(text: str, normalized: str) -> list[int]:
    """Looked up once per search, not in each of its queries, and only for a
    query that could be a name: one term. (Names similar to several words
    joined by dashes are rarely what someone typing several words wants.)"""
    if len(text.split()) > 1:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_TYPO_IDS, [normalized, normalized, text, normalized])
        return [project_id for (project_id,) in cursor.fetchall()]


def _sql(condition: str, params: Sequence[str], output_field=None) -> RawSQL:
    """A fragment of SQL written here; whatever the user typed goes in ``params``."""
    return RawSQL(condition, tuple(params), output_field=output_field or BooleanField())  # noqa: S611


def _search_postgresql(
    documents: QuerySet[SearchDocument], text: str, normalized: str, *, by_date: bool
) -> SearchResults:
    """Matches: the full-text query on the weighted vector of every field, the
    exact normalized name, or (for a query that is likely a typo) a name within
    trigram similarity of the query.

    Relevance shows them in three parts, each in an order PostgreSQL can give
    without reading every match's description:

    1. the exact name, the names holding a term of the query, the typo
       matches: ranked exact name first, then by ts_rank_cd over name,
       summary, keywords and people plus the name's trigram similarity;
    2. the documents holding a term in summary, keywords or people: newest
       first;
    3. the documents matching in their description only: newest first.

    A common word is in the summaries of thousands of projects and the
    descriptions of tens of thousands; ranking all of them costs tens to
    hundreds of milliseconds, while walking the released_at index stops after
    one page. Every name match still comes before them, which is what the
    weights (name > summary > keywords > description) mostly decide anyway.
    """
    doc = _TABLE
    # The query's terms as alternatives: a document whose name has one term and
    # whose description has the others belongs to part 1.
    terms = re.findall(r'[^\s"]+', text)
    any_text = " or ".join(
        term for term in terms if not term.startswith("-") and term.lower() != "or"
    )
    by_name = f"{doc}.normalized_name = %s OR {doc}.project_id = ANY(%s)"
    by_name_params = (normalized, _typo_ids(text, normalized))
    if by_date:
        matches = _sql(f"{doc}.search_vector @@ {_TSQUERY} OR {by_name}", (text, *by_name_params))
        return SearchResults(documents.filter(matches).order_by("-released_at", "normalized_name"))
    # Whether the whole query matches: the row's own head vector decides most
    # cases; the full vector (in TOAST) is read only when it may change the
    # answer, for terms spread over several fields or a term excluded with "-".
    if any(term.startswith("-") for term in terms):
        matches_all = f"{doc}.search_vector @@ {_TSQUERY}"
        matches_all_params: tuple[str, ...] = (text,)
    else:
        matches_all = f"({doc}.search_head @@ {_TSQUERY} OR {doc}.search_vector @@ {_TSQUERY})"
        matches_all_params = (text, text)
    in_name = f"{doc}.search_name @@ {_TSQUERY}"
    in_head = f"{doc}.search_head @@ {_TSQUERY}"
    names = documents.filter(
        _sql(
            f"({in_name} AND {matches_all}) OR {by_name}",
            (any_text, *matches_all_params, *by_name_params),
        )
    )
    rank = _sql(
        f"ts_rank_cd({_RANK_WEIGHTS}, {doc}.search_head, {_TSQUERY})"
        f" + similarity({doc}.normalized_name, %s)",
        (any_text, normalized),
        output_field=FloatField(),
    )
    fields = documents.filter(
        _sql(f"{in_head} AND {matches_all}", (any_text, *matches_all_params)),
        ~_sql(f"{in_name} OR {by_name}", (any_text, *by_name_params)),
    )
    descriptions = documents.filter(
        _sql(f"{doc}.search_vector @@ {_TSQUERY}", (text,)),
        ~_sql(f"{in_head} OR {by_name}", (any_text, *by_name_params)),
    )
    return SearchResults(
        names.order_by(_exact(normalized).desc(), rank.desc(), "-released_at", "normalized_name"),
        fields.order_by("-released_at", "normalized_name"),
        descriptions.order_by("-released_at", "normalized_name"),
    )


def _search_plain(
    documents: QuerySet[SearchDocument], text: str, normalized: str, *, by_date: bool
) -> SearchResults:
    """Any other database (SQLite): every word must appear somewhere
    (case-insensitively), or the query is the exact normalized name. Relevance:
    the exact name first, then names starting with the query, then by where
    the words appear, name > summary > keywords and people > description."""
    words = list(dict.fromkeys(text.lower().split()))

    def in_name(word: str) -> Q:
        found = Q(name__icontains=word)
        # "zope_interface" is in "zope.interface"; "_" alone is no name at all.
        if normalized_word := normalize_query(word):
            found |= Q(normalized_name__contains=normalized_word)
        return found

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

    matches = documents.filter(
        Q(normalized_name=normalized) | functools.reduce(operator.and_, map(anywhere, words))
    )
    if by_date:
        return SearchResults(matches.order_by("-released_at", "normalized_name"))
    prefix = Case(
        When(normalized_name__startswith=normalized, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    return SearchResults(
        matches.order_by(
            _exact(normalized).desc(),
            prefix.desc(),
            functools.reduce(operator.add, map(score, words)).desc(),
            "normalized_name",
        )
    )


def _exact(normalized: str) -> Case:
    return Case(
        When(normalized_name=normalized, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )


_BACKENDS: dict[str, Callable[..., SearchResults]] = {
    "postgresql": _search_postgresql,
}


# --- Suggestions -----------------------------------------------------------------


def suggest_names(prefix: str, limit: int = 10) -> list[str]:
    """Up to ``limit`` project names starting with ``prefix`` (normalized),
    shortest first; on PostgreSQL topped up with names similar to it."""
    normalized = normalize_query(clean_query(prefix))
    if not normalized or limit <= 0:
        return []
    starting = (
        SearchDocument.objects.visible()
        .filter(normalized_name__startswith=normalized)
        .order_by(Length("normalized_name"), "normalized_name")
    )
    names = list(starting.values_list("name", flat=True)[:limit])
    if len(names) < limit and connection.vendor == "postgresql":
        similar = (
            SearchDocument.objects.visible()
            .filter(normalized_name__trigram_similar=normalized)
            .exclude(normalized_name__startswith=normalized)
            .annotate(
                # Qualified: the project's table, joined, has a normalized_name too.
                similarity=_sql(
                    f"similarity({_TABLE}.normalized_name, %s)", (normalized,), FloatField()
                )
            )
            .order_by("-similarity", Length("normalized_name"), "normalized_name")
        )
        names += similar.values_list("name", flat=True)[: limit - len(names)]
    return names
