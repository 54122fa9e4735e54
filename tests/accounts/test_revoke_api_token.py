"""manage.py revoke_api_token: a whole token or the start the token pages show."""

import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ApiToken, Event
from accounts.tokens import TokenError, api_token_create, api_token_revoke
from packages.policy import upload_token

pytestmark = pytest.mark.django_db


def run(text: str) -> str:
    out = StringIO()
    call_command("revoke_api_token", text, stdout=out)
    return out.getvalue()


def refused(text: str) -> CommandError:
    with pytest.raises(CommandError) as excinfo:
        run(text)
    assert excinfo.value.returncode == 1
    return excinfo.value


def with_lookup_id(minted, lookup_id: str) -> ApiToken:
    ApiToken.objects.filter(pk=minted.token.pk).update(lookup_id=lookup_id)
    return ApiToken.objects.get(pk=minted.token.pk)


@pytest.fixture
def minted(owner):
    return api_token_create(user=owner, description="laptop")


def assert_revoked_once(minted) -> None:
    with pytest.raises(TokenError, match="revoked"):
        upload_token(minted.secret)
    # The same event as a revocation on the token pages, in the owner's history.
    events = Event.objects.filter(tag="account:token:revoked", user=minted.token.user)
    assert [event.details for event in events] == [
        {"token": f"pypi-{minted.token.lookup_id}", "description": "laptop"}
    ]


def test_the_whole_token(minted):
    output = run(minted.secret)
    assert output == f"Revoked pypi-{minted.token.lookup_id}… (olivia, “laptop”).\n"
    assert_revoked_once(minted)


@pytest.mark.parametrize(
    "spelling",
    [
        "pypi-{lookup6}",
        "pypi-{lookup}…",  # copied from the token page, ellipsis and all
        "pypi-{lookup6}...",
        "  pypi-{upper}  ",  # spaces around, capital hex
        "{lookup6}",  # the hex alone
        "pypi-{upper}",
    ],
)
def test_the_start_of_the_token(minted, spelling):
    lookup = minted.token.lookup_id
    text = spelling.format(lookup=lookup, lookup6=lookup[:6], upper=lookup[:8].upper())
    assert run(text) == f"Revoked pypi-{lookup}… (olivia, “laptop”).\n"
    assert_revoked_once(minted)


def test_a_token_without_description_is_named_by_its_owner(owner):
    minted = api_token_create(user=owner)
    assert run(minted.secret) == f"Revoked pypi-{minted.token.lookup_id}… (olivia).\n"


def test_only_the_named_token_is_revoked(owner, minted):
    other = api_token_create(user=owner, description="ci")
    run(minted.secret)
    assert upload_token(other.secret) == other.token


@pytest.mark.parametrize("text", ["pypi-0123456789abcdef_wrong", "pypi-ffff"])
def test_unknown_token_or_prefix(minted, text):
    with_lookup_id(minted, "0123456789abcdef")
    assert "No API token matches" in str(refused(text))
    assert upload_token(f"pypi-0123456789abcdef_{minted.secret.split('_', 1)[1]}")


@pytest.mark.parametrize("text", ["hello", "pypi-", "pypi-xyz", "pypi-0123456789abcdef0", ""])
def test_neither_a_token_nor_its_start(minted, text):
    assert "is neither an API token nor its start" in str(refused(text))


def test_an_ambiguous_start_names_the_candidates_and_revokes_nothing(owner, outsider):
    first = with_lookup_id(api_token_create(user=owner, description="a"), "abcd000000000001")
    with_lookup_id(api_token_create(user=outsider), "abcd000000000002")
    api_token_revoke(first)

    message = str(refused("pypi-abcd"))

    assert message.startswith("2 API tokens start so; give more characters.")
    assert "pypi-abcd000000000001… (olivia, “a”) revoked" in message
    assert "pypi-abcd000000000002… (oscar)" in message
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 1


def test_many_candidates_are_cut_short(owner):
    for number in range(12):
        with_lookup_id(api_token_create(user=owner), f"abcd{number:012x}")
    message = str(refused("pypi-abcd"))
    assert message.count("pypi-abcd") == 10
    assert message.endswith("... and 2 more")


def test_an_already_revoked_token(minted):
    run(minted.secret)
    message = str(refused(f"pypi-{minted.token.lookup_id}"))
    assert "(olivia, “laptop”) was already revoked at" in message
    assert_revoked_once(minted)  # no second event


def test_exit_status_and_message_from_the_shell(db):
    # What an operator sees: the message on stderr and exit status 1.
    result = subprocess.run(
        [sys.executable, "manage.py", "revoke_api_token", "hello"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "is neither an API token nor its start" in result.stderr
