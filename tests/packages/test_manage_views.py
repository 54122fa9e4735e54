"""The management pages through the test client: what each shows and does."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Event
from packages import services
from packages.collaborators import invitation_from_token, invitation_token
from packages.models import File, Project, Release, Role, RoleInvitation
from packages.views import manage
from tests.conftest import give_two_factor, verified_user
from tests.factories import add_file, make_release, make_sdist, make_wheel

pytestmark = pytest.mark.django_db

IP = "203.0.113.50"


@pytest.fixture(autouse=True)
def _two_factor(settings, owner, maintainer, outsider):
    settings.REQUIRE_2FA_TO_MANAGE = True
    for user in (owner, maintainer, outsider):
        give_two_factor(user)


@pytest.fixture
def as_owner(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def as_maintainer(client, maintainer):
    client.force_login(maintainer)
    return client


@pytest.fixture
def as_outsider(client, outsider):
    client.force_login(outsider)
    return client


@pytest.fixture
def release(project):
    return make_release(project, "1.0")


@pytest.fixture
def wheel(release):
    return add_file(release, make_wheel("sample-project", "1.0"))


@pytest.fixture
def invitation(project, owner, outsider):
    return RoleInvitation.objects.create(
        project=project,
        user=outsider,
        role_name=Role.Name.MAINTAINER,
        invited_by=owner,
        expires_at=timezone.now() + timedelta(days=1),
    )


def url(view_name, /, **kwargs):
    return reverse(view_name, kwargs=kwargs)


def flashes(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


def last_event() -> Event:
    return Event.objects.latest("id")


# --- Access --------------------------------------------------------------------------


def test_without_2fa_requirement_a_user_without_2fa_may_manage(client, settings, project, owner):
    settings.REQUIRE_2FA_TO_MANAGE = False
    owner.totp_secret = ""
    owner.save()
    client.force_login(owner)
    assert client.get(url("manage-project", name="sample-project")).status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/manage/project/Sample.Project/", "/manage/project/SAMPLE_project/collaborators/"],
)
def test_odd_spellings_redirect_to_the_normalized_url(as_owner, project, path):
    response = as_owner.get(path)
    assert response.status_code == 301
    assert response["Location"] == path.replace("Sample.Project", "sample-project").replace(
        "SAMPLE_project", "sample-project"
    )


def test_odd_spelling_of_a_release_url_keeps_the_version(as_owner, release):
    response = as_owner.get("/manage/project/Sample_Project/release/1.0/")
    assert response["Location"] == url("manage-release", name="sample-project", version="1.0")


def test_odd_spelling_does_not_reveal_a_project_to_outsiders(as_outsider, project):
    assert as_outsider.get("/manage/project/Sample.Project/").status_code == 404


def test_unknown_project_is_404(as_owner, project):
    assert as_owner.get(url("manage-project", name="nothing-here")).status_code == 404


def test_a_post_under_another_spelling_acts(as_owner, release):
    response = as_owner.post("/manage/project/Sample.Project/release/1.0/yank/", {"reason": ""})
    assert response.status_code == 302
    release.refresh_from_db()
    assert release.yanked


def test_unknown_release_is_404(as_owner, project):
    assert (
        as_owner.get(url("manage-release", name="sample-project", version="9")).status_code == 404
    )


def test_a_get_on_an_action_is_not_allowed(as_owner, release):
    response = as_owner.get(url("manage-release-yank", name="sample-project", version="1.0"))
    assert response.status_code == 405


# --- Your projects -----------------------------------------------------------------------


def test_projects_lists_roles_with_the_latest_release(as_maintainer, project, maintainer):
    make_release(project, "1.0")
    newest = make_release(project, "2.0b1")
    Release.objects.filter(pk=newest.pk).update(created_at=timezone.now() + timedelta(hours=1))
    other = Project.objects.create(name="Zed", normalized_name="zed")
    Role.objects.create(project=other, user=maintainer, role_name=Role.Name.OWNER)
    response = as_maintainer.get(url("manage-projects"))
    roles = list(response.context["roles"])
    assert [(r.project.name, r.role_name, r.latest_version) for r in roles] == [
        ("Sample.Project", "Maintainer", "2.0b1"),
        ("Zed", "Owner", None),
    ]
    content = response.content.decode()
    assert "2.0b1" in content
    assert "none yet" in content
    # Every page's navigation leads here once signed in.
    assert f'href="{url("manage-projects")}">Your projects</a>' in content
    assert response["Cache-Control"].startswith("max-age=0")


def test_projects_shows_pending_invitations_not_expired_ones(as_outsider, invitation, project):
    other = Project.objects.create(name="Old", normalized_name="old")
    RoleInvitation.objects.create(
        project=other,
        user=invitation.user,
        role_name="Owner",
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    response = as_outsider.get(url("manage-projects"))
    assert list(response.context["invitations"]) == [invitation]
    content = response.content.decode()
    assert url("manage-invitation-answer", pk=invitation.pk) in content
    assert "You have no projects yet" in content


def test_accept_from_the_projects_page(as_outsider, invitation, project, outsider):
    response = as_outsider.post(
        url("manage-invitation-answer", pk=invitation.pk), {"action": "accept"}, REMOTE_ADDR=IP
    )
    assert response["Location"] == url("manage-project", name="sample-project")
    assert Role.objects.get(project=project, user=outsider).role_name == "Maintainer"
    assert flashes(response) == ["You are now Maintainer of Sample.Project."]
    event = last_event()
    assert (event.tag, event.actor, event.ip_address) == ("project:role:added", outsider, IP)


def test_decline_from_the_projects_page(as_outsider, invitation, project, outsider):
    response = as_outsider.post(
        url("manage-invitation-answer", pk=invitation.pk), {"action": "decline"}
    )
    assert response["Location"] == url("manage-projects")
    assert not Role.objects.filter(user=outsider).exists()
    assert not RoleInvitation.objects.exists()
    assert flashes(response) == ["You declined the invitation to Sample.Project."]


def test_an_expired_invitation_cannot_be_accepted_from_the_list(as_outsider, invitation):
    RoleInvitation.objects.update(expires_at=timezone.now())
    response = as_outsider.post(
        url("manage-invitation-answer", pk=invitation.pk), {"action": "accept"}
    )
    assert response["Location"] == url("manage-projects")
    assert flashes(response) == ["This invitation has expired."]
    follow = as_outsider.get(response["Location"])
    assert "This invitation has expired." in follow.content.decode()


def test_an_answer_must_be_accept_or_decline(as_outsider, invitation):
    response = as_outsider.post(url("manage-invitation-answer", pk=invitation.pk), {"action": "x"})
    assert response.status_code == 400
    assert RoleInvitation.objects.exists()


# --- The e-mailed link ---------------------------------------------------------------------


def link(invitation, token=None):
    return url("manage-invitation") + "?token=" + (token or invitation_token(invitation))


def test_the_link_asks_to_confirm(as_outsider, invitation):
    # One token: a second made later may carry another timestamp.
    token = invitation_token(invitation)
    response = as_outsider.get(link(invitation, token))
    assert response.status_code == 200
    content = response.content.decode()
    assert "olivia</strong> invited you to be <strong>Maintainer</strong>" in content
    assert f'value="{token}"' in content
    assert not Role.objects.filter(user=invitation.user).exists()


def test_the_link_of_an_owner_invitation_explains_the_role(as_outsider, invitation):
    RoleInvitation.objects.update(role_name="Owner", invited_by=None)
    content = as_outsider.get(link(invitation)).content.decode()
    assert "An Owner invited you" in content
    assert "Owners upload, yank and delete releases" in content


def test_accept_through_the_link_then_the_link_is_used_up(as_outsider, invitation, project):
    token = invitation_token(invitation)
    response = as_outsider.post(url("manage-invitation"), {"token": token, "action": "accept"})
    assert response["Location"] == url("manage-project", name="sample-project")
    assert Role.objects.filter(project=project, user=invitation.user).exists()
    again = as_outsider.get(link(invitation, token))
    assert again.status_code == 410
    assert "no longer valid" in again.content.decode()
    reused = as_outsider.post(url("manage-invitation"), {"token": token, "action": "accept"})
    assert reused.status_code == 410


def test_decline_through_the_link(as_outsider, invitation):
    response = as_outsider.post(
        url("manage-invitation"), {"token": invitation_token(invitation), "action": "decline"}
    )
    assert response["Location"] == url("manage-projects")
    assert not RoleInvitation.objects.exists()


def test_a_tampered_link(as_outsider, invitation):
    response = as_outsider.get(link(invitation, invitation_token(invitation)[:-2] + "xx"))
    assert response.status_code == 400
    assert "not valid" in response.content.decode()


def test_a_link_without_token(as_outsider, invitation):
    assert as_outsider.get(url("manage-invitation")).status_code == 400


def test_an_expired_link(as_outsider, invitation):
    RoleInvitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    response = as_outsider.get(link(invitation))
    assert response.status_code == 410
    assert "expired" in response.content.decode()


def test_a_link_for_someone_else(as_maintainer, invitation):
    response = as_maintainer.get(link(invitation))
    assert response.status_code == 403
    assert "for another account" in response.content.decode()


def test_the_link_signs_in_first_and_comes_back(client, invitation):
    response = client.get(link(invitation))
    assert response.status_code == 302
    assert "token%3D" in response["Location"]


# --- Releases and files ------------------------------------------------------------------


def test_owner_sees_the_release_actions(as_owner, release):
    content = as_owner.get(url("manage-project", name="sample-project")).content.decode()
    assert url("manage-release-yank", name="sample-project", version="1.0") in content


def test_maintainer_sees_releases_without_actions(as_maintainer, release, project):
    make_release(project, "0.9", yanked=True, yanked_reason="too old")
    content = as_maintainer.get(url("manage-project", name="sample-project")).content.decode()
    assert "1.0" in content
    assert "too old" in content
    assert "/yank/" not in content
    assert "/unyank/" not in content
    assert "/delete/" not in content
    assert "As a Maintainer you can upload new releases" in content
    # Under quarantine nobody uploads: the page must not say otherwise.
    from django.utils import timezone

    Project.objects.filter(pk=project.pk).update(quarantined_at=timezone.now())
    content = as_maintainer.get(url("manage-project", name="sample-project")).content.decode()
    assert "This project is quarantined" in content
    assert "As a Maintainer you can upload new releases" not in content
    # The reason is public (PEP 792), so Maintainers see it as well.
    assert "The moderators' reason (shown publicly)" in content


def test_an_archived_or_deprecated_project_is_marked_in_the_header_and_the_list(as_owner, project):
    Project.objects.filter(pk=project.pk).update(status="archived")
    content = as_owner.get(url("manage-project", name="sample-project")).content.decode()
    assert '<span class="badge badge--yanked">Archived</span>' in content
    listing = as_owner.get(url("manage-projects")).content.decode()
    assert '<span class="badge badge--yanked">Archived</span>' in listing
    Project.objects.filter(pk=project.pk).update(status="deprecated")
    listing = as_owner.get(url("manage-projects")).content.decode()
    assert '<span class="badge badge--yanked">Deprecated</span>' in listing


def test_releases_page_without_releases(as_owner, project):
    content = as_owner.get(url("manage-project", name="sample-project")).content.decode()
    assert "No releases yet." in content


def test_yank_with_a_reason(as_owner, release, owner):
    response = as_owner.post(
        url("manage-release-yank", name="sample-project", version="1.0"),
        {"reason": "  Broken\n on   Windows "},
        REMOTE_ADDR=IP,
    )
    assert response["Location"] == url("manage-project", name="sample-project")
    release.refresh_from_db()
    assert (release.yanked, release.yanked_reason) == (True, "Broken on Windows")
    assert flashes(response) == ["Sample.Project 1.0 is yanked."]
    event = last_event()
    assert (event.tag, event.actor, event.ip_address) == ("project:release:yanked", owner, IP)
    page = as_owner.get(response["Location"]).content.decode()
    assert url("manage-release-unyank", name="sample-project", version="1.0") in page


def test_a_reason_with_a_nul_is_refused_with_a_message(as_owner, release):
    # PostgreSQL refuses a NUL in any string: it used to end in a 500.
    response = as_owner.post(
        url("manage-release-yank", name="sample-project", version="1.0"), {"reason": "a\x00b"}
    )
    assert response["Location"] == url("manage-project", name="sample-project")
    assert flashes(response) == ["The reason: Null characters are not allowed."]
    release.refresh_from_db()
    assert not release.yanked


def test_yank_twice_says_so(as_owner, release):
    yank = url("manage-release-yank", name="sample-project", version="1.0")
    as_owner.post(yank)
    response = as_owner.post(yank)
    assert flashes(response)[-1] == "Sample.Project 1.0 is already yanked."


def test_unyank(as_owner, release):
    Release.objects.filter(pk=release.pk).update(yanked=True, yanked_reason="x")
    response = as_owner.post(url("manage-release-unyank", name="sample-project", version="1.0"))
    release.refresh_from_db()
    assert not release.yanked
    assert flashes(response) == ["Sample.Project 1.0 is no longer yanked."]


def test_unyank_of_a_release_not_yanked(as_owner, release):
    response = as_owner.post(url("manage-release-unyank", name="sample-project", version="1.0"))
    assert flashes(response) == ["Sample.Project 1.0 is not yanked."]


def test_release_page_lists_files_with_delete_forms_for_owners(as_owner, wheel, release):
    Release.objects.filter(pk=release.pk).update(yanked=True, yanked_reason="bad build")
    content = as_owner.get(url("manage-release", name="sample-project", version="1.0")).content
    content = content.decode()
    assert wheel.filename in content
    assert f'name="file" value="{wheel.pk}"' in content
    assert "This release is yanked: bad build." in content
    assert url("manage-release-delete", name="sample-project", version="1.0") in content


def test_release_page_for_maintainers_has_no_delete_forms(as_maintainer, wheel):
    content = as_maintainer.get(url("manage-release", name="sample-project", version="1.0"))
    content = content.content.decode()
    assert wheel.filename in content
    assert "delete-file" not in content
    assert "Delete this release" not in content


def test_release_page_without_files(as_owner, release):
    content = as_owner.get(url("manage-release", name="sample-project", version="1.0")).content
    assert b"This release has no files." in content


def test_release_delete_needs_the_typed_version(as_owner, release):
    response = as_owner.post(
        url("manage-release-delete", name="sample-project", version="1.0"), {"confirm": "1.1"}
    )
    assert response["Location"] == url("manage-release", name="sample-project", version="1.0")
    assert Release.objects.filter(pk=release.pk).exists()
    assert flashes(response) == ["Type the version 1.0 to confirm the deletion."]


def test_release_delete(as_owner, wheel, release, owner):
    response = as_owner.post(
        url("manage-release-delete", name="sample-project", version="1.0"),
        {"confirm": " 1.0 "},
        REMOTE_ADDR=IP,
    )
    assert response["Location"] == url("manage-project", name="sample-project")
    assert not Release.objects.exists()
    assert not File.objects.exists()
    assert flashes(response) == ["Sample.Project 1.0 and its files are deleted."]
    event = last_event()
    assert (event.tag, event.actor, event.ip_address) == ("project:release:deleted", owner, IP)


def test_release_deleted_meanwhile(as_owner, release, monkeypatch):
    real = services.release_delete

    def concurrent(*, release, **kwargs):
        Release.objects.filter(pk=release.pk).delete()
        return real(release=release, **kwargs)

    monkeypatch.setattr(services, "release_delete", concurrent)
    response = as_owner.post(
        url("manage-release-delete", name="sample-project", version="1.0"), {"confirm": "1.0"}
    )
    assert flashes(response) == ["Sample.Project 1.0 no longer exists."]


def test_file_delete_needs_the_typed_filename(as_owner, wheel):
    response = as_owner.post(
        url("manage-file-delete", name="sample-project", version="1.0"),
        {"file": wheel.pk, "confirm": "sample_project-1.0.tar.gz"},
    )
    assert response["Location"] == url("manage-release", name="sample-project", version="1.0")
    assert File.objects.filter(pk=wheel.pk).exists()
    assert flashes(response) == [f"Type the filename {wheel.filename} to confirm the deletion."]


def test_file_delete(as_owner, wheel, release, owner):
    sdist = add_file(release, make_sdist("sample-project", "1.0"))
    response = as_owner.post(
        url("manage-file-delete", name="sample-project", version="1.0"),
        {"file": sdist.pk, "confirm": sdist.filename},
        REMOTE_ADDR=IP,
    )
    assert list(File.objects.all()) == [wheel]
    assert flashes(response) == [f"{sdist.filename} is deleted."]
    event = last_event()
    assert (event.tag, event.actor, event.ip_address) == ("project:file:deleted", owner, IP)
    assert event.details["filename"] == sdist.filename


# "abc" and a NUL once made the query fail: a 500 (PostgreSQL refuses the NUL).
@pytest.mark.parametrize("file", ["", "999999", "other", "abc", "1\x00", "٣", "9" * 30])
def test_file_delete_of_a_file_not_in_the_release(as_owner, wheel, project, file):
    other = add_file(make_release(project, "2.0"), make_wheel("sample-project", "2.0"))
    file_id = other.pk if file == "other" else file
    response = as_owner.post(
        url("manage-file-delete", name="sample-project", version="1.0"),
        {"file": file_id, "confirm": other.filename},
    )
    assert response.status_code == 404
    assert File.objects.count() == 2


def test_file_deleted_meanwhile(as_owner, wheel, monkeypatch):
    real = services.file_delete

    def concurrent(*, file, **kwargs):
        File.objects.filter(pk=file.pk).delete()
        return real(file=file, **kwargs)

    monkeypatch.setattr(services, "file_delete", concurrent)
    response = as_owner.post(
        url("manage-file-delete", name="sample-project", version="1.0"),
        {"file": wheel.pk, "confirm": wheel.filename},
    )
    assert flashes(response) == [f"File {wheel.filename} no longer exists."]


# --- Collaborators -----------------------------------------------------------------------


def test_collaborators_page_for_owners(as_owner, project, invitation):
    content = as_owner.get(url("manage-collaborators", name="sample-project")).content.decode()
    assert "max" in content
    assert "olivia</a> (you)" in content
    assert "Leave this project" in content
    assert 'aria-label="Remove max"' in content
    assert url("manage-collaborator-invite", name="sample-project") in content
    assert "<strong>oscar</strong> as Maintainer, invited by olivia; expires" in content
    assert url("manage-invitation-revoke", name="sample-project") in content


def test_collaborators_page_for_maintainers(as_maintainer, project, invitation):
    RoleInvitation.objects.update(expires_at=timezone.now() - timedelta(days=1), invited_by=None)
    content = as_maintainer.get(url("manage-collaborators", name="sample-project")).content
    content = content.decode()
    assert "olivia" in content
    assert "Leave this project" in content
    assert "Remove olivia" not in content
    assert "/collaborators/invite/" not in content
    assert "/collaborators/change/" not in content
    assert "/collaborators/revoke/" not in content
    assert "<strong>oscar</strong> as Maintainer; expired" in content
    # The maintainer sees neither the history nor the settings tab.
    assert url("manage-project-history", name="sample-project") not in content
    assert url("manage-project-settings", name="sample-project") not in content


def test_collaborators_page_without_invitations(as_owner, project):
    content = as_owner.get(url("manage-collaborators", name="sample-project")).content
    assert b"No pending invitations." in content


def test_invite(as_owner, project, outsider, owner, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_owner.post(
            url("manage-collaborator-invite", name="sample-project"),
            {"username": "oscar", "role_name": "Owner"},
            REMOTE_ADDR=IP,
        )
    assert response["Location"] == url("manage-collaborators", name="sample-project")
    invitation = RoleInvitation.objects.get()
    assert (invitation.user, invitation.role_name) == (outsider, "Owner")
    (mail,) = mailoutbox
    assert mail.to == ["oscar@example.com"]
    prefix = "http://testserver" + url("manage-invitation") + "?token="
    token = mail.body.split(prefix, 1)[1].split()[0]
    assert invitation_from_token(token, outsider) == invitation
    event = last_event()
    assert (event.tag, event.actor, event.user, event.ip_address) == (
        "project:role:invited",
        owner,
        outsider,
        IP,
    )
    assert flashes(response) == [
        "oscar is invited as Owner; they have been sent an e-mail to accept."
    ]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"username": "nobody", "role_name": "Maintainer"}, "There is no user named"),
        ({"username": "max", "role_name": "Maintainer"}, "max already has a role"),
        ({"username": "", "role_name": "Maintainer"}, "This field is required."),
        ({"username": "oscar", "role_name": "Admin"}, "Select a valid choice."),
    ],
)
def test_invite_errors_are_shown_at_the_field(as_owner, project, outsider, data, error):
    response = as_owner.post(url("manage-collaborator-invite", name="sample-project"), data)
    assert response.status_code == 400
    content = response.content.decode()
    assert error in content
    assert 'aria-invalid="true" aria-describedby="id_' in content
    assert not RoleInvitation.objects.exists()


def test_invite_twice_says_already_invited(as_owner, invitation):
    response = as_owner.post(
        url("manage-collaborator-invite", name="sample-project"),
        {"username": "oscar", "role_name": "Maintainer"},
    )
    assert response.status_code == 400
    assert "oscar has already been invited" in response.content.decode()


def test_change_role(as_owner, project, maintainer):
    response = as_owner.post(
        url("manage-collaborator-change", name="sample-project"),
        {"username": "max", "role_name": "Owner"},
    )
    assert response["Location"] == url("manage-collaborators", name="sample-project")
    assert Role.objects.get(user=maintainer).role_name == "Owner"
    assert flashes(response) == ["max is now Owner."]


def test_the_last_owner_cannot_demote_themself(as_owner, project, owner):
    response = as_owner.post(
        url("manage-collaborator-change", name="sample-project"),
        {"username": "olivia", "role_name": "Maintainer"},
    )
    assert Role.objects.get(user=owner).role_name == "Owner"
    assert "last Owner" in flashes(response)[0]


@pytest.mark.parametrize("username", ["nobody", "oscar", "", "max\x00", "m" * 151])
def test_change_or_remove_someone_without_role_is_404(as_owner, project, outsider, username):
    for action in ("manage-collaborator-change", "manage-collaborator-remove"):
        response = as_owner.post(
            url(action, name="sample-project"), {"username": username, "role_name": "Owner"}
        )
        assert response.status_code == 404


def test_owner_removes_a_maintainer(as_owner, project, maintainer):
    response = as_owner.post(
        url("manage-collaborator-remove", name="sample-project"), {"username": "max"}
    )
    assert response["Location"] == url("manage-collaborators", name="sample-project")
    assert not Role.objects.filter(user=maintainer).exists()
    assert flashes(response) == ["max no longer has a role on Sample.Project."]


def test_maintainer_leaves(as_maintainer, project, maintainer):
    response = as_maintainer.post(
        url("manage-collaborator-remove", name="sample-project"), {"username": "max"}
    )
    assert response["Location"] == url("manage-projects")
    assert not Role.objects.filter(user=maintainer).exists()
    assert flashes(response) == ["You left Sample.Project."]
    event = last_event()
    assert (event.tag, event.actor, event.user) == ("project:role:removed", maintainer, maintainer)
    # Gone from the project: its pages answer 404 now.
    assert as_maintainer.get(url("manage-project", name="sample-project")).status_code == 404


def test_the_last_owner_cannot_leave(as_owner, project, owner):
    response = as_owner.post(
        url("manage-collaborator-remove", name="sample-project"), {"username": "olivia"}
    )
    assert response["Location"] == url("manage-collaborators", name="sample-project")
    assert Role.objects.get(user=owner).role_name == "Owner"
    assert "last Owner" in flashes(response)[0]


def test_revoke_invitation(as_owner, invitation, owner):
    response = as_owner.post(
        url("manage-invitation-revoke", name="sample-project"), {"invitation": invitation.pk}
    )
    assert not RoleInvitation.objects.exists()
    assert flashes(response) == ["The invitation of oscar is revoked."]
    assert last_event().tag == "project:role:invitation-revoked"


def test_revoke_an_invitation_of_another_project_is_404(as_owner, project, outsider, owner):
    other = Project.objects.create(name="other", normalized_name="other")
    theirs = RoleInvitation.objects.create(
        project=other, user=outsider, role_name="Owner", expires_at=timezone.now()
    )
    for value in (theirs.pk, "", "abc", "1\x00"):
        response = as_owner.post(
            url("manage-invitation-revoke", name="sample-project"), {"invitation": value}
        )
        assert response.status_code == 404
    assert RoleInvitation.objects.exists()


def test_invitation_answered_while_revoking(as_owner, invitation, monkeypatch):
    from packages import collaborators

    real = collaborators.invitation_revoke

    def concurrent(*, invitation, **kwargs):
        RoleInvitation.objects.filter(pk=invitation.pk).delete()
        return real(invitation=invitation, **kwargs)

    monkeypatch.setattr(collaborators, "invitation_revoke", concurrent)
    response = as_owner.post(
        url("manage-invitation-revoke", name="sample-project"), {"invitation": invitation.pk}
    )
    assert flashes(response) == ["This invitation was already accepted, declined or revoked."]


# --- History and settings ------------------------------------------------------------------


def test_history_shows_the_projects_events_newest_first(as_owner, release, owner):
    as_owner.post(
        url("manage-release-yank", name="sample-project", version="1.0"),
        {"reason": "oops"},
        REMOTE_ADDR=IP,
    )
    as_owner.post(
        url("manage-release-unyank", name="sample-project", version="1.0"), REMOTE_ADDR=IP
    )
    other = Project.objects.create(name="other", normalized_name="other")
    Event.objects.create(tag="project:deleted", project=other, project_name="other")
    response = as_owner.get(url("manage-project-history", name="sample-project"))
    events = list(response.context["page"].object_list)
    assert [e.tag for e in events] == [
        "project:release:unyanked",
        "project:release:yanked",
        "project:release:created",
    ]
    content = response.content.decode()
    assert IP in content
    assert "reason: oops" in content
    assert content.index("Release unyanked") < content.index("Release yanked")
    assert "project:release:" not in content  # plain words, not tags


def test_every_project_and_organization_event_the_code_records_has_plain_words():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    recorded = set()
    for app in ("accounts", "packages", "moderation"):
        for source in (root / app).rglob("*.py"):
            recorded |= set(
                re.findall(r'"((?:project|organization):[a-z-]+(?::[a-z-]+)*)"', source.read_text())
            )
    recorded = {tag for tag in recorded if not any(o.startswith(tag + ":") for o in recorded)}
    # The scan finds tags of both kinds.
    assert {"project:file:uploaded", "organization:namespace:granted"} <= recorded
    assert sorted(recorded - Event.DESCRIPTIONS.keys()) == []


def test_history_is_paginated(as_owner, project):
    Event.objects.bulk_create(
        Event(tag=f"project:test:{n}", project=project, project_name=project.name)
        for n in range(manage.HISTORY_PAGE_SIZE + 1)
    )
    first = as_owner.get(url("manage-project-history", name="sample-project"))
    assert len(first.context["page"].object_list) == manage.HISTORY_PAGE_SIZE
    assert "Page 1 of 2" in first.content.decode()
    second = as_owner.get(url("manage-project-history", name="sample-project") + "?page=2")
    assert len(second.context["page"].object_list) == 1
    assert 'rel="prev"' in second.content.decode()


def test_history_without_events(as_owner, project):
    content = as_owner.get(url("manage-project-history", name="sample-project")).content
    assert b"No events recorded for this project yet." in content


def test_settings_page_offers_deletion(as_owner, project):
    content = as_owner.get(url("manage-project-settings", name="sample-project")).content.decode()
    assert url("manage-project-delete", name="sample-project") in content
    assert "<code>Sample.Project</code>" in content


def test_project_delete_needs_the_typed_name(as_owner, project):
    response = as_owner.post(
        url("manage-project-delete", name="sample-project"), {"confirm": "sample-project"}
    )
    assert response["Location"] == url("manage-project-settings", name="sample-project")
    assert Project.objects.filter(pk=project.pk).exists()
    assert flashes(response) == ["Type the project name Sample.Project to confirm the deletion."]


def test_project_delete(as_owner, project, owner):
    response = as_owner.post(
        url("manage-project-delete", name="sample-project"),
        {"confirm": "Sample.Project"},
        REMOTE_ADDR=IP,
    )
    assert response["Location"] == url("manage-projects")
    assert not Project.objects.exists()
    assert flashes(response) == ["Sample.Project is deleted."]
    event = last_event()
    assert (event.tag, event.project_name, event.actor, event.ip_address) == (
        "project:deleted",
        "Sample.Project",
        owner,
        IP,
    )


def test_project_deleted_meanwhile(as_owner, project, monkeypatch):
    real = services.project_delete

    def concurrent(*, project, **kwargs):
        Project.objects.filter(pk=project.pk).delete()
        return real(project=project, **kwargs)

    monkeypatch.setattr(services, "project_delete", concurrent)
    response = as_owner.post(
        url("manage-project-delete", name="sample-project"), {"confirm": "Sample.Project"}
    )
    assert flashes(response) == ["Project Sample.Project no longer exists."]


def test_a_second_owner_sees_the_same_pages(client, project, owner):
    second = give_two_factor(verified_user("sam"))
    Role.objects.create(project=project, user=second, role_name="Owner")
    client.force_login(second)
    assert client.get(url("manage-project-history", name="sample-project")).status_code == 200
