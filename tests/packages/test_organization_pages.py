"""The pages of organizations' projects: the public organization page
(/org/<name>/), the project page's owner, a project's "Organization & teams"
management page and an organization's projects under /manage/organization/."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Event, OrganizationRole
from packages.models import Project, Role, TeamRole
from packages.organization_projects import PUBLIC_PAGE_SIZE
from tests.conftest import give_two_factor
from tests.factories import make_release
from tests.packages import organization_cast
from tests.packages.organization_cast import make_organization, make_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(project, owner, maintainer, outsider):
    return organization_cast.build(project, owner, maintainer, outsider)


def signed_in(client, user):
    give_two_factor(user)
    client.force_login(user)
    return client


def manage_url(view_name, **kwargs):
    return reverse(view_name, kwargs=kwargs)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- /org/<name>/ ----------------------------------------------------------------------------


def test_the_organization_page(client, cast):
    cast.acme.display_name = "Acme Corporation"
    cast.acme.description = "We make anvils."
    cast.acme.link_url = "https://acme.example/"
    cast.acme.save()
    make_release(cast.project, "1.0", summary="Sample summary")

    response = client.get("/org/acme/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "<h1>Acme Corporation</h1>" in content
    assert "We make anvils." in content
    assert '<a href="https://acme.example/" rel="nofollow ugc">' in content
    assert response.context["members"] == 5
    assert "5 members" in content
    assert "1 project" in content
    assert [item.name for item in response.context["page"].object_list] == ["Sample.Project"]
    assert 'href="/project/sample-project/"' in content
    assert "Sample summary" in content
    assert response["Cache-Control"] == "public, max-age=60"
    # No project's key: the page is kept no longer than its max-age.
    assert "project-" not in response.get("Surrogate-Key", "")


def test_a_link_that_is_no_web_address_is_not_a_link(client, cast):
    cast.acme.link_url = "javascript:alert(1)"
    cast.acme.save()
    content = client.get("/org/acme/").content.decode()
    assert "javascript:" not in content


def test_other_spellings_redirect(client, cast):
    response = client.get("/org/ACME/")
    assert response.status_code == 301
    assert response["Location"] == "/org/acme/"


@pytest.mark.parametrize("path", ["/org/nobody/", "/org/-bad-/"])
def test_an_unknown_organization_is_a_404(client, cast, path):
    assert client.get(path).status_code == 404


def test_a_deactivated_organization_is_a_404(client, cast):
    cast.acme.is_active = False
    cast.acme.save()
    assert client.get("/org/acme/").status_code == 404


def test_projects_are_paginated_and_quarantine_hides_one(
    client, cast, django_assert_max_num_queries
):
    from django.utils import timezone

    for number in range(PUBLIC_PAGE_SIZE + 1):
        Project.objects.create(
            name=f"p{number:02}", normalized_name=f"p{number:02}", organization=cast.acme
        )
    Project.objects.filter(name="p00").update(quarantined_at=timezone.now())

    # The organization, its members, the count and the page's rows.
    with django_assert_max_num_queries(5):
        first = client.get("/org/acme/")
    assert first.context["page"].paginator.count == PUBLIC_PAGE_SIZE + 1
    assert len(first.context["page"].object_list) == PUBLIC_PAGE_SIZE
    assert "p00" not in first.content.decode()
    assert 'href="?page=2" rel="next"' in first.content.decode()
    second = client.get("/org/acme/?page=2")
    assert [item.name for item in second.context["page"].object_list] == ["Sample.Project"]
    assert 'href="?page=1" rel="prev"' in second.content.decode()


def test_an_organization_without_projects(client, outsider):
    make_organization("Empty", owners=[outsider])
    content = client.get("/org/empty/").content.decode()
    assert "Empty does not own any project yet." in content
    assert "1 member<" in content


# --- The project page --------------------------------------------------------------------------


def test_the_project_page_names_its_organization(client, cast):
    make_release(cast.project, "1.0")
    content = client.get("/project/sample-project/").content.decode()
    assert 'Owned by organization <a href="/org/acme/">Acme</a>' in content


def test_the_display_name_stands_for_the_organization(client, cast):
    cast.acme.display_name = "Acme Corporation"
    cast.acme.save()
    make_release(cast.project, "1.0")
    content = client.get("/project/sample-project/").content.decode()
    assert '<a href="/org/acme/">Acme Corporation</a>' in content


def test_a_deactivated_organization_is_named_without_a_link(client, cast):
    cast.acme.is_active = False
    cast.acme.save()
    make_release(cast.project, "1.0")
    content = client.get("/project/sample-project/").content.decode()
    assert "Owned by organization Acme</p>" in content


def test_a_project_of_people_names_no_organization(client, project):
    make_release(project, "1.0")
    assert "Owned by organization" not in client.get("/project/sample-project/").content.decode()


# --- A project's "Organization & teams" ------------------------------------------------------


def project_page_url(name="sample-project"):
    return manage_url("manage-project-organization", name=name)


def test_the_tab_is_on_every_project_management_page(client, project, maintainer):
    content = signed_in(client, maintainer).get(manage_url("manage-project", name="sample-project"))
    assert 'href="/manage/project/sample-project/organization/"' in content.content.decode()


def test_a_team_member_sees_the_organization_and_its_teams(client, cast):
    response = signed_in(client, cast.team_maintainer).get(project_page_url())
    assert response.status_code == 200
    content = response.content.decode()
    assert 'data-organization="acme"' in content
    assert [item.team.name for item in response.context["team_roles"]] == ["Core", "Devs"]
    # Neither moving out nor the teams are theirs to change.
    assert "Move Sample.Project out of Acme" not in content
    assert "Give a team a role" not in content


def test_an_organization_owner_may_move_it_out_and_give_teams_roles(client, cast):
    content = signed_in(client, cast.org_owner).get(project_page_url()).content.decode()
    assert "Move Sample.Project out of Acme" in content
    assert "Give a team a role" in content
    assert 'name="next" value="project"' in content


def test_an_organization_manager_without_a_role_sees_no_project_page(client, cast):
    # Managers give teams roles from the organization's list.
    assert signed_in(client, cast.org_manager).get(project_page_url()).status_code == 404


def test_an_owner_sees_the_organizations_they_may_move_it_into(client, project, owner):
    make_organization("Acme", owners=[owner])
    make_organization("Beta", managers=[owner])
    response = signed_in(client, owner).get(project_page_url())
    assert [item.name for item in response.context["owned_organizations"]] == ["Acme"]
    assert "Move it into an organization you own" in response.content.decode()


def test_an_owner_of_no_organization_is_told_how(client, project, owner):
    content = signed_in(client, owner).get(project_page_url()).content.decode()
    assert "belongs to no organization" in content
    assert "be an Owner of that organization" in content


def test_a_maintainer_is_offered_no_move(client, project, maintainer):
    make_organization("Acme", owners=[maintainer])
    response = signed_in(client, maintainer).get(project_page_url())
    assert response.context["owned_organizations"] == []
    assert "Move it into" not in response.content.decode()


def test_the_page_of_a_project_in_a_deactivated_organization(client, cast):
    cast.acme.is_active = False
    cast.acme.save()
    content = signed_in(client, cast.owner).get(project_page_url()).content.decode()
    assert "deactivated by the moderators" in content


def test_an_outsider_gets_a_404(client, cast):
    assert signed_in(client, cast.outsider).get(project_page_url()).status_code == 404


def test_moving_in_from_the_project_page(client, project, owner):
    make_organization("Acme", owners=[owner])
    response = signed_in(client, owner).post(
        manage_url("manage-project-move-in", name="sample-project"),
        {"organization": "acme"},
        follow=True,
    )
    assert response.redirect_chain == [(project_page_url(), 302)]
    assert messages_of(response) == ["Sample.Project now belongs to Acme."]
    assert Project.objects.get(pk=project.pk).organization.name == "Acme"


def test_the_organizations_history_names_the_project_moved_in(client, project, owner):
    make_organization("Acme", owners=[owner])
    signed_in(client, owner).post(
        manage_url("manage-project-move-in", name="sample-project"), {"organization": "acme"}
    )
    history = client.get(reverse("manage-organization-history", kwargs={"name": "acme"}))
    row = history.content.decode().split("Project moved into an organization", 1)[1]
    assert '<td data-label="Concerning">Sample.Project</td>' in row.split("</tr>", 1)[0]
    # The project's own history does not name itself in every row.
    own = client.get(manage_url("manage-project-history", name="sample-project")).content
    assert b'<td data-label="Concerning">Sample.Project</td>' not in own


@pytest.mark.parametrize("posted", [{"organization": "nobody"}, {}, {"organization": "a\x00"}])
def test_moving_into_an_unknown_organization(client, project, owner, posted):
    response = signed_in(client, owner).post(
        manage_url("manage-project-move-in", name="sample-project"), posted, follow=True
    )
    assert messages_of(response) == ["Choose one of your organizations."]
    assert Project.objects.get(pk=project.pk).organization is None


def test_moving_into_an_organization_one_does_not_own(client, project, owner, outsider):
    make_organization("Acme", owners=[outsider], members=[owner])
    response = signed_in(client, owner).post(
        manage_url("manage-project-move-in", name="sample-project"), {"organization": "acme"}
    )
    assert response.status_code == 403
    assert Project.objects.get(pk=project.pk).organization is None


def test_moving_in_again_is_a_message(client, cast):
    OrganizationRole.objects.create(organization=cast.acme, user=cast.owner, role_name="Owner")
    response = signed_in(client, cast.owner).post(
        manage_url("manage-project-move-in", name="sample-project"),
        {"organization": "acme"},
        follow=True,
    )
    assert messages_of(response) == ["Sample.Project already belongs to Acme."]


def test_a_maintainer_may_not_move_in(client, project, maintainer):
    make_organization("Acme", owners=[maintainer])
    response = signed_in(client, maintainer).post(
        manage_url("manage-project-move-in", name="sample-project"), {"organization": "acme"}
    )
    assert response.status_code == 403


# --- /manage/organization/<name>/projects/ -------------------------------------------------


def org_url(view_name="manage-organization-projects", organization="acme"):
    return manage_url(view_name, organization=organization)


def test_a_member_sees_the_projects_and_their_teams(client, cast):
    response = signed_in(client, cast.org_member).get(org_url())
    assert response.status_code == 200
    content = response.content.decode()
    assert "1 project" in content
    # The organization's own tabs, as on its other management pages.
    assert 'href="/manage/organization/acme/teams/"' in content
    assert 'href="/manage/organization/acme/projects/" aria-current="page">Projects' in content
    assert "Team <strong>Core</strong>: Owner" in content
    assert "Team <strong>Devs</strong>: Maintainer" in content
    assert "Give the role" not in content
    assert "Move Sample.Project out" not in content
    assert "Move a project in" not in content


def test_a_manager_may_give_roles_but_not_move(client, cast):
    content = signed_in(client, cast.org_manager).get(org_url()).content.decode()
    assert "Give the role" in content
    assert "Move Sample.Project out" not in content


def test_an_owner_may_move_projects_in_and_out(client, cast, owner):
    mine = Project.objects.create(name="mine", normalized_name="mine")
    Role.objects.create(project=mine, user=cast.org_owner, role_name="Owner")
    response = signed_in(client, cast.org_owner).get(org_url())
    content = response.content.decode()
    assert "Move Sample.Project out" in content
    assert response.context["movable"] == [mine]
    assert '<option value="mine">mine</option>' in content


def test_an_owner_with_nothing_to_move_in(client, cast):
    content = signed_in(client, cast.org_owner).get(org_url()).content.decode()
    assert "You are the Owner of no project outside an organization." in content


def test_a_quarantined_project_is_listed_unlinked(client, cast):
    from django.utils import timezone

    Project.objects.filter(pk=cast.project.pk).update(quarantined_at=timezone.now())
    content = signed_in(client, cast.org_owner).get(org_url()).content.decode()
    assert 'Sample.Project <span class="badge">quarantined</span>' in content


def test_an_organization_without_projects_says_so(client, outsider):
    make_organization("Empty", owners=[outsider])
    response = signed_in(client, outsider).get(org_url(organization="empty"))
    assert "Empty owns no project yet." in response.content.decode()


@pytest.mark.parametrize("organization", ["acme", "nobody"])
def test_a_non_member_gets_a_404(client, cast, organization):
    response = signed_in(client, cast.outsider).get(org_url(organization=organization))
    assert response.status_code == 404


def test_the_organizations_projects_redirect_to_the_normalized_name(client, cast):
    response = signed_in(client, cast.org_member).get(org_url(organization="ACME"))
    assert response.status_code == 301
    assert response["Location"] == org_url()


def test_signing_in_is_needed(client, cast):
    response = client.get(org_url())
    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/")


def test_moving_a_project_in_from_the_organizations_list(client, cast):
    mine = Project.objects.create(name="mine", normalized_name="mine")
    Role.objects.create(project=mine, user=cast.org_owner, role_name="Owner")
    response = signed_in(client, cast.org_owner).post(
        org_url("manage-organization-project-add"), {"project": "mine"}, follow=True
    )
    assert response.redirect_chain == [(org_url(), 302)]
    assert messages_of(response) == ["mine now belongs to Acme."]
    assert Project.objects.get(pk=mine.pk).organization == cast.acme


@pytest.mark.parametrize("posted", [{"project": "elsewhere"}, {"project": "x\x00"}, {}])
def test_moving_in_a_project_one_has_no_role_on_is_a_404(client, cast, posted):
    Project.objects.create(name="elsewhere", normalized_name="elsewhere")
    response = signed_in(client, cast.org_owner).post(
        org_url("manage-organization-project-add"), posted
    )
    assert response.status_code == 404


def test_a_manager_may_not_move_in(client, cast):
    mine = Project.objects.create(name="mine", normalized_name="mine")
    Role.objects.create(project=mine, user=cast.org_manager, role_name="Owner")
    response = signed_in(client, cast.org_manager).post(
        org_url("manage-organization-project-add"), {"project": "mine"}
    )
    assert response.status_code == 403


def test_moving_a_project_of_the_organization_in_again(client, cast):
    response = signed_in(client, cast.org_owner).post(
        org_url("manage-organization-project-add"), {"project": "sample-project"}, follow=True
    )
    assert messages_of(response) == ["Sample.Project already belongs to Acme."]


def test_moving_a_project_out_from_the_project_page(client, cast):
    response = signed_in(client, cast.org_owner).post(
        org_url("manage-organization-project-remove"),
        {"project": "sample-project", "next": "project"},
        follow=True,
    )
    # Back to the organization's list: the mover may hold no role on it any more.
    assert response.redirect_chain == [(org_url(), 302)]
    assert messages_of(response) == ["Sample.Project no longer belongs to Acme."]
    assert Project.objects.get(pk=cast.project.pk).organization is None
    assert Event.objects.filter(tag="project:organization:removed").count() == 1


def test_a_manager_may_not_move_out(client, cast):
    response = signed_in(client, cast.org_manager).post(
        org_url("manage-organization-project-remove"), {"project": "sample-project"}
    )
    assert response.status_code == 403
    assert Project.objects.get(pk=cast.project.pk).organization == cast.acme


def test_moving_out_a_project_of_another_organization_is_a_404(client, cast):
    Project.objects.create(name="elsewhere", normalized_name="elsewhere")
    response = signed_in(client, cast.org_owner).post(
        org_url("manage-organization-project-remove"), {"project": "elsewhere"}
    )
    assert response.status_code == 404


def test_giving_a_team_a_role_from_the_list(client, cast):
    qa = make_team(cast.acme, "QA")
    response = signed_in(client, cast.org_manager).post(
        org_url("manage-organization-team-role"),
        {"project": "sample-project", "team": str(qa.pk), "role_name": "Maintainer"},
        follow=True,
    )
    assert response.redirect_chain == [(org_url(), 302)]
    assert messages_of(response) == ["The team QA is Maintainer of Sample.Project."]
    assert TeamRole.objects.get(team=qa).role_name == "Maintainer"


def test_changing_a_teams_role_from_the_project_page(client, cast):
    response = signed_in(client, cast.org_owner).post(
        org_url("manage-organization-team-role"),
        {
            "project": "sample-project",
            "team": str(cast.devs.pk),
            "role_name": "Owner",
            "next": "project",
        },
        follow=True,
    )
    assert response.redirect_chain == [(project_page_url(), 302)]
    assert TeamRole.objects.get(team=cast.devs).role_name == "Owner"


def test_a_refused_team_role_is_a_message(client, cast):
    response = signed_in(client, cast.org_owner).post(
        org_url("manage-organization-team-role"),
        {"project": "sample-project", "team": str(cast.devs.pk), "role_name": "Admin"},
        follow=True,
    )
    assert messages_of(response) == ["Choose Owner or Maintainer."]


@pytest.mark.parametrize("team", ["0", "abc", "999999"])
def test_an_unknown_team_is_a_404(client, cast, team):
    response = signed_in(client, cast.org_owner).post(
        org_url("manage-organization-team-role"),
        {"project": "sample-project", "team": team, "role_name": "Owner"},
    )
    assert response.status_code == 404


def test_another_organizations_team_is_a_404(client, cast):
    other = make_organization("Other", owners=[cast.org_owner])
    theirs = make_team(other, "Theirs")
    response = signed_in(client, cast.org_owner).post(
        org_url("manage-organization-team-role"),
        {"project": "sample-project", "team": str(theirs.pk), "role_name": "Owner"},
    )
    assert response.status_code == 404


def test_a_member_may_not_give_roles(client, cast):
    response = signed_in(client, cast.org_member).post(
        org_url("manage-organization-team-role"),
        {"project": "sample-project", "team": str(cast.devs.pk), "role_name": "Owner"},
    )
    assert response.status_code == 403


def test_removing_a_teams_role(client, cast):
    response = signed_in(client, cast.org_manager).post(
        org_url("manage-organization-team-role-remove"),
        {"project": "sample-project", "team": str(cast.core.pk), "next": "project"},
        follow=False,
    )
    assert response.status_code == 302
    assert response["Location"] == project_page_url()
    assert not TeamRole.objects.filter(team=cast.core).exists()


def test_removing_a_role_the_team_does_not_hold_is_a_message(client, cast):
    qa = make_team(cast.acme, "QA")
    response = signed_in(client, cast.org_manager).post(
        org_url("manage-organization-team-role-remove"),
        {"project": "sample-project", "team": str(qa.pk)},
        follow=True,
    )
    assert messages_of(response) == ["The team QA holds no role on Sample.Project."]


@pytest.mark.parametrize(
    "view_name",
    [
        "manage-organization-project-add",
        "manage-organization-project-remove",
        "manage-organization-team-role",
        "manage-organization-team-role-remove",
    ],
)
def test_changes_are_posted(client, cast, view_name):
    assert signed_in(client, cast.org_owner).get(org_url(view_name)).status_code == 405


def test_moving_in_is_posted(client, project, owner):
    response = signed_in(client, owner).get(
        manage_url("manage-project-move-in", name="sample-project")
    )
    assert response.status_code == 405


# --- "Your projects" --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "role"),
    [("org_owner", "Owner"), ("team_owner", "Owner"), ("team_maintainer", "Maintainer")],
)
def test_your_projects_lists_those_held_through_an_organization(client, cast, who, role):
    response = signed_in(client, cast.person(who)).get(manage_url("manage-projects"))
    assert response.context["through_organizations"] == [(cast.project, role)]
    content = response.content.decode()
    assert "Through your organizations" in content
    assert 'href="/manage/project/sample-project/"' in content
    assert 'href="/manage/organization/acme/projects/"' in content


@pytest.mark.parametrize("who", ["owner", "org_manager", "outsider"])
def test_your_projects_lists_no_project_twice_or_unreachable(client, cast, who):
    response = signed_in(client, cast.person(who)).get(manage_url("manage-projects"))
    assert response.context["through_organizations"] == []
    assert "Through your organizations" not in response.content.decode()


def test_your_projects_costs_a_fixed_number_of_queries(client, cast, django_assert_num_queries):
    signed_in(client, cast.team_maintainer)
    client.get(manage_url("manage-projects"))  # the session's first reads
    with CaptureQueriesContext(connection) as one:
        client.get(manage_url("manage-projects"))
    for number in range(5):
        project = Project.objects.create(
            name=f"p{number}", normalized_name=f"p{number}", organization=cast.acme
        )
        TeamRole.objects.create(team=cast.devs, project=project, role_name="Maintainer")
    with django_assert_num_queries(len(one.captured_queries)):
        response = client.get(manage_url("manage-projects"))
    assert len(response.context["through_organizations"]) == 6


# --- API tokens (accounts asks packages.roles) ------------------------------------------------


def test_a_teams_member_scopes_a_token_to_the_teams_project(client, cast):
    from accounts.models import ApiToken

    signed_in(client, cast.team_maintainer)
    page = client.get("/manage/account/tokens/new/").content.decode()
    assert "Sample.Project" in page
    client.post(
        "/manage/account/tokens/new/",
        {"description": "ci", "scope": "projects", "projects": [cast.project.pk], "expiry": "30"},
    )
    token = ApiToken.objects.get(user=cast.team_maintainer)
    assert list(token.projects.all()) == [cast.project]


def test_a_manager_may_not_scope_a_token_to_a_project_no_team_of_theirs_holds(client, cast):
    from accounts.models import ApiToken

    signed_in(client, cast.org_manager)
    response = client.post(
        "/manage/account/tokens/new/",
        {"description": "ci", "scope": "projects", "projects": [cast.project.pk], "expiry": "30"},
    )
    # The form again, with the refusal of an id that is none of theirs.
    assert "Select a valid choice" in response.content.decode()
    assert not ApiToken.objects.filter(user=cast.org_manager).exists()
