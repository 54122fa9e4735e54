"""packages.policy: who may do what to a project. The management pages' own
matrix (every visitor against every action, through the views) is in
test_manage_permissions.py; the upload's refusals, through /legacy/, in
test_upload_view.py."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import Email
from accounts.tokens import TokenError, api_token_create, api_token_revoke
from packages import policy
from packages.models import Project, Role, RoleInvitation
from packages.policy import Action, UploadError
from tests.conftest import give_two_factor

pytestmark = pytest.mark.django_db

OWNER_ACTIONS = [
    Action.YANK,
    Action.DELETE,
    Action.INVITE,
    Action.CHANGE_ROLES,
    Action.HISTORY,
    Action.SETTINGS,
]


# --- Roles -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "can_upload", "is_owner"),
    [
        ("owner", True, True),
        ("maintainer", True, False),
        ("outsider", False, False),
    ],
)
def test_permission_matrix(request, project, who, can_upload, is_owner):
    user = request.getfixturevalue(who)
    assert policy.may(user, project, Action.UPLOAD) is can_upload
    assert policy.may(user, project, Action.VIEW) is can_upload
    for action in OWNER_ACTIONS:
        assert policy.may(user, project, action) is is_owner


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("user", [None, AnonymousUser()], ids=["none", "anonymous"])
def test_no_user_may_act(project, action, user):
    assert policy.may(user, project, action) is False


@pytest.mark.parametrize("action", list(Action))
def test_deactivated_owner_may_not_act(project, owner, action):
    owner.is_active = False
    owner.save()
    assert policy.may(owner, project, action) is False


@pytest.mark.parametrize("action", list(Action))
def test_role_on_another_project_does_not_count(project, outsider, action):
    other = Project.objects.create(name="other", normalized_name="other")
    Role.objects.create(project=other, user=outsider, role_name=Role.Name.OWNER)
    assert policy.may(outsider, project, action) is False


@pytest.mark.parametrize(("who", "role"), [("owner", "Owner"), ("maintainer", "Maintainer")])
def test_user_role_names_the_role(request, project, who, role):
    assert policy.user_role(request.getfixturevalue(who), project) == role


def test_user_role_of_an_outsider_is_none(project, outsider):
    assert policy.user_role(outsider, project) is None


@pytest.mark.parametrize("user", [None, AnonymousUser()], ids=["none", "anonymous"])
def test_user_role_of_nobody_is_none(project, user):
    assert policy.user_role(user, project) is None


def test_user_role_of_a_deactivated_owner_is_none(project, owner):
    owner.is_active = False
    owner.save()
    assert policy.user_role(owner, project) is None


@pytest.mark.parametrize("action", OWNER_ACTIONS)
def test_a_maintainer_is_refused_what_only_owners_may(project, maintainer, action):
    with pytest.raises(PermissionDenied, match="Only an Owner of the project may do this"):
        policy.require(maintainer, project, action)
    policy.require(Role.objects.get(role_name="Owner").user, project, action)


def test_someone_without_a_role_is_told_who_may(project, outsider):
    with pytest.raises(PermissionDenied, match="Only the Owners and Maintainers"):
        policy.require(outsider, project, Action.VIEW)
    policy.require_role(Role.Name.MAINTAINER, Action.VIEW)


def test_anyone_may_leave_but_only_owners_remove_others(project, owner, maintainer):
    policy.require_may_remove(maintainer, maintainer, project)
    policy.require_may_remove(owner, maintainer, project)
    with pytest.raises(PermissionDenied, match="Only an Owner"):
        policy.require_may_remove(maintainer, owner, project)
    with pytest.raises(PermissionDenied, match="Only an Owner"):
        policy.require_may_remove(None, owner, project)


def test_the_last_owner_is_kept(project, owner, maintainer, outsider):
    owner_role = Role.objects.get(user=owner)
    assert policy.leaves_no_owner(owner_role)
    assert not policy.leaves_no_owner(Role.objects.get(user=maintainer))
    Role.objects.create(project=project, user=outsider, role_name=Role.Name.OWNER)
    assert not policy.leaves_no_owner(owner_role)


def test_owners_of_another_project_do_not_count(project, owner, outsider):
    other = Project.objects.create(name="other", normalized_name="other")
    Role.objects.create(project=other, user=outsider, role_name=Role.Name.OWNER)
    assert policy.leaves_no_owner(Role.objects.get(user=owner))


@pytest.mark.parametrize("lock", [False, True])
def test_an_account_is_the_sole_owner_of_projects_no_one_else_owns(
    project, owner, maintainer, outsider, lock
):
    with transaction.atomic():
        assert policy.sole_owner_projects(owner, lock=lock) == ["Sample.Project"]
        assert policy.sole_owner_projects(maintainer, lock=lock) == []
    Role.objects.create(project=project, user=outsider, role_name=Role.Name.OWNER)
    assert policy.sole_owner_projects(owner) == []


def test_only_the_invitee_answers_an_invitation(project, owner, outsider, maintainer):
    invitation = RoleInvitation.objects.create(
        project=project,
        user=outsider,
        role_name=Role.Name.MAINTAINER,
        invited_by=owner,
        expires_at=timezone.now() + timedelta(days=1),
    )
    policy.require_invitee(outsider, invitation)
    with pytest.raises(PermissionDenied, match="for another account"):
        policy.require_invitee(maintainer, invitation)


# --- Upload tokens -----------------------------------------------------------------


def test_a_live_token_may_upload(owner):
    minted = api_token_create(user=owner)
    assert policy.upload_token(minted.secret) == minted.token


def test_a_string_that_is_no_token_is_refused(owner):
    minted = api_token_create(user=owner)
    with pytest.raises(TokenError, match="non-existent"):
        policy.upload_token(minted.secret + "x")


def test_revoked_token_is_refused_at_once(owner):
    minted = api_token_create(user=owner)
    api_token_revoke(minted.token)
    api_token_revoke(minted.token)  # revoking twice keeps the first time
    with pytest.raises(TokenError, match="revoked"):
        policy.upload_token(minted.secret)


def test_expired_token_is_refused(owner):
    minted = api_token_create(user=owner, expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(TokenError, match="expired"):
        policy.upload_token(minted.secret)


def test_unexpired_token_may_upload(owner):
    minted = api_token_create(user=owner, expires_at=timezone.now() + timedelta(days=1))
    assert policy.upload_token(minted.secret) == minted.token


def test_inactive_user_token_is_refused(owner):
    minted = api_token_create(user=owner)
    owner.is_active = False
    owner.save()
    with pytest.raises(TokenError, match="disabled"):
        policy.upload_token(minted.secret)


def test_frozen_user_token_is_refused(owner):
    minted = api_token_create(user=owner)
    owner.is_frozen = True
    owner.save()
    with pytest.raises(TokenError, match="frozen by the index's moderators"):
        policy.upload_token(minted.secret)


# --- Upload scope and roles ---------------------------------------------------------


def _refusal(token, name, project) -> UploadError:
    with pytest.raises(UploadError) as caught:
        policy.check_upload_to(token, name, project)
    return caught.value


def test_user_wide_token_covers_any_project(project, owner):
    token = api_token_create(user=owner).token
    assert not token.scoped
    policy.check_upload_to(token, "Sample.Project", project)
    policy.check_upload_to(token, "anything", None)


def test_scoped_token_covers_only_its_projects(project, owner):
    token = api_token_create(user=owner, projects=[project]).token
    assert token.scoped
    policy.check_upload_to(token, "sample_project", project)
    refusal = _refusal(token, "Other", None)
    assert (refusal.status, refusal.message) == (
        403,
        "Invalid API Token: project-scoped token is not valid for project: 'Other'",
    )


def test_scoped_token_whose_projects_are_gone_covers_nothing(project, owner):
    token = api_token_create(user=owner, projects=[project]).token
    project.delete()
    for name in ("sample-project", "new-project"):
        assert _refusal(token, name, None).status == 403


def test_scope_never_grants_a_role(project, outsider):
    Role.objects.create(
        project=Project.objects.create(name="mine", normalized_name="mine"),
        user=outsider,
        role_name=Role.Name.OWNER,
    )
    token = api_token_create(user=outsider).token
    refusal = _refusal(token, "Sample.Project", project)
    assert refusal.status == 403
    assert refusal.message.startswith("The user 'oscar' isn't allowed to upload to project")


def test_only_those_with_a_role_learn_of_a_quarantine(project, owner, outsider):
    Project.objects.filter(pk=project.pk).update(quarantined_at=timezone.now())
    project.refresh_from_db()
    assert "isn't allowed" in _refusal(api_token_create(user=outsider).token, "x", project).message
    refusal = _refusal(api_token_create(user=owner).token, "x", project)
    assert (refusal.status, "is quarantined by the moderators" in refusal.message) == (403, True)


def test_a_new_project_takes_only_a_name_the_name_rules_allow(owner):
    token = api_token_create(user=owner).token
    refusal = _refusal(token, "os", None)
    assert (refusal.status, refusal.message) == (
        400,
        "The name 'os' isn't allowed: it is the name of a module of Python's standard "
        "library, and installing a project of that name would shadow it. Choose another "
        "name. See /help/#project-name for more information.",
    )


# --- The uploader's account ---------------------------------------------------------


def test_an_uploader_needs_a_verified_primary_address(owner):
    policy.check_uploader(owner)
    Email.objects.filter(user=owner).update(verified=False)
    with pytest.raises(UploadError) as caught:
        policy.check_uploader(owner)
    assert caught.value.status == 400
    assert caught.value.message.startswith(
        "User 'olivia' does not have a verified primary email address."
    )


def test_an_uploader_needs_two_factor_where_required(settings, owner):
    settings.REQUIRE_2FA_TO_UPLOAD = True
    with pytest.raises(UploadError) as caught:
        policy.check_uploader(owner)
    assert caught.value.status == 403
    assert "two-factor authentication is not enabled" in caught.value.message
    policy.check_uploader(give_two_factor(owner))
