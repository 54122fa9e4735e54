from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from packages.policy import upload_token

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command("create_api_token", *args, stdout=out)
    return out.getvalue()


def test_prints_only_a_working_user_wide_token(owner):
    output = run("olivia")
    assert output.count("\n") == 1
    token = upload_token(output.strip())
    assert token.user == owner
    assert token.projects.count() == 0


def test_scoped_to_named_projects_by_any_spelling(project, owner):
    token = upload_token(run("olivia", "--project", "SAMPLE_project").strip())
    assert list(token.projects.all()) == [project]


def test_unknown_user(db):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        run("nobody")


def test_unknown_project(owner):
    with pytest.raises(CommandError, match="No project named 'nope'"):
        run("olivia", "--project", "nope")


def test_project_the_user_has_no_role_in(project, outsider):
    with pytest.raises(CommandError, match="not an Owner or Maintainer"):
        run("oscar", "--project", "sample-project")
