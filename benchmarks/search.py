#!/usr/bin/env python
"""Search latency on 100,000 generated projects, on PostgreSQL.

    DATABASE_URL=postgresql://user:password@host:port/db REDIS_URL=redis://host:port/0 \
        .venv/bin/python benchmarks/search.py \
        [--projects 100000] [--iterations 2000] [--updates 200] [--seed 1] \
        [--keep | --reuse] [--explain] [--json PATH]

Creates its own database next to the one DATABASE_URL names (``<db>_search_bench``;
the role needs CREATEDB), migrates it, generates the projects' search documents
(names built from words with the usual prefixes and suffixes, summaries,
keywords, people, descriptions of a few hundred words, trove classifiers) and
loads them with COPY, runs VACUUM ANALYZE, then times a fixed, seeded mix of
queries through ``packages.search.search`` exactly as the search page uses it:
the query, one page of 20 results, and the count. It also times
``search_index_update`` (what an upload adds) on that index. It prints
p50/p95/p99/max per kind of query and overall, the row counts and the index
sizes, and drops the database at the end unless --keep (--reuse measures a
database kept that way again, without loading it). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import platform
import random
import re
import secrets
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from packaging.utils import canonicalize_name  # noqa: E402

from tests.liveserver import is_postgresql, percentiles, throwaway_postgresql_database  # noqa: E402

PAGE_SIZE = 20
PREFIXES = [
    "py", "django", "flask", "pytest", "sphinx", "types", "aio", "azure", "google",
    "jupyter", "mkdocs", "fastapi", "ansible", "odoo", "napari", "tox", "apache",
]  # fmt: skip
SUFFIXES = [
    "lib", "tools", "utils", "client", "sdk", "cli", "core", "api", "plugin", "helpers",
    "server", "kit", "py", "2", "3", "ng", "x", "extensions", "contrib", "async",
]  # fmt: skip
FIRST_NAMES = [
    "Ada", "Alan", "Barbara", "Brian", "Carol", "Dennis", "Edsger", "Frances", "Grace",
    "Guido", "Hedy", "Ken", "Linus", "Margaret", "Radia", "Tim", "Yukihiro", "Zeynep",
]  # fmt: skip
LAST_NAMES = [
    "Allen", "Backus", "Cerf", "Dijkstra", "Engelbart", "Floyd", "Goldberg", "Hamilton",
    "Hopper", "Knuth", "Lamport", "Liskov", "Perlman", "Ritchie", "Thompson", "Wirth",
]  # fmt: skip
# Most projects declare a few of these; each also gets up to four others at random.
COMMON_CLASSIFIERS = [
    ("Programming Language :: Python :: 3", 0.8),
    ("Operating System :: OS Independent", 0.6),
    ("Intended Audience :: Developers", 0.5),
    ("License :: OSI Approved :: MIT License", 0.4),
    ("Programming Language :: Python :: 3.11", 0.4),
    ("Programming Language :: Python :: 3.12", 0.35),
    ("Development Status :: 4 - Beta", 0.3),
    ("Development Status :: 5 - Production/Stable", 0.3),
    ("License :: OSI Approved :: Apache Software License", 0.15),
    ("Framework :: Django", 0.1),
    ("Topic :: Software Development :: Libraries", 0.3),
]
STOP = {
    "the", "and", "for", "that", "this", "with", "are", "from", "not", "can", "which", "was",
    "has", "have", "will", "been", "its", "into", "than", "then", "there", "their", "they",
    "when", "where", "what", "also", "only", "may", "any", "all", "but", "one", "two", "such",
    "must", "should", "would", "each", "other", "these", "those", "some", "used", "uses",
}  # fmt: skip


def log(message: str) -> None:
    print(message, flush=True)


# --- Data ------------------------------------------------------------------------


@dataclass
class Vocabulary:
    """Words and running text from CPython's own documentation (pydoc_data):
    real English about software, the same on every machine."""

    tokens: list[str]
    words: list[str]
    weights: list[int]

    @classmethod
    def load(cls) -> Vocabulary:
        from pydoc_data.topics import topics

        text = " ".join(topics[key] for key in sorted(topics))
        tokens = text.split()
        counts = collections.Counter(
            w for w in re.findall(r"[a-z]{4,12}", text.lower()) if w not in STOP
        )
        words = sorted(counts)
        return cls(tokens, words, [counts[w] for w in words])

    def span(self, rng: random.Random, low: int, high: int) -> str:
        size = rng.randint(low, high)
        start = rng.randrange(len(self.tokens) - size)
        return " ".join(self.tokens[start : start + size])

    def word(self, rng: random.Random) -> str:
        """A word drawn by its frequency in the text: common words are common."""
        return rng.choices(self.words, self.weights)[0]


def make_name(rng: random.Random, vocabulary: Vocabulary) -> str:
    parts = [rng.choice(vocabulary.words) for _ in range(rng.choice((1, 1, 2, 2, 2, 3)))]
    if rng.random() < 0.25:
        parts.insert(0, rng.choice(PREFIXES))
    if rng.random() < 0.25:
        parts.append(rng.choice(SUFFIXES))
    if rng.random() < 0.15:
        parts = [part.capitalize() for part in parts]
    return rng.choice(("-", "-", "-", "_", ".", "")).join(parts)


@dataclass
class Corpus:
    names: list[str] = field(default_factory=list)
    classifiers: list[str] = field(default_factory=list)
    projects: int = 0
    links: int = 0


@dataclass
class Rows:
    projects: list[tuple] = field(default_factory=list)
    documents: list[tuple] = field(default_factory=list)
    links: list[tuple] = field(default_factory=list)
    classifiers: list[tuple] = field(default_factory=list)


def generate(rng: random.Random, vocabulary: Vocabulary, count: int) -> tuple[Corpus, Rows]:
    """The rows of ``count`` projects, the same for a given seed."""
    import trove_classifiers

    corpus = Corpus(classifiers=list(trove_classifiers.sorted_classifiers))
    classifier_ids = {name: i + 1 for i, name in enumerate(corpus.classifiers)}
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    seen: set[str] = set()
    rows = Rows()
    for pk in range(1, count + 1):
        name = make_name(rng, vocabulary)
        normalized = canonicalize_name(name)
        while normalized in seen:
            name = f"{name}{rng.randrange(10)}"
            normalized = canonicalize_name(name)
        seen.add(normalized)
        corpus.names.append(name)
        created = now - dt.timedelta(days=rng.uniform(0, 3650))
        released = created + (now - created) * rng.random()
        person = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        people = f"{person} {person.lower().replace(' ', '.')}@example.org"
        keywords = ",".join(vocabulary.word(rng) for _ in range(rng.randint(0, 6)))
        description = f"# {name}\n\n{vocabulary.span(rng, 150, 500)}"
        version = f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
        summary = vocabulary.span(rng, 5, 14)[:512]
        rows.projects.append((pk, name, normalized, created, pk, 0, ""))
        rows.documents.append(
            (
                pk,
                name,
                normalized,
                version,
                summary,
                keywords,
                description,
                people,
                released,
                created,
            )
        )
        chosen = {c for c, p in COMMON_CLASSIFIERS if rng.random() < p}
        chosen.update(rng.sample(corpus.classifiers, rng.randint(0, 4)))
        rows.links += [(pk, classifier_ids[c]) for c in sorted(chosen)]
    rows.classifiers = list(classifier_ids.items())
    corpus.projects = count
    corpus.links = len(rows.links)
    return corpus, rows


COPIES = {
    "classifiers": "COPY packages_classifier (name, id) FROM STDIN",
    "projects": "COPY packages_project (id, name, normalized_name, created_at, last_serial,"
    " total_size, quarantine_reason) FROM STDIN",
    "documents": "COPY packages_searchdocument (project_id, name, normalized_name, version,"
    " summary, keywords, description, people, released_at, created_at) FROM STDIN",
    "links": "COPY packages_searchdocument_classifiers (searchdocument_id, classifier_id)"
    " FROM STDIN",
}


def load(url: str, rows: Rows) -> None:
    """COPY the rows in. The documents go in two halves over two connections at
    once: computing their tsvectors is most of the load, and it takes a CPU each."""
    from concurrent.futures import ThreadPoolExecutor

    def copy(statement: str, batch: list[tuple]) -> None:
        with psycopg.connect(url) as conn, conn.cursor() as cur, cur.copy(statement) as stream:
            for row in batch:
                stream.write_row(row)

    copy(COPIES["classifiers"], rows.classifiers)
    copy(COPIES["projects"], rows.projects)
    half = len(rows.documents) // 2
    with ThreadPoolExecutor(2) as pool:
        for future in [
            pool.submit(copy, COPIES["documents"], rows.documents[:half]),
            pool.submit(copy, COPIES["documents"], rows.documents[half:]),
        ]:
            future.result()
    copy(COPIES["links"], rows.links)


def load_into(connection, url: str, rows: Rows) -> None:
    # Bulk loads go faster into a table without its GIN indexes, built
    # afterwards from the definitions the migrations gave them.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
            ["packages_searchdocument", "% USING gin %"],
        )
        gin_indexes = cursor.fetchall()
        for name, _ in gin_indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    load(url, rows)
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for _, definition in gin_indexes:
            cursor.execute(definition)
    reset_sequences()


def reset_sequences() -> None:
    from django.core.management.color import no_style
    from django.db import connection

    from packages.models import Classifier, Project, SearchDocument

    through = SearchDocument.classifiers.through
    statements = connection.ops.sequence_reset_sql(no_style(), [Project, Classifier, through])
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


# --- Queries ---------------------------------------------------------------------


@dataclass
class Query:
    kind: str
    text: str
    classifiers: tuple[str, ...] = ()
    order: str = "relevance"
    page: int = 1


def typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word) - 2)
    how = rng.choice(("swap", "drop", "replace"))
    if how == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if how == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + rng.choice("aeioustrn") + word[i + 1 :]


def query_mix(rng: random.Random, vocabulary: Vocabulary, corpus: Corpus) -> dict[str, list]:
    """50 distinct queries of each kind, the same for a given seed."""
    pool = 50

    def words(n: int) -> list[str]:
        return [vocabulary.word(rng) for _ in range(n)]

    def phrase() -> str:
        tokens = vocabulary.span(rng, 2, 2).lower()
        return " ".join(re.findall(r"[a-z]{3,}", tokens)) or vocabulary.word(rng)

    long_names = [n for n in corpus.names if len(n) >= 7 and n.isalpha()]
    common = [name for name, _ in COMMON_CLASSIFIERS]
    return {
        "exact name": [Query("exact name", rng.choice(corpus.names)) for _ in range(pool)],
        "one word": [Query("one word", w) for w in words(pool)],
        "two words": [Query("two words", phrase()) for _ in range(pool)],
        "typo in a name": [
            Query("typo in a name", typo(rng, rng.choice(long_names))) for _ in range(pool)
        ],
        "word + classifier": [
            Query("word + classifier", w, (rng.choice(common),)) for w in words(pool)
        ],
        "classifiers only": [
            Query("classifiers only", "", tuple(rng.sample(common, 2))) for _ in range(pool)
        ],
        "word, by date": [Query("word, by date", w, order="date") for w in words(pool)],
        "word, page 5": [Query("word, page 5", w, page=5) for w in words(pool)],
    }


def run_query(query: Query) -> tuple[float, int, int]:
    from packages.search import search

    start = time.perf_counter()
    results = search(query.text, classifiers=query.classifiers, order=query.order)
    offset = (query.page - 1) * PAGE_SIZE
    page = list(results[offset : offset + PAGE_SIZE])
    total = results.count()
    return (time.perf_counter() - start) * 1000, len(page), total


def explain(query: Query) -> str:
    from django.db import connection

    from packages.search import search

    results = search(query.text, classifiers=query.classifiers, order=query.order)
    plans = []
    for number, part in enumerate(results.parts, 1):
        page_sql, page_params = part[: PAGE_SIZE * query.page].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + page_sql, page_params)
            plans.append(f"part {number}:")
            plans += [row[0] for row in cursor.fetchall()]
    return "\n".join(plans)


def time_index_updates(rng: random.Random, corpus: Corpus, count: int) -> dict[str, float]:
    """search_index_update after adding a release to existing projects, each in
    its own transaction as an upload does."""
    from django.db import transaction

    from packages.models import Project, Release
    from packages.search import search_index_update

    samples = []
    version = f"99.{int(time.time())}"
    for pk in rng.sample(range(1, corpus.projects + 1), count):
        project = Project.objects.get(pk=pk)
        start = time.perf_counter()
        with transaction.atomic():
            Release.objects.create(
                project=project,
                version=version,
                canonical_version=version,
                metadata_version="2.1",
                summary="A new release for the benchmark",
                description="word " * 300,
                author="Bench Mark",
                classifiers=[c for c, _ in COMMON_CLASSIFIERS[:6]],
            )
            search_index_update(project)
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


# --- Database --------------------------------------------------------------------


def sizes() -> dict[str, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_size_pretty(pg_total_relation_size(c.oid))"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')"
            " AND c.relname LIKE 'packages_searchdocument%%'"
            " ORDER BY pg_total_relation_size(c.oid) DESC"
        )
        return dict(cursor.fetchall())


# --- Main ------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=100_000, help="projects to generate")
    parser.add_argument(
        "--iterations", type=int, default=2000, help="timed queries in all (max 20,000)"
    )
    parser.add_argument("--updates", type=int, default=200, help="timed index updates")
    parser.add_argument("--seed", type=int, default=1, help="seed of the data and the queries")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the database an earlier --keep run left (same --projects and --seed)",
    )
    parser.add_argument(
        "--explain", action="store_true", help="print EXPLAIN ANALYZE of one query per kind"
    )
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not 1 <= args.iterations <= 20_000:
        parser.error("--iterations must be between 1 and 20,000")
    if not 1_000 <= args.projects <= 1_000_000:
        parser.error("--projects must be between 1,000 and 1,000,000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        raise SystemExit("set DATABASE_URL to a PostgreSQL database (postgresql://...)")
    if not is_postgresql(url):
        raise SystemExit(
            "benchmarks/search.py measures PostgreSQL's search: set DATABASE_URL to a "
            "postgresql:// URL (the role needs CREATEDB). SQLite is not measured."
        )
    started = time.monotonic()
    keep = args.keep or args.reuse
    bench_name = None
    try:
        with throwaway_postgresql_database(
            url, "search_bench", create=not args.reuse, keep=keep
        ) as (bench_url, bench_name):
            if not args.reuse:
                log(f"created database {bench_name}")
            try:
                return run(args, bench_url, bench_name, started)
            finally:
                from django.db import connections

                connections.close_all()
    finally:
        if bench_name:
            log(f"kept database {bench_name}" if keep else f"dropped database {bench_name}")


def run(args: argparse.Namespace, bench_url: str, bench_name: str, started: float) -> int:
    os.environ["DATABASE_URL"] = bench_url
    # The settings refuse a server database without the shared cache and an
    # explicit key (machines would disagree); this process is the only machine.
    if not os.environ.get("REDIS_URL"):
        raise SystemExit("benchmarks/search.py: set REDIS_URL too (PostgreSQL needs Redis).")
    os.environ.setdefault("SECRET_KEY", "bench-" + secrets.token_urlsafe(32))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pypi_site.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    rng = random.Random(args.seed)
    vocabulary = Vocabulary.load()
    t0 = time.monotonic()
    corpus, rows = generate(rng, vocabulary, args.projects)
    log(f"generated {corpus.projects:,} projects in {time.monotonic() - t0:.0f}s")
    load_seconds = vacuum_seconds = 0.0
    if not args.reuse:
        t0 = time.monotonic()
        load_into(connection, bench_url, rows)
        load_seconds = time.monotonic() - t0
        log(f"loaded {corpus.projects:,} projects, {corpus.links:,} links in {load_seconds:.0f}s")
        t0 = time.monotonic()
        with connection.cursor() as cursor:
            for table in (
                "packages_project",
                "packages_searchdocument",
                "packages_searchdocument_classifiers",
                "packages_classifier",
            ):
                cursor.execute(f"VACUUM ANALYZE {table}")
        vacuum_seconds = time.monotonic() - t0
        log(f"VACUUM ANALYZE in {vacuum_seconds:.0f}s")
    del rows

    mix = query_mix(rng, vocabulary, corpus)
    if args.explain:
        for queries in mix.values():
            q = queries[0]
            log(f"\n--- {q.kind}: {q.text!r} {q.classifiers} order={q.order} page={q.page}")
            log(explain(q))
    # Warm up: every query of the mix once, untimed (first reads from disk).
    hits: dict[str, list[int]] = collections.defaultdict(list)
    for queries in mix.values():
        for q in queries:
            _, _, total = run_query(q)
            hits[q.kind].append(total)
    timed: dict[str, list[float]] = collections.defaultdict(list)
    schedule = [q for queries in mix.values() for q in queries]
    order_rng = random.Random(args.seed + 1)
    for i in range(args.iterations):
        q = schedule[i % len(schedule)] if i < len(schedule) else order_rng.choice(schedule)
        elapsed, _, _ = run_query(q)
        timed[q.kind].append(elapsed)
    updates = time_index_updates(rng, corpus, args.updates) if args.updates else None

    figures = {kind: percentiles(samples) for kind, samples in timed.items() if len(samples) > 1}
    figures["all"] = percentiles([s for samples in timed.values() for s in samples])
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM packages_searchdocument")
        (documents,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM packages_searchdocument_classifiers")
        (links,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM packages_classifier")
        (classifiers,) = cursor.fetchone()
        cursor.execute("SHOW server_version")
        (server,) = cursor.fetchone()
    header = [
        f"Search benchmark {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{time.monotonic() - started:.0f}s in all, seed {args.seed}",
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, PostgreSQL {server}",
        f"rows: {documents:,} documents, {classifiers:,} classifiers, {links:,} links; "
        f"load {load_seconds:.0f}s, VACUUM ANALYZE {vacuum_seconds:.0f}s",
    ]
    lines = ["=" * 78, *header, "=" * 78]
    lines.append(
        f"{'query kind':<20} {'n':>5} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  median hits"
    )
    for kind, f in figures.items():
        median_hits = statistics.median(hits[kind]) if kind in hits else ""
        lines.append(
            f"{kind:<20} {f['n']:>5} {f['p50']:>7.1f} {f['p95']:>7.1f} {f['p99']:>7.1f} "
            f"{f['max']:>7.1f}  {median_hits}"
        )
    lines.append("(milliseconds: search() + one page of 20 + count(), one client)")
    if updates:
        lines.append(
            f"search_index_update after a new release: p50 {updates['p50']:.1f} ms, "
            f"p99 {updates['p99']:.1f} ms (n={updates['n']})"
        )
    relation_sizes = sizes()
    lines.append("sizes (table with TOAST, indexes):")
    lines += [f"  {name:<60} {size}" for name, size in relation_sizes.items()]
    print("\n".join(lines))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "header": header,
                    "queries": figures,
                    "index_update": updates,
                    "sizes": relation_sizes,
                },
                indent=2,
            )
            + "\n"
        )
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
