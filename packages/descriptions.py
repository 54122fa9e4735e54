"""Release descriptions rendered after the upload's commit, not in its request.

An upload stores a new release with its description not rendered yet
(``description_renderer`` is ``PENDING``) and answers at once; its project page
shows the description as plain text, with a note, until it is rendered. The
same step updates the project's search document, in the transaction that
stores the description, so the pending mark stands for both. After the commit
the process that made the upload renders it (in a serving process a
thread of its own does, so no request waits for the renderer); ``manage.py
worker`` renders whatever is still pending (that attempt failed, or the
process died first). Once a description is stored, the edges forget the
project's web pages (the only pages that show it; ``render_descriptions`` does
the same).

Rendering twice is harmless: a release is saved only while it is still
pending, so the first render stored wins and the project is purged once.
"""

import atexit
import logging
import queue
import threading

from django.db import connection, transaction

from . import purges
from .models import Project, Release
from .rendering import RENDERER_VERSION, render_description
from .search import search_index_update

logger = logging.getLogger(__name__)

# description_renderer of a release whose description is waiting for its render
# (templates/packages/project.html names it too). Not "": rows from before
# descriptions were rendered are render_descriptions' work, not the worker's.
PENDING = "pending"
# Releases one query of the worker takes.
BATCH_SIZE = 50


def _render(release: Release) -> bool:
    html = render_description(release.description, release.description_content_type)
    with transaction.atomic():
        # The project first, as every change to its releases locks it (a yank
        # that locked it and then waited for this release would deadlock).
        project = Project.objects.locked(pk=release.project_id)
        saved = Release.objects.filter(pk=release.pk, description_renderer=PENDING).update(
            description_html=html, description_renderer=RENDERER_VERSION
        )
        if saved:
            # The upload left the project's search document to this step.
            search_index_update(project)
            # Pages cached while it was pending show it as plain text.
            purges.enqueue([f"project-{project.normalized_name}"])
    return bool(saved)


def _pending():
    return (
        Release.objects.filter(description_renderer=PENDING)
        .only("id", "project_id", "description", "description_content_type")
        .order_by("id")
    )


def render_release(pk: int) -> bool:
    """Render the release ``pk`` if it is still pending; True if this call
    stored its description."""
    release = _pending().filter(pk=pk).first()
    return release is not None and _render(release)


def render_all_pending() -> int:
    """Render every pending release; returns how many this call stored."""
    done, last_id = 0, 0
    while batch := list(_pending().filter(id__gt=last_id)[:BATCH_SIZE]):
        done += sum(_render(release) for release in batch)
        last_id = batch[-1].id
    return done


class AfterCommit:
    """The first render of a release, after its commit: in a serving process
    (``purges.purger.serving``) on a thread of its own, elsewhere at once.
    Idle for ``idle_seconds``, the thread also renders whatever is pending
    (a process that died before its render), as the purge thread works due
    purges: one machine needs no separate worker."""

    def __init__(self, *, idle_seconds: float = 30) -> None:
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, pk: int) -> None:
        if not purges.purger.serving:
            self._attempt(pk)
            return
        self._queue.put(pk)
        with self._lock:
            # A forked worker finds its parent's thread dead: it starts its own.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="description-render", daemon=True
                )
                self._thread.start()
                atexit.register(self.stop)

    def _run(self) -> None:
        while True:
            try:
                pk = self._queue.get(timeout=self.idle_seconds)
            except queue.Empty:
                self._guarded(render_all_pending)
            else:
                if pk is None:
                    return
                self._attempt(pk)
            # The thread keeps no connection open between renders.
            connection.close()

    def stop(self) -> None:
        """Render what is queued, then end the thread (at a graceful exit)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _attempt(self, pk: int) -> None:
        self._guarded(lambda: render_release(pk))

    @staticmethod
    def _guarded(work) -> None:
        try:
            work()
        except Exception:
            # After the commit nothing may fail the upload: the worker renders it.
            logger.exception("Could not render descriptions now; the worker will")


after_commit = AfterCommit()
