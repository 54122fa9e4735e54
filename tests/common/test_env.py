"""The readers the settings are built with: each takes a well-formed value and
refuses a malformed one, naming the variable."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from common.env import (
    SmtpServer,
    database_url,
    env_bool,
    env_int,
    env_list,
    env_networks,
    env_rate,
    env_secret,
    env_str,
    generated_secret_key,
    loopback_only,
    smtp_url,
)


def test_unset_and_empty_variables_take_the_default(monkeypatch):
    monkeypatch.delenv("H25_UNSET", raising=False)
    monkeypatch.setenv("H25_EMPTY", "")
    assert env_str("H25_UNSET", "default") == "default"
    assert env_bool("H25_EMPTY", True) is True
    assert env_int("H25_EMPTY", 7) == 7
    assert env_list("H25_EMPTY", ["a"]) == ["a"]
    assert env_rate("H25_EMPTY", "3/60") == (3, 60)
    assert env_secret("H25_UNSET") == ""


@pytest.mark.parametrize(
    "value, expected", [("10/300", (10, 300)), (" 1/1 ", (1, 1)), ("50/3600", (50, 3600))]
)
def test_rates(monkeypatch, value, expected):
    monkeypatch.setenv("RATELIMIT_X", value)
    assert env_rate("RATELIMIT_X", "1/1") == expected


@pytest.mark.parametrize("value", ["10", "0/300", "10/0", "ten/300", "10/300/2", "-1/300"])
def test_malformed_rates_are_refused(monkeypatch, value):
    monkeypatch.setenv("RATELIMIT_X", value)
    with pytest.raises(ImproperlyConfigured, match=r"RATELIMIT_X='.*' is not a rate; use"):
        env_rate("RATELIMIT_X", "1/1")


def test_networks(monkeypatch):
    monkeypatch.setenv("PROXIES", "127.0.0.1, 10.1.2.3/8,::1")
    assert env_networks("PROXIES") == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    monkeypatch.setenv("PROXIES", "10.0.0.0/8,edge")
    with pytest.raises(ImproperlyConfigured, match="PROXIES: 'edge' is not an IP address"):
        env_networks("PROXIES")


@pytest.mark.parametrize(
    "hosts, expected",
    [
        (["127.0.0.1", "localhost", "[::1]", "::1"], True),
        (["index.localhost"], True),
        ([], True),
        (["127.0.0.1", "pypi.example.com"], False),
        (["localhost.example.com"], False),
    ],
)
def test_loopback_only(hosts, expected):
    assert loopback_only(hosts) is expected


def test_smtp_url():
    assert smtp_url("MAIL", "submission://a%20b:p%40ss@mail.internal") == SmtpServer(
        host="mail.internal", port=587, user="a b", password="p@ss", use_ssl=False, use_tls=True
    )
    with pytest.raises(ImproperlyConfigured, match="MAIL must be smtp://, smtps:// or submission"):
        smtp_url("MAIL", "mailto:someone@example.com")


def test_database_url():
    database = database_url("DB", "postgresql://pypi:pw@db.internal/pypi")
    assert (database["ENGINE"], database["HOST"], database["PASSWORD"]) == (
        "django.db.backends.postgresql",
        "db.internal",
        "pw",
    )
    assert (database["CONN_MAX_AGE"], database["CONN_HEALTH_CHECKS"]) == (60, True)
    with pytest.raises(ImproperlyConfigured, match="DB is not a usable database URL"):
        database_url("DB", "nosuchdb://x")


def test_generated_secret_key_is_made_once_in_a_new_directory(tmp_path):
    directory = tmp_path / "new" / "var"
    key = generated_secret_key(directory)
    assert len(key) >= 50
    assert generated_secret_key(directory) == key
    assert (directory / "secret_key").stat().st_mode & 0o777 == 0o600


# --- <NAME>_FILE ---------------------------------------------------------------------


@pytest.fixture
def secret(monkeypatch, tmp_path):
    """Points TOKEN_FILE at a file with the given bytes; TOKEN itself unset."""
    monkeypatch.delenv("TOKEN", raising=False)

    def write(content: bytes) -> str:
        path = tmp_path / "token"
        path.write_bytes(content)
        monkeypatch.setenv("TOKEN_FILE", str(path))
        return str(path)

    return write


@pytest.mark.parametrize(
    "content, value",
    [
        (b"s3cret", "s3cret"),
        (b"s3cret\n", "s3cret"),
        # Only the final newline goes: the rest is the secret's own.
        (b"s3cret\n\n", "s3cret\n"),
        (b" s3cret \n", " s3cret "),
        ("pässword\n".encode(), "pässword"),
    ],
)
def test_a_secret_from_its_file(secret, content, value):
    secret(content)
    assert env_secret("TOKEN") == value


def test_a_secret_from_the_variable(monkeypatch):
    monkeypatch.setenv("TOKEN", "s3cret")
    monkeypatch.setenv("TOKEN_FILE", "")
    assert env_secret("TOKEN") == "s3cret"


def test_an_empty_variable_beside_a_file_is_unset(monkeypatch, secret):
    secret(b"s3cret\n")
    monkeypatch.setenv("TOKEN", "")
    assert env_secret("TOKEN") == "s3cret"


def test_an_empty_secret_file_is_refused(secret):
    path = secret(b"\n")
    with pytest.raises(ImproperlyConfigured) as refusal:
        env_secret("TOKEN")
    assert str(refusal.value) == f"TOKEN_FILE: {path!r} is empty."


def test_a_secret_file_that_is_not_text_is_refused(secret):
    path = secret(b"\xff\xfe")
    with pytest.raises(ImproperlyConfigured) as refusal:
        env_secret("TOKEN")
    assert str(refusal.value) == f"TOKEN_FILE: {path!r} is not UTF-8 text."


def test_a_secret_file_that_is_a_directory_is_refused(monkeypatch, tmp_path):
    monkeypatch.delenv("TOKEN", raising=False)
    monkeypatch.setenv("TOKEN_FILE", str(tmp_path))
    with pytest.raises(ImproperlyConfigured) as refusal:
        env_secret("TOKEN")
    assert str(refusal.value) == f"TOKEN_FILE: cannot read {str(tmp_path)!r}: Is a directory."
