import pytest

from accounts.models import ApiToken
from accounts.tokens import (
    LAST_USED_RESOLUTION,
    TokenError,
    api_token_create,
    api_token_match,
    api_token_record_use,
)
from tests.factories import basic

pytestmark = pytest.mark.django_db


def test_minted_secret_is_prefixed_and_only_its_digest_is_stored(owner):
    minted = api_token_create(user=owner, description="ci")
    assert minted.secret.startswith("pypi-")
    stored = ApiToken.objects.get()
    assert stored.lookup_id in minted.secret
    assert minted.secret.split("_", 1)[1] not in stored.secret_digest
    assert len(stored.secret_digest) == 64


def test_authenticate_returns_the_token(owner):
    minted = api_token_create(user=owner)
    assert api_token_match(minted.secret + "\n") == minted.token


@pytest.mark.parametrize(
    "raw, message",
    [
        ("hunter2", "does not start with 'pypi-'"),
        ("pypi-short_x", "malformed"),
        ("pypi-0123456789abcdef", "malformed"),
        # The lookup id goes into a query: PostgreSQL refuses a NUL there.
        ("pypi-0123456789abcde\x00_x", "malformed"),
        ("pypi-\x00123456789abcdef_x", "malformed"),
        ("pypi-0123456789ABCDEF_x", "malformed"),
        ("pypi-0123456789abcdeg_x", "malformed"),
        ("pypi-0123456789abcdef_nope", "non-existent"),
    ],
)
def test_bad_strings_are_refused(owner, raw, message):
    api_token_create(user=owner)
    with pytest.raises(TokenError, match=message):
        api_token_match(raw)


def test_wrong_secret_for_existing_id_is_refused(owner):
    minted = api_token_create(user=owner)
    with pytest.raises(TokenError, match="non-existent"):
        api_token_match(minted.secret + "x")


def test_record_use_stamps_last_used(owner):
    minted = api_token_create(user=owner)
    api_token_record_use(minted.token)
    minted.token.refresh_from_db()
    assert minted.token.last_used_at is not None


def test_record_use_writes_at_most_once_a_minute(owner, django_assert_num_queries):
    minted = api_token_create(user=owner)
    api_token_record_use(minted.token)
    first = minted.token.last_used_at
    with django_assert_num_queries(0):
        api_token_record_use(minted.token)
    assert minted.token.last_used_at == first
    ApiToken.objects.filter(pk=minted.token.pk).update(last_used_at=first - LAST_USED_RESOLUTION)
    minted.token.refresh_from_db()
    with django_assert_num_queries(1):
        api_token_record_use(minted.token)
    minted.token.refresh_from_db()
    assert minted.token.last_used_at > first
    assert "pypi-" in str(minted.token)


def test_a_nul_in_the_lookup_id_is_an_invalid_token_at_the_upload(client, owner):
    minted = api_token_create(user=owner)
    lookup_id = minted.token.lookup_id
    forged = minted.secret.replace(lookup_id, lookup_id[:-1] + "\x00")
    response = client.post("/legacy/", {":action": "file_upload"}, HTTP_AUTHORIZATION=basic(forged))
    assert response.status_code == 403
    assert "Invalid API token: malformed." in response.content.decode()
