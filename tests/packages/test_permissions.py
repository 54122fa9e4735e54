import pytest
from django.contrib.auth.models import AnonymousUser

from packages.models import Project, Role
from packages.permissions import user_can_upload, user_is_owner, user_role

pytestmark = pytest.mark.django_db


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
    assert user_can_upload(user, project) is can_upload
    assert user_is_owner(user, project) is is_owner


@pytest.mark.parametrize("check", [user_can_upload, user_is_owner])
@pytest.mark.parametrize("user", [None, AnonymousUser()], ids=["none", "anonymous"])
def test_no_user_may_act(project, check, user):
    assert check(user, project) is False


@pytest.mark.parametrize("check", [user_can_upload, user_is_owner])
def test_deactivated_owner_may_not_act(project, owner, check):
    owner.is_active = False
    owner.save()
    assert check(owner, project) is False


@pytest.mark.parametrize("check", [user_can_upload, user_is_owner])
def test_role_on_another_project_does_not_count(project, outsider, check):
    other = Project.objects.create(name="other", normalized_name="other")
    Role.objects.create(project=other, user=outsider, role_name=Role.Name.OWNER)
    assert check(outsider, project) is False


@pytest.mark.parametrize(("who", "role"), [("owner", "Owner"), ("maintainer", "Maintainer")])
def test_user_role_names_the_role(request, project, who, role):
    assert user_role(request.getfixturevalue(who), project) == role


def test_user_role_of_an_outsider_is_none(project, outsider):
    assert user_role(outsider, project) is None


@pytest.mark.parametrize("user", [None, AnonymousUser()], ids=["none", "anonymous"])
def test_user_role_of_nobody_is_none(project, user):
    assert user_role(user, project) is None


def test_user_role_of_a_deactivated_owner_is_none(project, owner):
    owner.is_active = False
    owner.save()
    assert user_role(owner, project) is None
