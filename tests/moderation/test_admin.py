"""The admin as moderators use it: through its own URLs, with real rows."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.events import Actor
from accounts.models import (
    AdminFlag,
    ApiToken,
    Email,
    Event,
    RecoveryCode,
    User,
    WebAuthnCredential,
)
from accounts.tokens import api_token_create
from moderation.models import MalwareReport, ModerationAction, NameReview, ProhibitedName
from packages.models import (
    Classifier,
    DownloadCount,
    File,
    FileRegistry,
    JournalEntry,
    Project,
    Release,
    Role,
    RoleInvitation,
    SearchDocument,
    UpstreamBlock,
    UpstreamProject,
)
from tests.factories import add_file, make_release, make_sdist, make_wheel

pytestmark = pytest.mark.django_db

ALL_MODELS = [
    Project,
    Release,
    File,
    Role,
    RoleInvitation,
    FileRegistry,
    JournalEntry,
    Classifier,
    SearchDocument,
    DownloadCount,
    User,
    Email,
    Event,
    ApiToken,
    WebAuthnCredential,
    RecoveryCode,
    ProhibitedName,
    MalwareReport,
    NameReview,
    ModerationAction,
    AdminFlag,
    UpstreamProject,
    UpstreamBlock,
]


def url(model, view="changelist", *args):
    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


def act(client, model, action, objects, **form):
    """The two POSTs of an action: the changelist's, then the confirmation's."""
    ids = [obj.pk for obj in objects]
    first = client.post(url(model), {"action": action, "index": 0, ACTION_CHECKBOX_NAME: ids})
    assert first.status_code == 200, first
    assert b'name="reason"' in first.content
    if not form:
        return first
    return client.post(
        url(model), {"action": action, ACTION_CHECKBOX_NAME: ids, "confirm": "yes", **form}
    )


@pytest.fixture
def rows(project, owner, outsider):
    release = make_release(project, "1.0")
    wheel = add_file(release, make_wheel(), store=False)
    report = MalwareReport.objects.create(
        project=project,
        project_name=project.name,
        reporter=outsider,
        reason="malware",
        details="steals tokens",
    )
    return {"release": release, "file": wheel, "report": report}


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_moderator_sees_every_changelist(mod_client, rows, model):
    response = mod_client.get(url(model))
    assert response.status_code == 200


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_staff_without_the_group_is_refused(client, staff, rows, model):
    client.force_login(staff)
    assert client.get(url(model)).status_code == 403


def test_staff_without_the_group_sees_no_models_and_cannot_act(client, staff, rows, project):
    client.force_login(staff)
    index = client.get(reverse("admin:index"))
    assert b"Projects" not in index.content
    response = client.post(
        url(Project),
        {
            "action": "quarantine",
            ACTION_CHECKBOX_NAME: [project.pk],
            "confirm": "yes",
            "reason": "x",
        },
    )
    assert response.status_code == 403
    project.refresh_from_db()
    assert project.quarantined_at is None


def test_project_changelist_search_and_filter(mod_client, project):
    Project.objects.create(name="other", normalized_name="other", quarantined_at=timezone.now())
    response = mod_client.get(url(Project), {"q": "Sample_Proj"})
    assert list(response.context["cl"].result_list) == [project]
    response = mod_client.get(url(Project), {"quarantined": "yes"})
    assert [p.name for p in response.context["cl"].result_list] == ["other"]
    response = mod_client.get(url(Project), {"quarantined": "no"})
    assert list(response.context["cl"].result_list) == [project]
    response = mod_client.get(url(Project), {"q": " "})
    assert len(response.context["cl"].result_list) == 2


def test_project_change_page_is_read_only_with_links(mod_client, project, rows):
    page = mod_client.get(url(Project, "change", project.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="name"' not in html  # no editable field
    for link in [
        f"{url(Release)}?project__id__exact={project.pk}",
        f"{url(File)}?release__project__id__exact={project.pk}",
        f"{url(MalwareReport)}?project__id__exact={project.pk}",
        f"{url(Event)}?project__id__exact={project.pk}",
        f"{url(JournalEntry)}?name__exact={project.name}",
    ]:
        assert link in html
    assert "olivia" in html  # the roles inline
    assert page.context["has_change_permission"] is False
    # A POST is refused: the form has nothing to change.
    response = mod_client.post(url(Project, "change", project.pk), {"name": "Renamed"})
    assert response.status_code == 403
    project.refresh_from_db()
    assert project.name == "Sample.Project"


def test_project_change_page_lists_the_journal(mod_client, project):
    from django.db import transaction

    from accounts.events import SYSTEM
    from packages.journal import journal_append

    with transaction.atomic():
        journal_append(project=project, action="create", actor=SYSTEM)
    html = mod_client.get(url(Project, "change", project.pk)).content.decode()
    assert "create" in html and "latest journal entries" in html.lower()


def test_related_changelists_follow_the_links(mod_client, project, rows):
    response = mod_client.get(url(File), {"release__project__id__exact": project.pk})
    assert list(response.context["cl"].result_list) == [rows["file"]]
    response = mod_client.get(url(Release), {"project__id__exact": project.pk})
    assert list(response.context["cl"].result_list) == [rows["release"]]


def test_quarantine_action_with_its_confirmation_page(mod_client, project, moderator):
    page = act(mod_client, Project, "quarantine", [project])
    assert b"Sample.Project" in page.content
    assert b"Quarantine project" in page.content
    project.refresh_from_db()
    assert project.quarantined_at is None  # nothing happens before the confirmation
    # Without a reason the page comes back with the error.
    response = mod_client.post(
        url(Project),
        {"action": "quarantine", ACTION_CHECKBOX_NAME: [project.pk], "confirm": "yes"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    response = act(mod_client, Project, "quarantine", [project], reason="malware in setup.py")
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.quarantine_reason == "malware in setup.py"
    action = ModerationAction.objects.get()
    assert (action.moderator, action.action) == (moderator, "quarantine project")


def test_an_action_refused_by_the_service_is_reported(mod_client, project):
    response = act(mod_client, Project, "release_quarantine", [project], reason="x")
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Sample.Project: Project Sample.Project is not quarantined."]


def test_release_quarantine_remove_and_limits_actions(mod_client, project):
    act(mod_client, Project, "quarantine", [project], reason="a")
    act(mod_client, Project, "release_quarantine", [project], reason="b")
    project.refresh_from_db()
    assert project.quarantined_at is None
    act(
        mod_client,
        Project,
        "set_limits",
        [project],
        reason="big",
        upload_limit="200000000",
        total_size_limit="",
    )
    project.refresh_from_db()
    assert (project.upload_limit, project.total_size_limit) == (200_000_000, None)
    act(mod_client, Project, "remove", [project], reason="spam", prohibit_name="on")
    assert not Project.objects.exists()
    assert ProhibitedName.objects.filter(normalized_name="sample-project").exists()


def test_release_actions(mod_client, project, rows):
    release = rows["release"]
    act(mod_client, Release, "yank", [release], reason="broken")
    release.refresh_from_db()
    assert release.yanked and release.yanked_reason == "broken"
    act(mod_client, Release, "unyank", [release], reason="fixed")
    release.refresh_from_db()
    assert not release.yanked
    act(mod_client, Release, "delete", [release], reason="malware")
    assert not Release.objects.exists()


def test_release_search_and_pages(mod_client, project, rows):
    make_release(project, "2.0")
    response = mod_client.get(url(Release), {"q": "sample.project 1.0"})
    assert list(response.context["cl"].result_list) == [rows["release"]]
    response = mod_client.get(url(Release), {"q": "Sample_Project"})
    assert len(response.context["cl"].result_list) == 2
    response = mod_client.get(url(Release), {"q": ""})
    assert len(response.context["cl"].result_list) == 2
    page = mod_client.get(url(Release, "change", rows["release"].pk))
    assert rows["file"].filename in page.content.decode()
    assert page.context["has_change_permission"] is False


def test_file_search_by_filename_and_digest(mod_client, project, rows):
    sdist = add_file(rows["release"], make_sdist(), store=False)
    cl = lambda q: list(mod_client.get(url(File), {"q": q}).context["cl"].result_list)  # noqa: E731
    assert cl("sample_project-1.0.tar") == [sdist]
    assert cl(rows["file"].sha256_digest.upper()) == [rows["file"]]
    assert cl(sdist.blake2_256_digest) == [sdist]
    assert len(cl("")) == 2
    page = mod_client.get(url(File, "change", sdist.pk))
    html = page.content.decode()
    assert sdist.sha256_digest in html
    assert 'name="sha256_digest"' not in html


def test_file_delete_action(mod_client, project, rows):
    act(mod_client, File, "delete", [rows["file"]], reason="malware")
    assert not File.objects.exists()


def test_view_on_site_links(mod_client, project, rows):
    page = mod_client.get(url(Project, "change", project.pk))
    assert 'href="/project/sample-project/"' in page.content.decode()
    page = mod_client.get(url(Release, "change", rows["release"].pk))
    assert 'href="/project/sample-project/1.0/"' in page.content.decode()


# --- accounts -----------------------------------------------------------------------------


def test_freeze_and_unfreeze_from_the_user_admin(mod_client, owner):
    act(mod_client, User, "freeze", [owner], reason="uploads malware")
    owner.refresh_from_db()
    assert owner.is_frozen
    response = mod_client.get(url(User), {"is_frozen__exact": "1"})
    assert list(response.context["cl"].result_list) == [owner]
    act(mod_client, User, "unfreeze", [owner], reason="appeal")
    owner.refresh_from_db()
    assert not owner.is_frozen


MOD_IP, MOD_AGENT = "198.51.100.7", "mod-browser/1"


@pytest.fixture
def mod_browser(mod_client):
    """The moderators' console as a moderator's browser reaches it."""
    mod_client.defaults.update(REMOTE_ADDR=MOD_IP, HTTP_USER_AGENT=MOD_AGENT)
    return mod_client


def test_a_freeze_in_the_admin_records_the_moderators_address(mod_browser, moderator, owner):
    act(mod_browser, User, "freeze", [owner], reason="uploads malware")
    event = Event.objects.get(tag="account:frozen")
    assert (event.user, event.actor) == (owner, moderator)
    assert (event.ip_address, event.user_agent) == (MOD_IP, MOD_AGENT)


def test_a_yank_in_the_admin_records_the_moderators_address(mod_browser, moderator, rows):
    act(mod_browser, Release, "yank", [rows["release"]], reason="broken")
    event = Event.objects.get(tag="project:release:yanked")
    assert (event.actor, event.ip_address, event.user_agent) == (moderator, MOD_IP, MOD_AGENT)
    entry = JournalEntry.objects.get(action="yank release")
    assert (entry.submitted_by, entry.ip_address) == (moderator, MOD_IP)


def test_a_quarantine_in_the_admin_journals_the_moderators_address(mod_browser, moderator, project):
    act(mod_browser, Project, "quarantine", [project], reason="malware")
    entry = JournalEntry.objects.get(action="quarantine project")
    assert (entry.submitted_by, entry.ip_address) == (moderator, MOD_IP)


def test_moderator_views_users_read_only_and_cannot_add(mod_client, owner):
    page = mod_client.get(url(User, "change", owner.pk))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="username"' not in html
    assert "md5$" not in html  # no password hash, even read-only
    assert "olivia@example.com" in html
    assert mod_client.get(url(User, "add")).status_code == 403
    response = mod_client.post(url(User, "change", owner.pk), {"is_superuser": "on"})
    assert response.status_code == 403
    owner.refresh_from_db()
    assert not owner.is_superuser
    password_url = url(User, "change", owner.pk).replace("/change/", "/password/")
    assert mod_client.get(password_url).status_code == 403


def test_user_search(mod_client, owner, outsider):
    response = mod_client.get(url(User), {"q": "oliv"})
    assert list(response.context["cl"].result_list) == [owner]


def test_superuser_edits_users(client, admin_user, owner):
    client.force_login(admin_user)
    page = client.get(url(User, "change", owner.pk))
    assert 'name="username"' in page.content.decode()
    assert client.get(url(User, "add")).status_code == 200


def test_tokens_are_read_only_for_moderators(mod_client, owner):
    token = api_token_create(user=owner, description="ci").token
    response = mod_client.get(url(ApiToken))
    assert f"pypi-{token.lookup_id}" in response.content.decode()
    page = mod_client.get(url(ApiToken, "change", token.pk))
    assert 'name="description"' not in page.content.decode()
    assert token.secret_digest not in page.content.decode()
    mod_client.post(url(ApiToken, "change", token.pk), {"description": "hacked"})
    token.refresh_from_db()
    assert token.description == "ci"


def test_event_filter(mod_client, owner):
    Event.objects.create(tag="account:login:success", user=owner)
    Event.objects.create(tag="account:token:created", user=owner)
    response = mod_client.get(url(Event), {"kind": "account:login", "q": "olivia"})
    assert [e.tag for e in response.context["cl"].result_list] == ["account:login:success"]
    response = mod_client.get(url(Event), {"kind": "bogus"})
    assert response.status_code == 200


# --- moderation ----------------------------------------------------------------------------


def test_report_queue_filters_and_actions(mod_client, project, rows, owner):
    other = MalwareReport.objects.create(
        project=project, project_name=project.name, reporter=owner, reason="spam", details="x"
    )
    response = mod_client.get(url(MalwareReport), {"status__exact": "new", "reason": "spam"})
    assert list(response.context["cl"].result_list) == [other]
    act(mod_client, MalwareReport, "dismiss", [other], reason="not spam")
    act(mod_client, MalwareReport, "confirm", [rows["report"]], reason="seen it")
    other.refresh_from_db()
    rows["report"].refresh_from_db()
    assert (other.status, rows["report"].status) == ("dismissed", "confirmed")


def test_quarantine_from_the_report_list(mod_client, project, rows):
    act(mod_client, MalwareReport, "quarantine", [rows["report"]], reason="confirmed")
    project.refresh_from_db()
    assert project.quarantined_at is not None


def test_one_click_quarantine_from_a_report_page(mod_client, project, rows):
    report = rows["report"]
    page = mod_client.get(url(MalwareReport, "change", report.pk))
    quarantine_url = url(MalwareReport, "quarantine", report.pk)
    assert quarantine_url in page.content.decode()
    form = mod_client.get(quarantine_url)
    assert b'name="reason"' in form.content
    response = mod_client.post(quarantine_url, {"reason": "steals tokens, confirmed"})
    assert response.status_code == 302
    assert response["Location"] == url(MalwareReport, "change", report.pk)
    shown = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert shown == [("success", "Quarantined: Sample.Project.")]
    project.refresh_from_db()
    report.refresh_from_db()
    assert project.quarantine_reason == "steals tokens, confirmed"
    assert report.status == "confirmed"
    # Done: the button is gone, and a second POST is refused with a message.
    page = mod_client.get(url(MalwareReport, "change", report.pk))
    assert quarantine_url not in page.content.decode()
    response = mod_client.post(quarantine_url, {"reason": "again"}, follow=True)
    assert b"already confirmed" in response.content


def test_one_click_quarantine_needs_the_permission(client, staff, rows):
    client.force_login(staff)
    response = client.post(url(MalwareReport, "quarantine", rows["report"].pk), {"reason": "x"})
    assert response.status_code == 403


def test_one_click_quarantine_is_refused_to_a_view_only_moderator(client, moderator, rows):
    from django.contrib.auth.models import Permission

    moderator.groups.clear()
    moderator.user_permissions.add(Permission.objects.get(codename="view_malwarereport"))
    client.force_login(moderator)
    page = client.get(url(MalwareReport, "change", rows["report"].pk))
    assert url(MalwareReport, "quarantine", rows["report"].pk) not in page.content.decode()
    response = client.post(url(MalwareReport, "quarantine", rows["report"].pk), {"reason": "x"})
    assert response.status_code == 403


def test_approve_name_review(mod_client, project):
    review = NameReview.objects.create(
        project=project, project_name=project.name, similar_to="requests"
    )
    page = mod_client.get(url(NameReview, "change", review.pk))
    assert page.status_code == 200
    act(mod_client, NameReview, "approve", [review], reason="fine")
    review.refresh_from_db()
    assert review.status == "approved"


def test_prohibit_a_name_from_the_admin(mod_client, moderator):
    form = mod_client.get(url(ProhibitedName, "add"))
    assert form.status_code == 200
    assert "Prohibit name: fill in the form, then confirm." in form.content.decode()
    assert " for:</p>" not in form.content.decode()  # no empty list of objects
    response = mod_client.post(url(ProhibitedName, "add"), {"name": "Evil.Pkg", "reason": ""})
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    response = mod_client.post(url(ProhibitedName, "add"), {"name": "Evil.Pkg", "reason": "x"})
    assert response.status_code == 302
    shown = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert shown == [("success", "Prohibited: Evil.Pkg.")]
    prohibited = ProhibitedName.objects.get()
    assert (prohibited.normalized_name, prohibited.created_by) == ("evil-pkg", moderator)
    response = mod_client.post(url(ProhibitedName, "add"), {"name": "evil_pkg", "reason": "y"})
    assert "already prohibited" in str(response.context["form"].errors)
    page = mod_client.get(url(ProhibitedName, "change", prohibited.pk))
    assert 'name="reason"' not in page.content.decode()


def test_staff_cannot_prohibit_names(client, staff):
    client.force_login(staff)
    assert client.get(url(ProhibitedName, "add")).status_code == 403


def test_moderation_log_is_read_only(mod_client, project):
    act(mod_client, Project, "quarantine", [project], reason="x")
    action = ModerationAction.objects.get()
    page = mod_client.get(url(ModerationAction, "change", action.pk))
    assert page.status_code == 200 and 'name="reason"' not in page.content.decode()
    assert mod_client.get(url(ModerationAction, "add")).status_code == 403


def test_moderators_group_has_exactly_these_permissions():
    from django.contrib.auth.models import Group

    codenames = set(
        Group.objects.get(name="Moderators").permissions.values_list("codename", flat=True)
    )
    # Organizations (moderation/0006): seen with their people and teams, (de)activated;
    # tests/moderation/test_admin_organizations.py.
    organizations = {"view_organization", "change_organization", "view_organizationrole"}
    organizations |= {"view_organizationinvitation", "view_team", "view_teammember"}
    assert organizations <= codenames
    codenames -= organizations
    # Namespaces (moderation/0006): granted, changed and revoked with a reason;
    # tests/moderation/test_namespaces.py.
    namespaces = {"view_namespace", "add_namespace", "change_namespace"}
    assert namespaces <= codenames
    codenames -= namespaces
    # Advisories (moderation/0006): added from an OSV record, withdrawn and deleted
    # with a reason; tests/moderation/test_admin_advisories.py.
    advisories = {"view_advisory", "add_advisory", "change_advisory"}
    assert advisories <= codenames
    codenames -= advisories
    # Publishing sessions (moderation/0007_42): seen, canceled with a reason;
    # tests/packages/test_upload_sessions.py.
    upload_sessions = {"view_uploadsession", "change_uploadsession", "view_stagedfile"}
    assert upload_sessions <= codenames
    codenames -= upload_sessions
    assert {"add_user", "change_apitoken", "delete_project", "delete_user"}.isdisjoint(codenames)
    assert {"change_project", "change_release", "change_file", "change_user"} <= codenames
    assert {"change_malwarereport", "change_namereview", "add_prohibitedname"} <= codenames
    view = {c for c in codenames if c.startswith("view_")}
    assert len(view) == len(ALL_MODELS)
    assert "change_adminflag" in codenames  # the kill switches
    # The upstream's curation (moderation/0005): actions on mirrored projects, blocks.
    assert {"change_upstreamproject", "add_upstreamblock", "delete_upstreamblock"} <= codenames
    assert len(codenames) == len(ALL_MODELS) + 12


def test_a_report_on_a_removed_project_keeps_its_name(mod_client, project, rows, moderator):
    from moderation.services import project_remove

    project_remove(project=project, actor=Actor(user=moderator), reason="malware")
    response = mod_client.get(url(MalwareReport))
    assert "Sample.Project" in response.content.decode()
    page = mod_client.get(url(MalwareReport, "change", rows["report"].pk))
    assert url(MalwareReport, "quarantine", rows["report"].pk) not in page.content.decode()
