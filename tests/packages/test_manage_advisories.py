"""The release's management page: deprecation and advisories entered by hand,
through the test client (packages.views.manage_advisories)."""

import pytest
from django.urls import reverse

from accounts.models import Event
from packages.models import Advisory, Release
from tests.conftest import give_two_factor
from tests.factories import make_release

pytestmark = pytest.mark.django_db

IP = "203.0.113.51"


@pytest.fixture(autouse=True)
def _two_factor(settings, owner, maintainer, outsider):
    settings.REQUIRE_2FA_TO_MANAGE = True
    for user in (owner, maintainer, outsider):
        give_two_factor(user)


@pytest.fixture
def release(project):
    return make_release(project, "1.0")


def url(name: str, version: str = "1.0") -> str:
    return reverse(name, args=["sample-project", version])


def post(client, name: str, data=None, version: str = "1.0"):
    """The answer, and the messages the page it leads to shows (read, so the
    next request starts without them)."""
    response = client.post(url(name, version), data or {}, REMOTE_ADDR=IP)
    if response.status_code != 302:
        return response, []
    page = client.get(response["Location"])
    return response, [str(message) for message in page.context["messages"]]


def test_owner_deprecates_and_undoes(client, owner, release):
    client.force_login(owner)

    response, said = post(client, "manage-release-deprecate", {"reason": "Use 2.0"})

    assert response.status_code == 302
    assert response["Location"] == url("manage-release")
    assert said == ["Sample.Project 1.0 is marked deprecated."]
    assert Release.objects.get(pk=release.pk).deprecated_reason == "Use 2.0"
    event = Event.objects.get(tag="project:release:deprecated")
    assert (event.actor, event.ip_address) == (owner, IP)
    page = client.get(url("manage-release"))
    assert b"This release is deprecated since" in page.content
    assert b"Use 2.0" in page.content
    assert url("manage-release-undeprecate").encode() in page.content

    _response, said = post(client, "manage-release-undeprecate")

    assert said == ["Sample.Project 1.0 is no longer deprecated."]
    assert Release.objects.get(pk=release.pk).deprecated_at is None
    _response, said = post(client, "manage-release-undeprecate")
    assert said == ["Sample.Project 1.0 is not deprecated."]


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Give a reason: it is shown with the mark to everyone."),
        ("a\x00b", "reason: Null characters are not allowed."),
    ],
)
def test_deprecation_without_a_usable_reason_is_refused(client, owner, release, reason, message):
    client.force_login(owner)

    _response, said = post(client, "manage-release-deprecate", {"reason": reason})

    assert said == [message]
    assert Release.objects.get(pk=release.pk).deprecated_at is None


def test_owner_attaches_withdraws_and_deletes_an_advisory(client, owner, release):
    client.force_login(owner)
    data = {
        "osv_id": "LOCAL-7",
        "summary": "Leaks the token",
        "link": "https://example.com/advisory",
        "fixed_in": "1.1, 2.0",
        "aliases": "CVE-2025-7 GHSA-aaaa-bbbb-cccc",
    }

    _response, said = post(client, "manage-advisory-attach", data)

    assert said == ["LOCAL-7 marks Sample.Project 1.0 insecure."]
    stored = Advisory.objects.get()
    assert (stored.source, stored.created_by) == ("index", owner)
    assert stored.affected_versions == ["1.0"]
    assert stored.fixed_in == ["1.1", "2.0"]
    assert stored.aliases == ["CVE-2025-7", "GHSA-aaaa-bbbb-cccc"]
    assert stored.link == "https://example.com/advisory"
    page = client.get(url("manage-release"))
    assert b"LOCAL-7" in page.content and b"(fixed in 1.1, 2.0)" in page.content

    _response, said = post(client, "manage-advisory-withdraw", {"advisory": stored.pk})

    assert said == ["LOCAL-7 is withdrawn."]
    assert Advisory.objects.get().withdrawn_at is not None
    _response, said = post(client, "manage-advisory-withdraw", {"advisory": stored.pk})
    assert said == ["LOCAL-7 is already withdrawn."]

    _response, said = post(client, "manage-advisory-delete", {"advisory": stored.pk})

    assert said == ["LOCAL-7 is deleted."]
    assert not Advisory.objects.exists()


def test_attach_with_bad_input_says_why(client, owner, release):
    client.force_login(owner)

    _response, said = post(client, "manage-advisory-attach", {"osv_id": "x", "summary": ""})
    _response, said_link = post(
        client, "manage-advisory-attach", {"osv_id": "L-1", "summary": "s", "link": "ftp://x"}
    )

    assert said == ["summary: This field is required."]
    assert said_link == ["The link must be an http:// or https:// address."]
    assert not Advisory.objects.exists()


def test_owners_cannot_hide_an_imported_advisory(client, owner, project, release):
    imported = Advisory.objects.create(
        project=project, osv_id="PYSEC-1", affected_versions=["1.0"], source="osv"
    )
    client.force_login(owner)

    page = client.get(url("manage-release"))
    _response, withdrawn = post(client, "manage-advisory-withdraw", {"advisory": imported.pk})
    _response, deleted = post(client, "manage-advisory-delete", {"advisory": imported.pk})

    assert b"ask the moderators if it is wrong" in page.content
    refusal = (
        "PYSEC-1 is imported from an advisory database; ask the index's moderators if it is wrong."
    )
    assert withdrawn == deleted == [refusal]
    assert Advisory.objects.get().withdrawn_at is None


def test_an_advisory_of_another_project_or_no_id_is_a_404(client, owner, release):
    other = make_release(
        __import__("packages.models", fromlist=["Project"]).Project.objects.create(
            name="other", normalized_name="other"
        ),
        "1.0",
    )
    foreign = Advisory.objects.create(project=other.project, osv_id="X-1")
    client.force_login(owner)

    for data in ({"advisory": foreign.pk}, {"advisory": "abc"}, {}):
        response, _said = post(client, "manage-advisory-delete", data)
        assert response.status_code == 404
    assert Advisory.objects.filter(pk=foreign.pk).exists()


@pytest.mark.parametrize(
    "name",
    [
        "manage-release-deprecate",
        "manage-release-undeprecate",
        "manage-advisory-attach",
        "manage-advisory-withdraw",
        "manage-advisory-delete",
    ],
)
@pytest.mark.parametrize(("who", "status"), [("maintainer", 403), ("outsider", 404)])
def test_only_owners_may(request, client, release, name, who, status):
    client.force_login(request.getfixturevalue(who))

    response, _said = post(client, name, {"reason": "x", "osv_id": "L-1", "summary": "s"})

    assert response.status_code == status
    assert Release.objects.get(pk=release.pk).deprecated_at is None
    assert not Advisory.objects.exists()


def test_maintainers_see_the_marks_without_the_forms(client, maintainer, project, release):
    Advisory.objects.create(
        project=project, osv_id="LOCAL-1", affected_versions=["1.0"], source="index"
    )
    client.force_login(maintainer)

    page = client.get(url("manage-release"))

    assert b"LOCAL-1" in page.content
    assert url("manage-advisory-withdraw").encode() not in page.content
    assert url("manage-release-deprecate").encode() not in page.content
    assert b"No advisory names this release." not in page.content


def test_a_release_without_advisories_says_so(client, owner, release):
    client.force_login(owner)

    page = client.get(url("manage-release"))

    assert b"No advisory names this release." in page.content
    assert url("manage-release-deprecate").encode() in page.content
