"""packages.importing: distributions from a directory tree or another index,
each through the upload's pipeline, as an upload of it by the owner would be."""

import os
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone
from tqdm import tqdm

from accounts import flags
from accounts.events import Actor
from accounts.models import AdminFlag, Event, User
from accounts.tokens import api_token_create
from packages import importing
from packages.models import File, FileRegistry, JournalEntry, Project, Release, Role
from packages.storage import files_storage, metadata_path
from tests.conftest import verified_user
from tests.factories import core_metadata, make_sdist, make_wheel, path_of, post_upload
from tests.upstream_server import StaticIndex, dist

pytestmark = pytest.mark.django_db


def write(directory, *dists):
    """``dists`` as files in ``directory``, which must not be tmp_path itself
    (it holds the test's file store)."""
    directory.mkdir(parents=True, exist_ok=True)
    for item in dists:
        (directory / item.filename).write_bytes(item.content)
    return directory


def new_run(owner, notes=None):
    return importing.Run(
        actor=Actor.shell(owner),
        progress=tqdm(disable=True),
        note=(notes.append if notes is not None else lambda line: None),
    )


def import_paths(owner, *paths, notes=None, **kwargs):
    return importing.paths_import(new_run(owner, notes), paths, **kwargs)


def import_index(owner, url, projects=(), notes=None):
    return importing.index_import(new_run(owner, notes), importing.index_client(url), projects)


def journal(name: str) -> list[tuple[str, str, str, str | None]]:
    return list(
        JournalEntry.objects.filter(name=name).values_list(
            "action", "version", "filename", "submitted_by__username"
        )
    )


def row(file: File) -> dict:
    return {
        key: getattr(file, key)
        for key in (
            "filename",
            "packagetype",
            "python_version",
            "size",
            "md5_digest",
            "sha256_digest",
            "blake2_256_digest",
            "path",
            "metadata_sha256_digest",
            "metadata_blake2_256_digest",
        )
    }


RICH_METADATA = core_metadata(
    "twin",
    "1.0",
    metadata_version="2.4",
    requires_python=">=3.9",
    requires_dist=("requests>=2", "rich; extra == 'cli'"),
    extra_headers=(
        ("Provides-Extra", "cli"),
        ("Classifier", "Programming Language :: Python :: 3"),
        ("Classifier", "License :: OSI Approved :: MIT License"),
        ("Keywords", "alpha,beta"),
        ("Project-URL", "Source, https://example.com/src"),
        ("Project-URL", "Docs, https://example.com/docs"),
        ("Platform", "any"),
        ("License-Expression", "MIT"),
        ("License-File", "LICENSE"),
        ("Author-email", "Ann <ann@example.com>"),
        ("Home-page", "https://example.com"),
    ),
)


# --- as an upload ------------------------------------------------------------------------


def test_an_imported_file_leaves_what_its_upload_leaves(tmp_path, owner):
    """The same wheel, uploaded with twine's fields to one index and imported
    into another: the same file row, stored objects, release and journal."""
    wheel = make_wheel("twin", metadata=RICH_METADATA)
    response = post_upload(
        Client(),
        wheel,
        api_token_create(user=owner).secret,
        # twine sends every Project-URL (the factories' fields keep the last).
        project_url=None,
        project_urls=["Source, https://example.com/src", "Docs, https://example.com/docs"],
    )
    assert response.status_code == 200, response.content
    uploaded = File.objects.select_related("release").get()
    expected_file = row(uploaded)
    expected_release = Release.objects.filter(pk=uploaded.release_id).values().get()
    expected_journal = journal("twin")
    metadata_bytes = files_storage().open(metadata_path(uploaded.path)).read()
    Project.objects.all().delete()
    FileRegistry.objects.all().delete()  # a filename stays registered: let it go too
    JournalEntry.objects.all().delete()
    files_storage().delete(uploaded.path)
    files_storage().delete(metadata_path(uploaded.path))

    tally = import_paths(owner, write(tmp_path / "in", wheel))

    assert (tally.imported, tally.already_there, tally.refused) == (1, 0, [])
    imported = File.objects.get()
    assert row(imported) == expected_file
    assert files_storage().open(imported.path).read() == wheel.content
    assert files_storage().open(metadata_path(imported.path)).read() == metadata_bytes
    release = Release.objects.filter(pk=imported.release_id).values().get()
    for key in ("id", "project_id", "created_at"):
        release.pop(key), expected_release.pop(key)
    assert release == expected_release
    assert release["project_urls"] == [
        ["Source", "https://example.com/src"],
        ["Docs", "https://example.com/docs"],
    ]
    assert release["keywords"] == "alpha, beta"
    assert journal("twin") == expected_journal
    assert Role.objects.get(project__name="twin").user == owner
    assert Role.objects.get(project__name="twin").role_name == Role.Name.OWNER


def test_the_shell_uploads_without_a_token(tmp_path, owner):
    import_paths(owner, write(tmp_path / "in", make_wheel("solo")))
    tags = list(Event.objects.values_list("tag", flat=True))
    assert "project:file:uploaded" in tags
    assert "account:token:used" not in tags  # no token was used
    uploaded = Event.objects.get(tag="project:file:uploaded")
    assert uploaded.details["token"] is None
    assert JournalEntry.objects.filter(name="solo").first().submitted_by == owner


# --- a directory --------------------------------------------------------------------------


def test_a_directory_tree_is_imported_and_a_second_run_changes_nothing(tmp_path, owner):
    tree = tmp_path / "packages"
    write(tree / "alpha", make_wheel("alpha", "1.0"), make_sdist("alpha", "1.0"))
    write(tree / "beta", make_wheel("beta", "2.0"))
    (tree / "beta" / "README.txt").write_text("not a distribution")
    (tree / "alpha" / "alpha-1.0.tar.gz.asc").write_text("a signature")
    notes = []

    first = import_paths(owner, tree, notes=notes)

    assert (first.imported, first.already_there, first.refused) == (3, 0, [])
    assert sorted(File.objects.values_list("filename", flat=True)) == [
        "alpha-1.0-py3-none-any.whl",
        "alpha-1.0.tar.gz",
        "beta-2.0-py3-none-any.whl",
    ]
    assert f"{tree / 'beta' / 'README.txt'}: skipped, not a wheel or an sdist" in notes
    assert f"{tree / 'alpha' / 'alpha-1.0.tar.gz.asc'}: skipped, not a wheel or an sdist" in notes
    serial = JournalEntry.objects.order_by("-id").first().id
    events = Event.objects.count()

    second = import_paths(owner, tree)

    assert (second.imported, second.already_there, second.refused) == (0, 3, [])
    assert JournalEntry.objects.order_by("-id").first().id == serial
    assert Event.objects.count() == events


def test_single_files_are_imported_too(tmp_path, owner):
    wheel = make_wheel("single")
    write(tmp_path / "in", wheel)
    tally = import_paths(owner, tmp_path / "in" / wheel.filename)
    assert tally.imported == 1
    assert File.objects.get().sha256_digest == wheel.sha256


def test_a_bad_file_is_refused_with_its_reason_and_the_rest_imported(tmp_path, owner):
    good = make_wheel("good")
    write(tmp_path / "in", good)
    (tmp_path / "in" / "broken-1.0-py3-none-any.whl").write_bytes(b"this is no zip archive")
    tally = import_paths(owner, tmp_path / "in")
    assert tally.imported == 1
    [(filename, reason)] = tally.refused
    assert filename == "broken-1.0-py3-none-any.whl"
    assert "zip" in reason.lower()
    assert not File.objects.filter(filename=filename).exists()


def test_a_file_the_uploads_checks_refuse_is_refused(tmp_path, owner):
    bad = make_wheel(
        "classy", extra_headers=(("Classifier", "Programming Language :: Cobol :: 99"),)
    )
    tally = import_paths(owner, write(tmp_path / "in", bad))
    assert tally.refused == [
        (
            bad.filename,
            "Invalid value for classifiers. Error: Classifier 'Programming Language :: Cobol "
            ":: 99' is not a valid classifier. See /help/#classifiers for more information.",
        )
    ]
    assert not Project.objects.exists()


def test_a_name_in_the_file_that_disagrees_with_its_filename_is_refused(tmp_path, owner):
    wheel = make_wheel("named", metadata=core_metadata("other-name", "1.0"))
    [(_, reason)] = import_paths(owner, write(tmp_path / "in", wheel)).refused
    assert "other-name" in reason


def test_metadata_twine_could_not_read_is_refused(tmp_path, owner):
    wheel = make_wheel("oddity", extra_headers=(("X-Made-Up", "1"),))
    [(_, reason)] = import_paths(owner, write(tmp_path / "in", wheel)).refused
    assert reason == (
        "The METADATA in the wheel has fields that can't be read: 'x-made-up' (unknown, "
        "repeated or not UTF-8). Fix the metadata and build the file again."
    )


def test_an_sdist_without_pkg_info_is_refused(tmp_path, owner):
    sdist = make_sdist("hollow", include_pkg_info=False)
    [(_, reason)] = import_paths(owner, write(tmp_path / "in", sdist)).refused
    assert "PKG-INFO" in reason


def test_the_same_filename_with_other_bytes_is_refused(tmp_path, owner):
    import_paths(owner, write(tmp_path / "one", make_wheel("clash", summary="first")))
    other = make_wheel("clash", summary="second")
    tally = import_paths(owner, write(tmp_path / "two", other))
    [(filename, reason)] = tally.refused
    assert filename == other.filename
    assert reason.startswith("File already exists")
    assert File.objects.get().release.summary == "first"


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path, owner, settings):
    settings.UPLOAD_MAX_BYTES = 1000
    big = make_wheel("bulky", files={"bulky/data.bin": os.urandom(4000)})
    [(_, reason)] = import_paths(owner, write(tmp_path / "in", big)).refused
    assert reason == (
        "File too large. The limit for the largest project is 1000 bytes. "
        "See /help/#file-size-limit for more information."
    )


def test_an_unreadable_file_is_refused(tmp_path, owner):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "gone-1.0-py3-none-any.whl").symlink_to(tmp_path / "nowhere")
    [(filename, reason)] = import_paths(owner, tmp_path / "in").refused
    assert filename == "gone-1.0-py3-none-any.whl"
    assert reason.startswith("Could not be read: [Errno 2] No such file or directory")
    # Its time can't be read either.
    [(_, reason)] = import_paths(owner, tmp_path / "in", upload_time_from_mtime=True).refused
    assert reason.startswith("Could not be read: [Errno 2]")


def test_a_name_with_a_path_or_control_characters_is_refused(owner):
    for filename in ("a/b-1.0.tar.gz", "a\\b-1.0.tar.gz", "a\x01b-1.0.tar.gz"):
        source = importing.Source(filename=filename, fill=lambda into, limit: None)
        with pytest.raises(importing.UploadError, match="control characters in the name"):
            importing.file_import(source, actor=Actor.shell(owner))


# --- upload times -------------------------------------------------------------------------


def test_upload_times_are_the_import_time_unless_the_mtime_is_asked_for(tmp_path, owner):
    old = make_wheel("aged", "1.0")
    write(tmp_path / "old", old)
    then = datetime(2021, 5, 6, 7, 8, 9, tzinfo=UTC)
    os.utime(tmp_path / "old" / old.filename, (then.timestamp(), then.timestamp()))
    before = timezone.now()
    import_paths(owner, tmp_path / "old")
    assert File.objects.get().upload_time >= before

    newer = make_wheel("aged", "2.0")
    write(tmp_path / "new", newer)
    os.utime(tmp_path / "new" / newer.filename, (then.timestamp(), then.timestamp()))
    import_paths(owner, tmp_path / "new", upload_time_from_mtime=True)
    file = File.objects.get(filename=newer.filename)
    assert file.upload_time == then
    assert file.release.created_at == then  # a release is as old as its first file


# --- owners -------------------------------------------------------------------------------


def test_an_existing_project_needs_a_role_of_the_owner(tmp_path, project, owner, outsider):
    wheel = make_wheel("Sample.Project", "3.0")
    tally = import_paths(outsider, write(tmp_path / "in", wheel))
    assert tally.refused == [
        (
            wheel.filename,
            "The user 'oscar' isn't allowed to upload to project 'Sample.Project'. "
            "See /help/#project-name for more information.",
        )
    ]
    assert import_paths(owner, tmp_path / "in").imported == 1
    assert File.objects.get().uploader == owner


def test_a_maintainer_may_import_into_an_existing_project(tmp_path, project, maintainer):
    assert (
        import_paths(maintainer, write(tmp_path / "in", make_wheel("Sample.Project"))).imported == 1
    )


def test_a_file_already_there_is_not_refused_to_someone_without_a_role(
    tmp_path, project, owner, outsider
):
    write(tmp_path / "in", make_wheel("Sample.Project", "3.0"))
    import_paths(owner, tmp_path / "in")
    tally = import_paths(outsider, tmp_path / "in")
    assert (tally.already_there, tally.refused) == (1, [])


def test_an_owner_without_a_verified_address_is_refused(tmp_path, db):
    unverified = User.objects.create_user("uma", "uma@example.com", "pw")
    [(_, reason)] = import_paths(unverified, write(tmp_path / "in", make_wheel("fresh"))).refused
    assert "does not have a verified primary email address" in reason


def test_the_kill_switches_hold_for_the_import_too(tmp_path, project, owner):
    AdminFlag.objects.filter(pk=flags.DISALLOW_NEW_PROJECT_REGISTRATION).update(enabled=True)
    existing, new = make_wheel("Sample.Project", "4.0"), make_wheel("brand-new")
    tally = import_paths(owner, write(tmp_path / "in", existing, new))
    assert tally.imported == 1
    assert tally.refused == [(new.filename, flags.NEW_PROJECT_DISABLED)]
    AdminFlag.objects.filter(pk=flags.READ_ONLY).update(enabled=True)
    write(tmp_path / "in", make_wheel("Sample.Project", "5.0"))
    tally = import_paths(owner, tmp_path / "in")
    # Read-only: what is here already is still "already there"; nothing new gets in.
    assert tally.already_there == 1
    assert [reason for _, reason in tally.refused] == [flags.UPLOAD_READ_ONLY] * 2


# --- rate limits --------------------------------------------------------------------------


def test_the_import_is_not_held_to_the_project_creation_rate(
    tmp_path, owner, settings, django_capture_on_commit_callbacks
):
    settings.RATELIMITS = {**settings.RATELIMITS, "project-create": (1, 3600)}
    incoming = write(tmp_path / "in", *(make_wheel(name) for name in ("one", "two", "three")))
    with django_capture_on_commit_callbacks(execute=True):
        assert import_paths(owner, incoming).imported == 3
    # Nor counted against the owner's own uploads: the web still allows one.
    secret = api_token_create(user=owner).secret
    with django_capture_on_commit_callbacks(execute=True):
        assert post_upload(Client(), make_wheel("four"), secret).status_code == 200
    assert post_upload(Client(), make_wheel("five"), secret).status_code == 429


# --- another index --------------------------------------------------------------------------


@pytest.fixture
def index():
    with StaticIndex() as served:
        yield served


def served(item, **kwargs):
    return dist(item.filename, item.content, **kwargs)


def test_an_index_is_copied_with_its_upload_times_and_yanks(index, owner):
    then = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    gone = make_wheel("alpha", "0.9")
    half = [make_wheel("alpha", "1.0"), make_sdist("alpha", "1.0")]
    index.publish(
        "alpha",
        [
            served(gone, upload_time=then, yanked="broken build"),
            served(half[0], upload_time=then + timedelta(days=1), yanked=True),
            served(half[1], upload_time=then + timedelta(days=2)),
        ],
    )
    index.publish("beta", [served(make_sdist("beta", "2.0"), upload_time=then)])
    notes = []

    tally = import_index(owner, index.simple_url, notes=notes)

    assert (tally.imported, tally.already_there, tally.refused) == (4, 0, [])
    assert File.objects.get(filename=gone.filename).upload_time == then
    assert Release.objects.get(version="0.9").created_at == then
    assert Release.objects.get(version="1.0").created_at == then + timedelta(days=1)
    assert Release.objects.values_list("version", "yanked", "yanked_reason").order_by("version")[
        ::1
    ] == [("0.9", True, "broken build"), ("1.0", False, ""), ("2.0", False, "")]
    assert "alpha 0.9: yanked, as at the source" in notes
    assert (
        "alpha 1.0: only some of its files are yanked at the source; the release is not "
        "yanked here." in notes
    )
    serial = JournalEntry.objects.order_by("-id").first().id
    downloads = sum(1 for path, _headers in index.requests if path.startswith("/files/"))

    again = import_index(owner, index.simple_url)

    assert (again.imported, again.already_there, again.refused) == (0, 4, [])
    assert JournalEntry.objects.order_by("-id").first().id == serial
    # Known by the sha256 its index announces: nothing is downloaded again.
    assert downloads == sum(1 for path, _ in index.requests if path.startswith("/files/"))


def test_only_the_named_projects_are_copied(index, owner):
    index.publish("alpha", [served(make_wheel("alpha"))])
    index.publish("beta", [served(make_wheel("beta"))])
    tally = import_index(owner, index.simple_url, ["Beta", "missing", "../etc"])
    assert tally.imported == 1
    assert list(Project.objects.values_list("name", flat=True)) == ["beta"]
    assert tally.refused == [
        ("missing", f"The index {index.simple_url} has no project 'missing'."),
        ("../etc", "Not a valid project name."),
    ]


def test_a_file_whose_bytes_differ_from_the_announced_sha256_is_refused(index, owner):
    wheel = make_wheel("liar")
    index.publish("liar", [served(wheel, announced_sha256="0" * 64)])
    [(filename, reason)] = import_index(owner, index.simple_url).refused
    assert filename == wheel.filename
    assert reason.startswith("Could not be read: ")
    assert "refused" in reason
    assert not File.objects.exists()


def test_a_release_refused_at_the_upload_checks_is_not_yanked_here(index, owner):
    bad = make_wheel("odd", extra_headers=(("Classifier", "Not :: A :: Classifier"),))
    index.publish("odd", [served(bad, yanked=True)])
    tally = import_index(owner, index.simple_url)
    assert [filename for filename, _reason in tally.refused] == [bad.filename]
    assert not Release.objects.exists()


def test_an_unreachable_index_is_one_refusal(index, owner):
    index.fail_with = 500
    tally = import_index(owner, index.simple_url)
    [(name, reason)] = tally.refused
    assert name == index.simple_url
    assert "500" in reason
    tally = import_index(owner, index.simple_url, ["alpha"])
    [(name, reason)] = tally.refused
    assert name == "alpha"
    assert "500" in reason


def test_an_html_only_index_is_copied_too_at_the_import_time(owner):
    wheel = make_wheel("plain")
    with StaticIndex(json_pages=False) as index:
        index.publish("plain", [served(wheel, upload_time=datetime(2020, 1, 1, tzinfo=UTC))])
        before = timezone.now()
        assert import_index(owner, index.simple_url).imported == 1
    assert File.objects.get().upload_time >= before  # HTML pages give no time


def test_a_directory_and_an_index_of_the_same_files_give_the_same_rows(tmp_path, index):
    dists = [make_wheel("same", "1.0"), make_sdist("same", "1.0"), make_wheel("same", "1.1")]
    index.publish("same", [served(item) for item in dists])
    imported = {}
    for source in ("directory", "index"):
        owner = verified_user(f"owner-{source}")
        if source == "directory":
            tally = import_paths(owner, write(tmp_path / "in", *dists))
        else:
            Project.objects.all().delete()
            FileRegistry.objects.all().delete()
            tally = import_index(owner, index.simple_url)
        assert tally.imported == 3
        imported[source] = sorted(
            (file.filename, file.sha256_digest, file.path, file.metadata_sha256_digest)
            for file in File.objects.all()
        )
    assert imported["directory"] == imported["index"]
    assert {filename for filename, *_ in imported["index"]} == {d.filename for d in dists}
    assert all(files_storage().exists(path_of(item)) for item in dists)
