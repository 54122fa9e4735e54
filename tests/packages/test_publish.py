"""packages.publish: the rows of a new file, written by the upload's commit and
by the test factories alike, so that a file the factories make is what an
upload leaves."""

import pytest

from accounts.models import Event
from packages.models import File, FileRegistry, JournalEntry, Project, Role, SearchDocument
from tests.factories import add_file, make_release, make_wheel, post_upload

pytestmark = pytest.mark.django_db


def left_behind(project: Project) -> dict:
    """What a new release with one file leaves, without ids, names and times."""
    project.refresh_from_db()
    journal = JournalEntry.objects.filter(name=project.name).order_by("id")
    file = File.objects.get(release__project=project)
    release = file.release
    document = SearchDocument.objects.get(project=project)
    stem = project.normalized_name.replace("-", "_")
    return {
        "journal": [
            (entry.action.replace(stem, "*"), entry.version, entry.submitted_by)
            for entry in journal
        ],
        "last_serial": project.last_serial == journal.last().id,
        "events": list(
            Event.objects.filter(project=project).order_by("id").values_list("tag", "actor")
        ),
        "release": (release.version, release.uploader, release.description_renderer),
        "file": (
            file.packagetype,
            file.python_version,
            file.uploader,
            bool(file.metadata_sha256_digest),
        ),
        "registered": FileRegistry.objects.filter(filename=file.filename).exists(),
        "total_size": project.total_size == file.size,
        "search": (document.version, document.summary),
    }


def owned(name: str, owner) -> Project:
    project = Project.objects.create(name=name, normalized_name=name)
    Role.objects.create(project=project, user=owner, role_name=Role.Name.OWNER)
    return project


def test_a_file_the_factories_add_is_what_an_upload_leaves(
    client, owner, token, django_capture_on_commit_callbacks
):
    uploaded, made = owned("uploaded", owner), owned("made", owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_upload(client, make_wheel("uploaded", "1.0", summary="Same"), token)
    assert response.status_code == 200
    add_file(
        make_release(made, "1.0", summary="Same"),
        make_wheel("made", "1.0", summary="Same"),
        with_metadata=True,
    )

    expected = left_behind(uploaded)
    assert expected["journal"] == [
        ("new release", "1.0", owner),
        ("add py3 file *-1.0-py3-none-any.whl", "1.0", owner),
    ]
    assert expected["search"] == ("1.0", "Same")
    # The upload also records the token's use on the account; the rest is the same.
    factory = left_behind(made)
    assert factory == expected
