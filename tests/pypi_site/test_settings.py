"""Settings come from the environment; a malformed value stops the start-up."""

import importlib.util
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

import pypi_site.settings

SETTINGS_FILE = Path(pypi_site.settings.__file__)
VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "FILES_STORAGE",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "EMAIL_URL",
    "SECRET_KEY",
    "DEBUG",
    "UPLOAD_MAX_BYTES",
    "ALLOWED_HOSTS",
    "BEHIND_TLS_PROXY",
    "FILE_UPLOAD_TEMP_DIR",
    "CACHE_DIR",
    "CACHE_MAX_BYTES",
    "TRUSTED_PROXIES",
    "AWS_LOCATION",
    "FILES_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "FASTLY_API_TOKEN",
    "UPSTREAM_INDEX_URL",
)
# Every setting that holds a secret, each also readable from <NAME>_FILE.
SECRETS = (
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "FASTLY_API_TOKEN",
)


def load(monkeypatch, tmp_path, **env):
    """Execute settings.py afresh with exactly these variables set."""
    for name in VARIABLES + tuple(f"{secret}_FILE" for secret in SECRETS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("settings_under_test", SETTINGS_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_embedded_defaults(monkeypatch, tmp_path):
    settings = load(monkeypatch, tmp_path)
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert settings.DATABASES["default"]["NAME"] == tmp_path / "var" / "db.sqlite3"
    # Shared by every worker process of the machine, so limits and purges hold.
    assert settings.CACHES["default"]["BACKEND"] == "pypi_site.disk_cache.SharedDiskCache"
    assert settings.CACHES["default"]["LOCATION"] == str(tmp_path / "var" / "cache")
    assert settings.CACHES["default"]["OPTIONS"] == {"size_limit": 1024**3}
    assert settings.STORAGES["files"]["OPTIONS"]["location"] == tmp_path / "var" / "files"
    assert settings.EMAIL_BACKEND.endswith("console.EmailBackend")
    assert settings.DEBUG is False
    assert settings.UPLOAD_MAX_BYTES == 100 * 1024 * 1024
    assert settings.PROJECT_MAX_BYTES == 10 * 1024**3
    assert Path(settings.FILE_UPLOAD_TEMP_DIR).is_dir()
    assert not hasattr(settings, "SECURE_PROXY_SSL_HEADER")


def test_secret_key_is_generated_once_and_kept(monkeypatch, tmp_path):
    first = load(monkeypatch, tmp_path).SECRET_KEY
    second = load(monkeypatch, tmp_path).SECRET_KEY
    assert first == second
    assert len(first) >= 50
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_secret_key_written_by_a_concurrent_start_wins(monkeypatch, tmp_path):
    real_open = pypi_site.settings.os.open

    def racing_open(path, flags, mode=0o777):
        # Another process writes its key between our read and our create.
        Path(path).write_text("the-other-process-key")
        return real_open(path, flags, mode)

    monkeypatch.setattr("os.open", racing_open)
    assert load(monkeypatch, tmp_path).SECRET_KEY == "the-other-process-key"


def test_secret_key_from_environment(monkeypatch, tmp_path):
    assert load(monkeypatch, tmp_path, SECRET_KEY="s3cret").SECRET_KEY == "s3cret"


def test_postgresql_redis_and_s3(monkeypatch, tmp_path):
    settings = load(
        monkeypatch,
        tmp_path,
        DATABASE_URL="postgresql://pypi:pw@db.internal:5433/pypi",
        REDIS_URL="redis://cache.internal:6379/2",
        SECRET_KEY="shared",
        FILES_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="files",
        AWS_S3_ENDPOINT_URL="http://127.0.0.1:9000",
    )
    db = settings.DATABASES["default"]
    assert (db["ENGINE"], db["HOST"], db["PORT"], db["NAME"]) == (
        "django.db.backends.postgresql",
        "db.internal",
        5433,
        "pypi",
    )
    # A restarted database costs no request: kept connections are checked first.
    assert db["CONN_HEALTH_CHECKS"] is True
    assert db["CONN_MAX_AGE"] == 60
    assert settings.CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache"
    assert settings.CACHES["default"]["LOCATION"] == "redis://cache.internal:6379/2"
    files = settings.STORAGES["files"]
    assert files["BACKEND"] == "storages.backends.s3.S3Storage"
    assert files["OPTIONS"]["bucket_name"] == "files"
    assert files["OPTIONS"]["endpoint_url"] == "http://127.0.0.1:9000"
    # What a big upload holds in memory on its way to the bucket, at most.
    transfer = files["OPTIONS"]["transfer_config"]
    assert transfer.multipart_chunksize * transfer.max_in_memory_upload_chunks <= 32 * 1024 * 1024
    assert transfer.max_request_concurrency <= transfer.max_in_memory_upload_chunks


SERVER_DATABASE = "postgresql://pypi:pw@db.internal:5433/pypi"


@pytest.mark.parametrize(
    "env, message",
    [
        (
            {"DATABASE_URL": SERVER_DATABASE, "REDIS_URL": "redis://cache.internal:6379/0"},
            "DATABASE_URL is a server database but SECRET_KEY is not set: a generated key is per "
            "machine, so sessions and signed links would break across machines",
        ),
        (
            {"DATABASE_URL": SERVER_DATABASE, "SECRET_KEY": "shared"},
            "DATABASE_URL is a server database but REDIS_URL is not set",
        ),
    ],
)
def test_many_machines_refuse_what_one_machine_keeps_to_itself(monkeypatch, tmp_path, env, message):
    with pytest.raises(ImproperlyConfigured) as refusal:
        load(monkeypatch, tmp_path, **env)
    assert str(refusal.value).startswith(message)
    assert "\n" not in str(refusal.value)
    assert not (tmp_path / "var" / "secret_key").exists()


def test_sqlite_url_keeps_the_one_machine_defaults(monkeypatch, tmp_path):
    settings = load(monkeypatch, tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert len(settings.SECRET_KEY) >= 50  # generated: one machine


def test_cache_directory_and_size_from_environment(monkeypatch, tmp_path):
    settings = load(monkeypatch, tmp_path, CACHE_DIR="/srv/cache", CACHE_MAX_BYTES="4096")
    assert settings.CACHES["default"]["LOCATION"] == "/srv/cache"
    assert settings.CACHES["default"]["OPTIONS"] == {"size_limit": 4096}


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"UPLOAD_MAX_BYTES": "10MB"}, "UPLOAD_MAX_BYTES='10MB' is not an integer"),
        ({"UPLOAD_MAX_BYTES": "-1"}, "must not be negative"),
        ({"DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL is not a usable database URL"),
        ({"FILES_STORAGE": "ftp"}, "FILES_STORAGE='ftp'"),
        ({"FILES_STORAGE": "s3"}, "needs AWS_STORAGE_BUCKET_NAME"),
        ({"EMAIL_URL": "http://mail"}, "EMAIL_URL must be smtp://"),
        (
            {"UPSTREAM_INDEX_URL": "pypi.org/simple"},
            "UPSTREAM_INDEX_URL='pypi.org/simple' is not an http",
        ),
    ],
)
def test_malformed_values_are_refused(monkeypatch, tmp_path, env, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        load(monkeypatch, tmp_path, **env)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("", ""),
        ("https://pypi.org/simple", "https://pypi.org/simple/"),
        (" http://127.0.0.1:8124/simple/ ", "http://127.0.0.1:8124/simple/"),
    ],
)
def test_the_upstream_url_ends_with_one_slash(monkeypatch, tmp_path, value, expected):
    assert load(monkeypatch, tmp_path, UPSTREAM_INDEX_URL=value).UPSTREAM_INDEX_URL == expected


@pytest.mark.parametrize(
    "value, expected", [("true", True), ("1", True), ("off", False), ("", False)]
)
def test_booleans(monkeypatch, tmp_path, value, expected):
    assert load(monkeypatch, tmp_path, DEBUG=value).DEBUG is expected


def test_integers(monkeypatch, tmp_path):
    assert load(monkeypatch, tmp_path, UPLOAD_MAX_BYTES="2048").UPLOAD_MAX_BYTES == 2048


def test_lists_and_proxy(monkeypatch, tmp_path):
    settings = load(
        monkeypatch, tmp_path, ALLOWED_HOSTS="pypi.example.com, ,other", BEHIND_TLS_PROXY="yes"
    )
    assert settings.ALLOWED_HOSTS == ["pypi.example.com", "other"]
    assert settings.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")


def test_debug_serves_unhashed_static_files(monkeypatch, tmp_path):
    settings = load(monkeypatch, tmp_path, DEBUG="true")
    assert settings.STORAGES["staticfiles"]["BACKEND"].endswith("StaticFilesStorage")


@pytest.mark.parametrize(
    "url, host, port, user, password, ssl, tls",
    [
        ("smtp://mail.internal", "mail.internal", 25, "", "", False, False),
        ("smtps://u%40x:p%3Aw@mail.internal", "mail.internal", 465, "u@x", "p:w", True, False),
        ("submission://mail.internal:2525", "mail.internal", 2525, "", "", False, True),
        ("smtp://", "localhost", 25, "", "", False, False),
    ],
)
def test_email_url(monkeypatch, tmp_path, url, host, port, user, password, ssl, tls):
    settings = load(monkeypatch, tmp_path, EMAIL_URL=url)
    assert settings.EMAIL_BACKEND.endswith("smtp.EmailBackend")
    assert (settings.EMAIL_HOST, settings.EMAIL_PORT) == (host, port)
    assert (settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD) == (user, password)
    assert (settings.EMAIL_USE_SSL, settings.EMAIL_USE_TLS) == (ssl, tls)


def secret_file(tmp_path, name: str, content: str) -> str:
    path = tmp_path / f"{name.lower()}.secret"
    path.write_text(content)
    return str(path)


S3 = {"FILES_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "files"}


@pytest.mark.parametrize(
    "name, value, env, read",
    [
        ("SECRET_KEY", "from-a-file", {}, lambda s: s.SECRET_KEY),
        (
            "DATABASE_URL",
            "postgresql://pypi:p%40ss@db.internal:5433/pypi",
            {"REDIS_URL": "redis://cache.internal:6379/0", "SECRET_KEY": "shared"},
            lambda s: (s.DATABASES["default"].get("HOST"), s.DATABASES["default"].get("PASSWORD")),
        ),
        (
            "REDIS_URL",
            "redis://:pw@cache.internal:6379/2",
            {},
            lambda s: s.CACHES["default"]["LOCATION"],
        ),
        (
            "EMAIL_URL",
            "smtps://u:p%3Aw@mail.internal",
            {},
            lambda s: getattr(s, "EMAIL_HOST_PASSWORD", None),
        ),
        (
            "AWS_ACCESS_KEY_ID",
            "AKIDFROMAFILE",
            S3,
            lambda s: s.STORAGES["files"]["OPTIONS"]["access_key"],
        ),
        (
            "AWS_SECRET_ACCESS_KEY",
            "secret/from+a=file",
            S3,
            lambda s: s.STORAGES["files"]["OPTIONS"]["secret_key"],
        ),
        ("FASTLY_API_TOKEN", "fastly-token", {}, lambda s: s.FASTLY_API_TOKEN),
    ],
)
def test_every_secret_can_come_from_a_file(monkeypatch, tmp_path, name, value, env, read):
    from_variable = read(load(monkeypatch, tmp_path, **env, **{name: value}))
    # As Docker secrets and `echo > file` write it: with a final newline.
    path = secret_file(tmp_path, name, value + "\n")
    from_file = read(load(monkeypatch, tmp_path, **env, **{f"{name}_FILE": path}))
    assert from_file == from_variable
    assert from_variable != read(load(monkeypatch, tmp_path, **env))


def test_a_secret_key_from_a_file_is_enough_for_many_machines(monkeypatch, tmp_path):
    settings = load(
        monkeypatch,
        tmp_path,
        DATABASE_URL=SERVER_DATABASE,
        REDIS_URL="redis://cache.internal:6379/0",
        SECRET_KEY_FILE=secret_file(tmp_path, "SECRET_KEY", "shared\n"),
    )
    assert settings.SECRET_KEY == "shared"
    assert not (tmp_path / "var" / "secret_key").exists()


@pytest.mark.parametrize("name", SECRETS)
def test_a_secret_given_both_ways_is_refused(monkeypatch, tmp_path, name):
    env = {name: "x", f"{name}_FILE": secret_file(tmp_path, name, "y"), **S3}
    with pytest.raises(ImproperlyConfigured) as refusal:
        load(monkeypatch, tmp_path, **env)
    assert str(refusal.value) == f"{name} and {name}_FILE are both set; set only one of them."


@pytest.mark.parametrize("name", SECRETS)
def test_an_unreadable_secret_file_is_named(monkeypatch, tmp_path, name):
    missing = str(tmp_path / "nowhere" / "secret")
    with pytest.raises(ImproperlyConfigured) as refusal:
        load(monkeypatch, tmp_path, **{f"{name}_FILE": missing, **S3})
    assert str(refusal.value) == (
        f"{name}_FILE: cannot read {missing!r}: No such file or directory."
    )
