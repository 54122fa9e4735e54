"""Every kind of visitor against every management action: the exact answer.

anonymous -> the login page; signed in without 2FA (REQUIRE_2FA_TO_MANAGE on)
-> the 2FA settings; no role -> 404, exactly as an unknown project; a
Maintainer sees releases and collaborators but gets 403 on everything else;
an Owner may do it all. A refused POST changes nothing (no project event)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Event
from packages.collaborators import invitation_token
from packages.models import Role, RoleInvitation
from tests.conftest import give_two_factor, verified_user
from tests.factories import add_file, make_release, make_wheel

pytestmark = pytest.mark.django_db

LOGIN = "login"
TWO_FACTOR = "two-factor"
ACTORS = ["anonymous", "no_2fa", "outsider", "maintainer", "owner"]


@pytest.fixture
def world(project, owner, maintainer, outsider, settings):
    settings.REQUIRE_2FA_TO_MANAGE = True
    for user in (owner, maintainer, outsider):
        give_two_factor(user)
    mia = verified_user("mia")
    Role.objects.create(project=project, user=mia, role_name=Role.Name.MAINTAINER)
    release = make_release(project, "1.0")
    wheel = add_file(release, make_wheel("sample-project", "1.0"))
    make_release(project, "0.9", yanked=True, yanked_reason="old")
    invitation = RoleInvitation.objects.create(
        project=project,
        user=outsider,
        role_name=Role.Name.MAINTAINER,
        invited_by=owner,
        expires_at=timezone.now() + timedelta(days=1),
    )
    verified_user("zoe")
    no_2fa = verified_user("nina")
    Role.objects.create(project=project, user=no_2fa, role_name=Role.Name.OWNER)
    return {
        "owner": owner,
        "maintainer": maintainer,
        "outsider": outsider,
        "no_2fa": no_2fa,
        "anonymous": None,
        "wheel": wheel,
        "invitation": invitation,
    }


P = {"name": "sample-project"}
R = {"name": "sample-project", "version": "1.0"}


def cases():
    """(id, method, url name, kwargs, data, {actor: expected}) where expected
    is a status code or a URL name the answer redirects to. The first two
    actors always get LOGIN and TWO_FACTOR and are added below."""
    owner_only = {"outsider": 404, "maintainer": 403}
    visible = {"outsider": 404, "maintainer": 200, "owner": 200}
    return [
        (
            "projects",
            "get",
            "manage-projects",
            {},
            None,
            {"outsider": 200, "maintainer": 200, "owner": 200},
        ),
        ("releases", "get", "manage-project", P, None, visible),
        ("release", "get", "manage-release", R, None, visible),
        (
            "yank",
            "post",
            "manage-release-yank",
            R,
            {"reason": "x"},
            {**owner_only, "owner": "manage-project"},
        ),
        (
            "unyank",
            "post",
            "manage-release-unyank",
            {**P, "version": "0.9"},
            {},
            {**owner_only, "owner": "manage-project"},
        ),
        (
            "delete release",
            "post",
            "manage-release-delete",
            R,
            {"confirm": "1.0"},
            {**owner_only, "owner": "manage-project"},
        ),
        (
            "delete file",
            "post",
            "manage-file-delete",
            R,
            {"file": "WHEEL", "confirm": "sample_project-1.0-py3-none-any.whl"},
            {**owner_only, "owner": "manage-release"},
        ),
        ("collaborators", "get", "manage-collaborators", P, None, visible),
        (
            "invite",
            "post",
            "manage-collaborator-invite",
            P,
            {"username": "zoe", "role_name": "Maintainer"},
            {**owner_only, "owner": "manage-collaborators"},
        ),
        (
            "change role",
            "post",
            "manage-collaborator-change",
            P,
            {"username": "mia", "role_name": "Owner"},
            {**owner_only, "owner": "manage-collaborators"},
        ),
        (
            "remove other",
            "post",
            "manage-collaborator-remove",
            P,
            {"username": "mia"},
            {**owner_only, "owner": "manage-collaborators"},
        ),
        (
            "revoke invitation",
            "post",
            "manage-invitation-revoke",
            P,
            {"invitation": "INVITATION"},
            {**owner_only, "owner": "manage-collaborators"},
        ),
        ("history", "get", "manage-project-history", P, None, {**owner_only, "owner": 200}),
        ("settings", "get", "manage-project-settings", P, None, {**owner_only, "owner": 200}),
        (
            "delete project",
            "post",
            "manage-project-delete",
            P,
            {"confirm": "Sample.Project"},
            {**owner_only, "owner": "manage-projects"},
        ),
        (
            "invitation link",
            "get",
            "manage-invitation",
            {},
            "TOKEN",
            {"outsider": 200, "maintainer": 403, "owner": 403},
        ),
        (
            "answer invitation",
            "post",
            "manage-invitation-answer",
            {"pk": "INVITATION"},
            {"action": "decline"},
            {"outsider": "manage-projects", "maintainer": 404, "owner": 404},
        ),
    ]


def matrix():
    for case, method, url_name, kwargs, data, expected in cases():
        answers = {"anonymous": LOGIN, "no_2fa": TWO_FACTOR, **expected}
        for actor in ACTORS:
            yield pytest.param(
                method, url_name, kwargs, data, actor, answers[actor], id=f"{case}-{actor}"
            )


def redirect_target(name: str) -> str:
    return {
        TWO_FACTOR: reverse(TWO_FACTOR),
        "manage-projects": reverse("manage-projects"),
        "manage-project": reverse("manage-project", kwargs=P),
        "manage-release": reverse("manage-release", kwargs=R),
        "manage-collaborators": reverse("manage-collaborators", kwargs=P),
    }[name]


@pytest.mark.parametrize(
    ("method", "url_name", "kwargs", "data", "actor", "expected"), list(matrix())
)
def test_permission_matrix(client, world, method, url_name, kwargs, data, actor, expected):
    invitation = world["invitation"]
    kwargs = {k: invitation.pk if v == "INVITATION" else v for k, v in kwargs.items()}
    url = reverse(url_name, kwargs=kwargs)
    if data == "TOKEN":
        url += "?token=" + invitation_token(invitation)
        data = None
    if isinstance(data, dict):
        replace = {"WHEEL": world["wheel"].pk, "INVITATION": invitation.pk}
        data = {k: replace.get(v, v) for k, v in data.items()}
    if world[actor] is not None:
        client.force_login(world[actor])
    events_before = Event.objects.filter(tag__startswith="project:").count()

    response = getattr(client, method)(url, data)

    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
    elif isinstance(expected, str):
        assert response.status_code == 302
        assert response["Location"] == redirect_target(expected)
    else:
        assert response.status_code == expected
    # Every page is private and never cached, the refusals included.
    assert "no-cache" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    events = Event.objects.filter(tag__startswith="project:").count()
    changed = method == "post" and actor in ("owner", "outsider") and isinstance(expected, str)
    assert events == events_before + (1 if changed else 0)
