"""The upload pipeline's commit: atomicity, cleanup of stored objects and the
races between concurrent uploads. The races are staged by letting a step of the
pipeline commit the "winning" upload's rows just before this upload commits."""

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, connections
from django.test import Client
from packaging.utils import canonicalize_version

from accounts.events import Actor
from accounts.models import ApiToken, Event
from accounts.tokens import api_token_create
from packages import descriptions as descriptions_module
from packages import publish as publish_module
from packages import upload as upload_module
from packages.models import (
    File,
    FileRegistry,
    JournalEntry,
    Project,
    Release,
    Role,
    SearchDocument,
)
from packages.rendering import RENDERER_VERSION
from packages.search import search
from packages.storage import files_storage, metadata_path
from packages.upload import (
    Outcome,
    Upload,
    UploadError,
    check_duplicate,
    release_file_upload,
)
from packages.upload_handler import HashingUploadHandler
from tests.factories import Dist, basic, make_sdist, make_wheel, path_of, post_upload

pytestmark = pytest.mark.django_db


def received(dist: Dist):
    """The file as the upload handler hands it to the view."""
    handler = HashingUploadHandler()
    handler.new_file("content", dist.filename, "application/octet-stream", None, None)
    handler.receive_data_chunk(dist.content, 0)
    return handler.file_complete(len(dist.content))


def exists(path: str) -> bool:
    return files_storage().exists(path)


def commit_file_row(project: Project, dist: Dist, *, packagetype: str = "bdist_wheel") -> File:
    """What a concurrent upload of ``dist`` (version 1.0) leaves once committed."""
    release, _created = Release.objects.get_or_create(
        project=project,
        canonical_version=canonicalize_version("1.0"),
        defaults={"version": "1.0", "metadata_version": "2.1"},
    )
    FileRegistry.objects.create(filename=dist.filename)
    return File.objects.create(
        release=release,
        filename=dist.filename,
        packagetype=packagetype,
        python_version="py3" if packagetype == "bdist_wheel" else "source",
        size=len(dist.content),
        md5_digest=dist.md5,
        sha256_digest=dist.sha256,
        blake2_256_digest=dist.blake2_256,
        path=path_of(dist),
    )


@pytest.fixture
def race(monkeypatch):
    """Run ``winner()`` once, after this upload's duplicate check passed."""

    def stage(winner):
        calls = []

        def check_then_lose(upload):
            outcome = check_duplicate(upload)
            if not calls:
                calls.append(upload)
                winner()
            return outcome

        monkeypatch.setattr(upload_module, "check_duplicate", check_then_lose)
        return calls

    return stage


# --- the pipeline called directly -------------------------------------------------


def test_release_file_upload_returns_stored_then_already_stored(owner):
    minted = api_token_create(user=owner)
    dist = make_wheel()
    form = dist.form()
    assert (
        release_file_upload(
            form=form, content=received(dist), token=minted.token, actor=Actor(owner)
        )
        is Outcome.STORED
    )
    assert (
        release_file_upload(
            form=form, content=received(dist), token=minted.token, actor=Actor(owner)
        )
        is Outcome.ALREADY_STORED
    )


def test_upload_errors_carry_400_unless_told(owner):
    minted = api_token_create(user=owner)
    dist = make_wheel()
    with pytest.raises(UploadError) as info:
        release_file_upload(
            form=dist.form(protocol_version="3"),
            content=received(dist),
            token=minted.token,
            actor=Actor(owner),
        )
    assert info.value.status == 400
    assert str(info.value) == info.value.message


def test_upload_names_the_project_by_its_row_once_known(project, owner):
    minted = api_token_create(user=owner)
    upload = Upload(form={}, content=received(make_wheel()), token=minted.token, actor=Actor(owner))
    upload.project = project
    assert upload.project_name == "Sample.Project"
    assert upload.filename == "sample_project-1.0-py3-none-any.whl"
    assert upload.user == owner


# --- atomicity --------------------------------------------------------------------


def test_failed_commit_of_a_new_project_leaves_no_rows_and_no_objects(client, token, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(publish_module, "journal_append_many", broken)
    dist = make_wheel()
    with pytest.raises(RuntimeError, match="database went away"):
        post_upload(client, dist, token)
    assert not Project.objects.exists()
    assert not Role.objects.exists()
    assert not Release.objects.exists()
    assert not File.objects.exists()
    assert not FileRegistry.objects.exists()
    assert not exists(path_of(dist))
    assert not exists(metadata_path(path_of(dist)))


def test_commit_failing_at_its_last_write_rolls_back_the_file(client, project, token, monkeypatch):
    real = publish_module.journal_append_many

    def fail_on_file_entry(**kwargs):
        if any(line.action.startswith("add ") for line in kwargs["entries"]):
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(publish_module, "journal_append_many", fail_on_file_entry)
    dist = make_wheel()
    with pytest.raises(RuntimeError, match="disk full"):
        post_upload(client, dist, token)
    assert not Release.objects.exists()
    assert not File.objects.exists()
    assert not JournalEntry.objects.exists()
    assert Project.objects.get().total_size == 0
    assert not exists(path_of(dist))
    assert not exists(metadata_path(path_of(dist)))


def test_refusal_under_the_lock_deletes_the_stored_objects(client, project, token, monkeypatch):
    # The total size grew between the first check and the commit's re-check.
    real = upload_module._commit
    dist = make_wheel()

    def grown_meanwhile(upload, path, stored):
        Project.objects.filter(pk=project.pk).update(total_size=10**12)
        return real(upload, path, stored)

    monkeypatch.setattr(upload_module, "_commit", grown_meanwhile)
    response = post_upload(client, dist, token)
    assert response.status_code == 400
    assert "Project size too large" in response.reason_phrase
    assert not File.objects.exists()
    assert not exists(path_of(dist))


def test_sdist_committed_meanwhile_is_caught_under_the_lock(client, project, token, race):
    sdist = make_sdist()
    other = make_sdist(filename="Sample.Project-1.0.tar.gz", summary="Built elsewhere")
    race(lambda: commit_file_row(project, other, packagetype="sdist"))
    response = post_upload(client, sdist, token)
    assert response.status_code == 400
    assert "Only one sdist may be uploaded per release" in response.reason_phrase
    assert not exists(path_of(sdist))


def test_objects_that_vanished_before_the_lock_are_stored_again(client, token, monkeypatch):
    # A concurrent identical upload failed and deleted the shared path after
    # this upload wrote it.
    real = upload_module.lock_stored_path
    dist = make_wheel()

    def cleaned_up_meanwhile(path):
        files_storage().delete(path)
        files_storage().delete(metadata_path(path))
        monkeypatch.setattr(upload_module, "lock_stored_path", real)
        real(path)

    monkeypatch.setattr(upload_module, "lock_stored_path", cleaned_up_meanwhile)
    assert post_upload(client, dist, token).status_code == 200
    with files_storage().open(path_of(dist), "rb") as handle:
        assert handle.read() == dist.content
    with files_storage().open(metadata_path(path_of(dist)), "rb") as handle:
        assert handle.read() == dist.metadata.encode()


# --- races ------------------------------------------------------------------------


def test_identical_upload_winning_the_race_is_success(client, project, token, race):
    dist = make_wheel()
    race(lambda: commit_file_row(project, dist))
    response = post_upload(client, dist, token)
    assert response.status_code == 200
    assert response.content == b"OK: this file was already uploaded.\n"
    assert File.objects.count() == 1
    # The winner's row points at the shared path: it must survive our cleanup.
    assert exists(path_of(dist))


def test_identical_upload_committing_inside_the_duplicate_check_is_success(client, project, token):
    # The winner commits right after the first statement of the duplicate
    # check, between its reads of the File rows and the filename registry.
    # Would catch: reading File rows first, then finding the winner's filename
    # registered and refusing it as "already used".
    dist = make_wheel()
    staged = []

    def winner_after_first_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not staged and '"packages_file' in sql:
            staged.append(sql)
            commit_file_row(project, dist)
        return result

    with connection.execute_wrapper(winner_after_first_read):
        response = post_upload(client, dist, token)
    assert staged
    assert response.status_code == 200, response.reason_phrase
    assert response.content == b"OK: this file was already uploaded.\n"
    assert File.objects.count() == 1


def test_identical_sdist_winning_before_the_release_rules_is_success(client, project, token):
    # Would catch: the one-sdist-per-release rule counting the winner's sdist,
    # committed after this upload's duplicate check, against its own bytes.
    dist = make_sdist()
    staged = []

    def winner_after_duplicate_check(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not staged and "packages_release" in sql and "sdist" in params:
            staged.append(sql)
            commit_file_row(project, dist, packagetype="sdist")
        return result

    with connection.execute_wrapper(winner_after_duplicate_check):
        response = post_upload(client, dist, token)
    assert staged
    assert response.status_code == 200, response.reason_phrase
    assert File.objects.count() == 1


def test_a_refusal_stands_when_no_identical_file_won(client, project, token, race):
    # The rule that refuses is not overruled when the file that won the race
    # is another one (here another sdist of the release).
    other = make_sdist(version="1.0.0")
    race(lambda: commit_file_row(project, other, packagetype="sdist"))
    dist = make_sdist()
    response = post_upload(client, dist, token)
    assert response.status_code == 400
    assert response.reason_phrase == "Only one sdist may be uploaded per release."


def test_other_bytes_winning_the_race_refuse_the_upload(client, project, token, race):
    winner = make_wheel()
    loser = make_wheel(files={"extra.py": b"x = 1\n"})
    race(lambda: commit_file_row(project, winner))
    response = post_upload(client, loser, token)
    assert response.status_code == 400
    assert response.reason_phrase.startswith("File already exists")
    assert File.objects.get().sha256_digest == winner.sha256
    # Nothing references the loser's objects any more.
    assert not exists(path_of(loser))
    assert not exists(metadata_path(path_of(loser)))


def test_project_created_concurrently_is_joined_on_the_second_attempt(client, owner, token, race):
    def same_user_creates_project():
        project = Project.objects.create(name="sample_project", normalized_name="sample-project")
        Role.objects.create(project=project, user=owner, role_name=Role.Name.OWNER)

    race(same_user_creates_project)
    dist = make_wheel()
    response = post_upload(client, dist, token)
    assert response.status_code == 200
    project = Project.objects.get()
    assert project.name == "sample_project"
    assert File.objects.get().release.project == project
    assert list(JournalEntry.objects.values_list("action", flat=True)) == [
        "new release",
        "add py3 file sample_project-1.0-py3-none-any.whl",
    ]
    assert project.total_size == len(dist.content)
    assert exists(path_of(dist))


def test_project_created_concurrently_by_someone_else_is_refused(client, outsider, token, race):
    def stranger_creates_project():
        project = Project.objects.create(name="sample-project", normalized_name="sample-project")
        Role.objects.create(project=project, user=outsider, role_name=Role.Name.OWNER)

    race(stranger_creates_project)
    dist = make_wheel()
    response = post_upload(client, dist, token)
    assert response.status_code == 403
    assert "isn't allowed to upload to project 'sample-project'" in response.reason_phrase
    assert not File.objects.exists()
    assert not exists(path_of(dist))


def test_losing_every_attempt_is_a_409_and_nothing_is_kept(client, token, monkeypatch):
    def always_conflicts(**kwargs):
        raise IntegrityError("UNIQUE constraint failed")

    monkeypatch.setattr(publish_module, "journal_append_many", always_conflicts)
    dist = make_wheel()
    response = post_upload(client, dist, token)
    assert response.status_code == 409
    assert "A concurrent upload changed this project" in response.reason_phrase
    assert not Project.objects.exists()
    assert not exists(path_of(dist))


def test_the_commit_is_tried_at_most_twice(client, token, monkeypatch):
    attempts = []

    def always_conflicts(**kwargs):
        attempts.append(kwargs["entries"][0].action)
        raise IntegrityError("UNIQUE constraint failed")

    monkeypatch.setattr(publish_module, "journal_append_many", always_conflicts)
    post_upload(client, make_wheel(), token)
    assert attempts == ["create", "create"]


# --- what a new release leaves for the web pages ------------------------------------


def test_new_release_stores_its_rendered_description(
    client, token, django_capture_on_commit_callbacks
):
    dist = make_wheel(
        description="# Title\n\n<script>alert(1)</script>[x](javascript:alert(1))\n",
        description_content_type="text/markdown",
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post_upload(client, dist, token).status_code == 200
    release = Release.objects.get()
    assert "<h3>Title</h3>" in release.description_html
    assert "<script" not in release.description_html
    assert "javascript:" not in release.description_html
    assert release.description_renderer == RENDERER_VERSION


def test_new_release_is_found_by_search_once_committed(
    client, token, django_capture_on_commit_callbacks
):
    dist = make_wheel("findable-thing", "1.0", summary="Grinds coffee beans")
    with django_capture_on_commit_callbacks(execute=True):
        assert post_upload(client, dist, token).status_code == 200
    assert [doc.name for doc in search("coffee")] == ["findable-thing"]
    assert SearchDocument.objects.get().version == "1.0"


def test_the_search_document_is_left_to_the_step_after_the_commit(client, token):
    # Not in the upload's request: the step after the commit (or, had the
    # process died first, the worker) indexes it with the description.
    dist = make_wheel("findable-thing", "1.0", summary="Grinds coffee beans")
    assert post_upload(client, dist, token).status_code == 200
    assert not SearchDocument.objects.exists()
    assert descriptions_module.render_all_pending() == 1
    assert [doc.name for doc in search("coffee")] == ["findable-thing"]


def test_a_file_added_to_an_existing_release_keeps_its_description(
    client, token, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first, second = make_wheel(description="First *README*"), make_sdist(description="Second")
        assert post_upload(client, first, token).status_code == 200
        assert post_upload(client, second, token).status_code == 200
    assert "<em>README</em>" in Release.objects.get().description_html


def test_only_the_first_file_of_a_release_renders_its_description(
    client, token, monkeypatch, django_capture_on_commit_callbacks
):
    rendered = []
    real = descriptions_module.render_description
    monkeypatch.setattr(
        descriptions_module,
        "render_description",
        lambda *args: rendered.append(args) or real(*args),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post_upload(client, make_wheel(description="Once"), token).status_code == 200
        assert post_upload(client, make_sdist(description="Once"), token).status_code == 200
    assert rendered == [("Once", "text/markdown")]


def test_account_without_a_verified_primary_address_cannot_upload(client, owner, token):
    owner.emails.update(verified=False)
    response = post_upload(client, make_wheel(), token)
    assert response.status_code == 400
    assert response.reason_phrase.startswith(
        "User 'olivia' does not have a verified primary email address."
    )
    assert "/help/#verified-email" in response.reason_phrase
    assert not Project.objects.exists()


def test_token_uploads_need_2fa_when_the_setting_says_so(client, owner, token, settings):
    settings.REQUIRE_2FA_TO_UPLOAD = True
    response = post_upload(client, make_wheel(), token)
    assert response.status_code == 403
    assert response.reason_phrase.startswith(
        "User 'olivia' cannot upload because two-factor authentication is not enabled"
    )
    assert "/help/#two-factor" in response.reason_phrase
    assert not Project.objects.exists()

    owner.totp_secret = "JBSWY3DPEHPK3PXP"
    owner.save(update_fields=["totp_secret"])
    assert post_upload(client, make_wheel(), token).status_code == 200


def test_without_the_setting_uploads_need_no_2fa(client, owner, token, settings):
    settings.REQUIRE_2FA_TO_UPLOAD = False
    assert post_upload(client, make_wheel(), token).status_code == 200


def test_uploads_are_in_the_project_and_account_security_history(client, owner, token):
    wheel, sdist = make_wheel(), make_sdist()
    data = {**wheel.form(), "content": SimpleUploadedFile(wheel.filename, wheel.content)}
    response = client.post(
        "/legacy/", data, HTTP_AUTHORIZATION=basic(token), HTTP_USER_AGENT="twine/6.1.0"
    )
    assert response.status_code == 200
    assert post_upload(client, sdist, token).status_code == 200
    project = Project.objects.get()
    prefix = "pypi-" + ApiToken.objects.get().lookup_id
    history = [
        (event.tag, event.actor, event.ip_address, event.details)
        for event in Event.objects.filter(project=project).order_by("id")
    ]
    assert history == [
        ("project:created", owner, "127.0.0.1", {"role": "Owner"}),
        ("project:release:created", owner, "127.0.0.1", {"version": "1.0"}),
        (
            "project:file:uploaded",
            owner,
            "127.0.0.1",
            {"version": "1.0", "filename": wheel.filename, "token": prefix},
        ),
        (
            "project:file:uploaded",
            owner,
            "127.0.0.1",
            {"version": "1.0", "filename": sdist.filename, "token": prefix},
        ),
    ]
    used = list(Event.objects.filter(user=owner, tag="account:token:used").order_by("id"))
    assert [event.details["filename"] for event in used] == [wheel.filename, sdist.filename]
    assert used[0].details["uploaded_to"] == project.name
    assert used[0].details["token"] == prefix
    assert used[0].project is None
    assert Event.objects.get(tag="project:created").user_agent == "twine/6.1.0"


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("Asyncio", "it is the name of a module of Python's standard library"),
        ("Samp1e.Project", "is too similar to an existing project, 'Sample.Project'"),
        ("sampleproject", "is too similar to an existing project, 'Sample.Project'"),
    ],
)
def test_new_project_names_are_checked_by_the_moderation_rules(client, project, token, name, says):
    response = post_upload(client, make_wheel(name), token)
    assert response.status_code == 400
    assert says in response.reason_phrase
    assert "/help/#project-name" in response.reason_phrase
    assert not Project.objects.exclude(pk=project.pk).exists()


def test_a_name_one_edit_from_a_popular_project_is_accepted_and_queued(
    client, owner, token, settings
):
    from datetime import date

    from moderation.models import NameReview
    from packages.models import DownloadCount

    popular = Project.objects.create(name="requests", normalized_name="requests")
    release = Release.objects.create(
        project=popular, version="2.0", canonical_version="2", metadata_version="2.1"
    )
    file = commit_file_row(popular, make_wheel("requests", "2.0"))
    file.release = release
    file.save()
    DownloadCount.objects.create(file=file, project=popular, day=date.today(), count=1000)
    assert post_upload(client, make_wheel("reqeusts"), token).status_code == 200
    review = NameReview.objects.get()
    assert (review.project_name, review.similar_to, review.status) == (
        "reqeusts",
        "requests",
        "pending",
    )
    assert review.project == Project.objects.get(normalized_name="reqeusts")


# --- identical bytes under concurrency (PostgreSQL) -----------------------------------


def _upload_at_once(dist: Dist, secret: str, threads: int) -> list[tuple[int, str]]:
    """``threads`` clients, each on its own database connection, POST ``dist``
    at the same moment; their (status, reason) answers."""
    start = threading.Barrier(threads)
    answers: list[tuple[int, str]] = []

    def uploader():
        try:
            client = Client()
            start.wait()
            response = post_upload(client, dist, secret)
            answers.append((response.status_code, response.reason_phrase))
        finally:
            connections.close_all()

    workers = [threading.Thread(target=uploader) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    return answers


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("make", [make_wheel, make_sdist], ids=["wheel", "sdist"])
def test_identical_bytes_uploaded_at_once_all_succeed(owner, make):
    # Would catch: a loser refused with "This filename has already been used"
    # (the duplicate check read the File rows, the winner committed, then it
    # read the registry), or with "Only one sdist may be uploaded per release"
    # (the winner's sdist counted against its own bytes).
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: tests/e2e/test_identical_uploads.py")
    secret = api_token_create(user=owner).secret
    # The first round also races the project's creation; the others join it.
    for round_ in range(8):
        dist = make("same-bytes", f"1.{round_}")
        answers = _upload_at_once(dist, secret, threads=8)
        assert answers == [(200, "OK")] * 8, (round_, answers)
        assert File.objects.filter(filename=dist.filename).count() == 1
    project = Project.objects.get(normalized_name="same-bytes")
    assert project.total_size == sum(File.objects.values_list("size", flat=True))
