import pytest
from django.urls import reverse

from accounts import services
from accounts.models import User
from packages.models import Project, Role

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
DELETE = "/account/delete/"


def delete(client, password=PASSWORD):
    return client.post(DELETE, {"password": password}, follow=True)


def test_delete_url_and_page(client, outsider):
    assert reverse("account-delete") == DELETE
    client.force_login(outsider)
    response = client.get(DELETE)
    assert "no-cache" in response["Cache-Control"]
    html = response.content.decode()
    assert '<label for="id_password"' in html
    assert "You are the only Owner" not in html


def test_account_without_projects_is_deleted_and_signed_out(client, outsider):
    client.force_login(outsider)
    response = delete(client)
    assert response.redirect_chain[-1][0] == reverse("home")
    assert not User.objects.filter(pk=outsider.pk).exists()
    assert "_auth_user_id" not in client.session


def test_delete_needs_the_password(client, outsider):
    client.force_login(outsider)
    response = delete(client, password="wrong")
    assert response.context["form"].errors["password"] == ["That is not your password."]
    assert User.objects.filter(pk=outsider.pk).exists()


def test_sole_owner_is_refused_with_the_project_names(client, owner, project):
    other = Project.objects.create(name="Another", normalized_name="another")
    Role.objects.create(project=other, user=owner, role_name=Role.Name.OWNER)
    client.force_login(owner)
    page = client.get(DELETE).content.decode()
    assert "You are the only Owner of Another, Sample.Project." in page
    response = delete(client)
    html = response.content.decode()
    assert "You are the only Owner of Another, Sample.Project. Add another Owner" in html
    assert "delete those projects first." in html
    assert User.objects.filter(pk=owner.pk).exists()


def test_refusal_for_one_project_says_that_project(owner, project):
    with pytest.raises(services.AccountError, match=r"Sample\.Project\. .*that project first"):
        services.user_delete(user=owner)


def test_maintainer_may_leave(client, maintainer, project):
    client.force_login(maintainer)
    delete(client)
    assert not User.objects.filter(pk=maintainer.pk).exists()
    assert list(project.roles.values_list("user__username", flat=True)) == ["olivia"]


def test_owner_with_a_co_owner_may_leave(client, owner, outsider, project):
    Role.objects.create(project=project, user=outsider, role_name=Role.Name.OWNER)
    assert services.sole_owner_projects(owner) == []
    client.force_login(owner)
    delete(client)
    assert not User.objects.filter(pk=owner.pk).exists()
    assert list(project.roles.filter(role_name=Role.Name.OWNER)) == [
        Role.objects.get(user=outsider)
    ]


def test_a_maintainer_is_not_a_co_owner(owner, project):
    # project has a Maintainer (max) besides its one Owner.
    assert services.sole_owner_projects(owner) == ["Sample.Project"]
