"""Settings for the package index, every one read from the environment.

One machine needs none of them: SQLite under ``var/``, files under ``var/files/``,
a cache under ``var/cache/`` that its worker processes share. Many machines set
DATABASE_URL, REDIS_URL and the S3 variables. A malformed value stops the
start-up with a message instead of being guessed at.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean; use true or false.")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from None
    if number < 0:
        raise ImproperlyConfigured(f"{name}={value!r} must not be negative.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once into var/.

    The generated key is only acceptable on one machine: several machines would
    each make their own and reject each other's signatures.
    """
    key = env_str("SECRET_KEY")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # O_EXCL so two processes starting at once agree on the first key written.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # First: its createsuperuser (which verifies the new account's address)
    # replaces django.contrib.auth's, and of two commands with one name the
    # app listed first wins.
    "accounts",
    # django.contrib.admin, with the site that signs in through the account
    # login (second factor included) and wants 2FA (pypi_site.admin).
    "pypi_site.apps.IndexAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.syndication",
    "rest_framework",
    "packages",
    "moderation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "common.http.refuse_nul_in_query",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.http.ConditionalGetMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The read-only kill switch: other writes answer 503 (accounts.flags).
    "accounts.flags.ReadOnlyMiddleware",
]

ROOT_URLCONF = "pypi_site.urls"
WSGI_APPLICATION = "pypi_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.flags.context",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    try:
        # Kept connections are checked before a request uses them: after a
        # database restart each thread's kept connection is dead, and without
        # the check its next request would fail once with a 500.
        DATABASES = {
            "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
        }
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a usable database URL: {exc}") from None
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # Opening SQLite and running the PRAGMAs below on every request
            # costs more than the request itself; keep one per thread.
            "CONN_MAX_AGE": None,
            "OPTIONS": {
                # WAL lets readers (pip) go on while a writer (twine) commits;
                # IMMEDIATE takes the write lock at BEGIN so two uploads queue
                # instead of failing with "database is locked" on upgrade.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A server database (PostgreSQL) is the many-machine setup: every machine must
# share what one machine keeps to itself. Checked before a key is generated.
_SERVER_DATABASE = DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"
if _SERVER_DATABASE and not env_str("SECRET_KEY"):
    raise ImproperlyConfigured(
        "DATABASE_URL is a server database but SECRET_KEY is not set: a generated key is per "
        "machine, so sessions and signed links would break across machines; set one shared key."
    )
if _SERVER_DATABASE and not env_str("REDIS_URL"):
    raise ImproperlyConfigured(
        "DATABASE_URL is a server database but REDIS_URL is not set: without the shared cache "
        "this machine would serve pages up to minutes stale after changes made on another."
    )
SECRET_KEY = _secret_key()

# --- Cache ----------------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "pypi"),
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        }
    }
else:
    # One machine: a cache on its disk (SQLite files under CACHE_DIR) that all
    # worker processes share, so a rate limit counts every worker's hits and a
    # purge reaches every worker. add() and incr() are transactions there.
    CACHES = {
        "default": {
            "BACKEND": "pypi_site.disk_cache.SharedDiskCache",
            "LOCATION": env_str("CACHE_DIR", str(VAR_DIR / "cache")),
            "OPTIONS": {"size_limit": env_int("CACHE_MAX_BYTES", 1024**3)},
        }
    }

# --- Distribution files -----------------------------------------------------

FILES_STORAGE = env_str("FILES_STORAGE", "filesystem")
FILES_ROOT = Path(env_str("FILES_ROOT", str(VAR_DIR / "files")))
# Where download links point. Empty: this app serves /packages/... itself.
FILES_URL = env_str("FILES_URL").rstrip("/")

if FILES_STORAGE == "filesystem":
    _files_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": FILES_ROOT, "file_permissions_mode": 0o644},
    }
elif FILES_STORAGE == "s3":
    _bucket = env_str("AWS_STORAGE_BUCKET_NAME")
    if not _bucket:
        raise ImproperlyConfigured("FILES_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.")
    _files_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _bucket,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            # The key prefix; packages/ by default, as this app's own file
            # URLs, so FILES_URL can be the bucket's URL (packages.storage.file_url).
            "location": env_str("AWS_LOCATION", "packages"),
            "default_acl": None,
            "querystring_auth": False,
            # Paths are content-addressed: the same path always holds the same
            # bytes, so an overwrite by a concurrent identical upload is harmless.
            "file_overwrite": True,
            "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
        },
    }
else:
    raise ImproperlyConfigured(f"FILES_STORAGE={FILES_STORAGE!r}: use 'filesystem' or 's3'.")

STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "media"},
    },
    "files": _files_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        ),
    },
}

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns at start-up without it
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Upload limits and rules --------------------------------------------------

MiB = 1024 * 1024
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 100 * MiB)
PROJECT_MAX_BYTES = env_int("PROJECT_MAX_BYTES", 10 * 1024 * MiB)
# Extra wheel platform tags a private deployment accepts beyond the public
# index's list, e.g. "linux_x86_64". Glob patterns are allowed.
WHEEL_EXTRA_PLATFORMS = env_list("WHEEL_EXTRA_PLATFORMS", [])
# METADATA larger than this inside a wheel is refused rather than read.
UPLOAD_METADATA_MAX_BYTES = env_int("UPLOAD_METADATA_MAX_BYTES", 10 * MiB)
# Form fields other than the file itself (description included).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * MiB)
# Everything above this goes to a temporary file, never into memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 0
# On the same filesystem as var/files/ so a stored upload is a hard link, not a copy.
FILE_UPLOAD_TEMP_DIR = env_str("FILE_UPLOAD_TEMP_DIR", str(VAR_DIR / "tmp"))
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
FILE_UPLOAD_HANDLERS = ["packages.upload_handler.HashingUploadHandler"]

# --- Accounts -------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- E-mail -----------------------------------------------------------------------

EMAIL_URL = env_str("EMAIL_URL")
if EMAIL_URL:
    from urllib.parse import unquote, urlsplit

    _email = urlsplit(EMAIL_URL)
    if _email.scheme not in {"smtp", "smtps", "submission"}:
        raise ImproperlyConfigured("EMAIL_URL must be smtp://, smtps:// or submission://.")
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or {"smtp": 25, "smtps": 465, "submission": 587}[_email.scheme]
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_SSL = _email.scheme == "smtps"
    EMAIL_USE_TLS = _email.scheme == "submission"
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "noreply@localhost")

# --- Security -----------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Secure cookies and HSTS: see "abuse limits and security headers" below.


def _trusted_proxies(name: str) -> list[str]:
    import ipaddress

    networks = []
    for item in env_list(name, []):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an IP address or network (e.g. 10.0.0.0/8)."
            ) from None
    return networks


# Proxies whose X-Forwarded-For is believed (common.client_address), as IP
# addresses or networks, e.g. "127.0.0.1,10.0.0.0/8": the edge (Varnish on the
# same machine is 127.0.0.1) and load balancers. Empty: the peer is the client.
TRUSTED_PROXIES = _trusted_proxies("TRUSTED_PROXIES")

# --- APIs -------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

# How long a CDN may keep a simple or JSON page before asking again; purges
# (Surrogate-Key) make changes visible sooner where the CDN supports them.
SIMPLE_CACHE_SECONDS = env_int("SIMPLE_CACHE_SECONDS", 600)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- Secret scanning -----------------------------------------------------------------


def _secret_scanning_public_keys(value: str) -> dict[str, str]:
    """SECRET_SCANNING_PUBLIC_KEYS: the JSON itself, or the path of a file
    holding it. The JSON maps key identifier to PEM public key (ECDSA):
    ``{"<key identifier>": "-----BEGIN PUBLIC KEY-----\\n..."}``. The document
    GitHub publishes (https://api.github.com/meta/public_keys/secret_scanning,
    ``{"public_keys": [{"key_identifier": ..., "key": ...}, ...]}``) is accepted
    as it is, so a downloaded copy can be pointed at directly. Empty: the
    disclosure endpoint is off (404)."""
    import json

    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    name = "SECRET_SCANNING_PUBLIC_KEYS"
    value = value.strip()
    if not value:
        return {}
    if not value.startswith("{"):
        try:
            value = Path(value).read_text()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}: cannot read {value!r}: {exc}") from None
    try:
        data = json.loads(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} is not valid JSON.") from None
    if isinstance(data, dict) and "public_keys" in data:
        try:
            data = {entry["key_identifier"]: entry["key"] for entry in data["public_keys"]}
        except (TypeError, KeyError):
            raise ImproperlyConfigured(
                f"{name}: every public_keys entry needs key_identifier and key."
            ) from None
    if not isinstance(data, dict) or not all(
        isinstance(key_id, str) and isinstance(pem, str) for key_id, pem in data.items()
    ):
        raise ImproperlyConfigured(f"{name} must map key identifiers to PEM public keys.")
    for key_id, pem in data.items():
        try:
            key = load_pem_public_key(pem.encode())
        except (ValueError, UnsupportedAlgorithm):
            raise ImproperlyConfigured(f"{name}: key {key_id!r} is not a PEM public key.") from None
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ImproperlyConfigured(f"{name}: key {key_id!r} is not an ECDSA key.")
    return data


SECRET_SCANNING_PUBLIC_KEYS = _secret_scanning_public_keys(env_str("SECRET_SCANNING_PUBLIC_KEYS"))

# --- Account pages ----------------------------------------------------------------

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "account-settings"
LOGOUT_REDIRECT_URL = "home"
# How long an e-mail verification link works, in seconds (default one day).
EMAIL_VERIFICATION_MAX_AGE = env_int("EMAIL_VERIFICATION_MAX_AGE", 24 * 60 * 60)

# --- Abuse limits and security headers -------------------------------------------------


def env_rate(name: str, default: str) -> tuple[int, int]:
    """A rate limit, "<hits>/<seconds>": at most that many hits per window."""
    import re

    value = os.environ.get(name) or default
    match = re.fullmatch(r"\s*([0-9]+)/([0-9]+)\s*", value)
    if match is None or int(match[1]) < 1 or int(match[2]) < 1:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a rate; use <hits>/<seconds>, both at least 1, e.g. 10/300."
        )
    return int(match[1]), int(match[2])


# common/ratelimit.py; each one set by RATELIMIT_<NAME>, e.g. RATELIMIT_LOGIN_IP=50/300.
RATELIMITS = {
    name: env_rate("RATELIMIT_" + name.upper().replace("-", "_"), default)
    for name, default in {
        "login": "10/300",  # login attempts per username
        "login-ip": "50/300",  # login attempts per client IP
        "register": "10/3600",  # registrations per client IP
        "password-reset": "3/3600",  # reset e-mails per address or username
        "password-reset-ip": "20/3600",  # reset requests per client IP
        "upload-auth-failure": "20/300",  # failed upload authentications per client IP
        "project-create": "20/3600",  # new projects per user
    }.items()
}

MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "pypi_site.middleware.SecurityHeadersMiddleware",
)


def _loopback_only(hosts: list[str]) -> bool:
    loopback = {"127.0.0.1", "localhost", "[::1]", "::1"}
    return all(host in loopback or host.endswith(".localhost") for host in hosts)


# Cookies only over HTTPS, outside DEBUG, unless the index answers only to this
# machine's loopback names: that is `make run` on plain http://127.0.0.1:8000,
# where secure cookies would make signing in impossible. An index on a LAN over
# plain http says SECURE_COOKIES=false.
SESSION_COOKIE_SECURE = env_bool(
    "SECURE_COOKIES",
    not DEBUG and (bool(env_str("SECURE_ORIGIN")) or not _loopback_only(ALLOWED_HOSTS)),
)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Behind a TLS proxy the index is HTTPS-only: browsers are told to keep it so
# for a year (sent on HTTPS answers only).
SECURE_HSTS_SECONDS = env_int(
    "SECURE_HSTS_SECONDS",
    365 * 24 * 60 * 60 if env_bool("BEHIND_TLS_PROXY", False) and not DEBUG else 0,
)

# --- Two-factor authentication ----------------------------------------------------------

# The project-management pages (/manage/project/...) need 2FA on the account,
# as on the public index.
REQUIRE_2FA_TO_MANAGE = env_bool("REQUIRE_2FA_TO_MANAGE", True)
# Token uploads need 2FA on the token owner's account too. Off so a fresh
# install can publish at once; recommended for any public deployment.
REQUIRE_2FA_TO_UPLOAD = env_bool("REQUIRE_2FA_TO_UPLOAD", False)
# WebAuthn relying party: the registrable domain security keys are bound to
# (default: the host of the request) and the name they show.
WEBAUTHN_RP_ID = env_str("WEBAUTHN_RP_ID")
SITE_NAME = env_str("SITE_NAME", "Package Index")
# How long the password step of a 2FA login waits for the second factor.
TWO_FACTOR_LOGIN_MAX_AGE = env_int("TWO_FACTOR_LOGIN_MAX_AGE", 5 * 60)

# --- Collaborators ------------------------------------------------------------------------

# How long an invitation to a project role can be accepted, in seconds.
ROLE_INVITATION_MAX_AGE = env_int("ROLE_INVITATION_MAX_AGE", 3 * 24 * 60 * 60)

# --- Download counts ----------------------------------------------------------------------

# Downloads served here are counted in the cache and written to the database
# in batches by the server processes themselves (packages.downloads).
DOWNLOAD_COUNTS = env_bool("DOWNLOAD_COUNTS", True)

# --- helper F: moderation ---------------------------------------------------------------

# Frozen accounts (moderation) can't sign in, and their sessions end.
AUTHENTICATION_BACKENDS = ["accounts.backends.AccountBackend"]
# New projects whose name is one edit away from one of this many most-downloaded
# projects (last 30 days) are queued for a moderator's review.
NAME_REVIEW_TOP_PROJECTS = env_int("NAME_REVIEW_TOP_PROJECTS", 1000)
# How long that list of popular names is cached, in seconds.
NAME_REVIEW_CACHE_SECONDS = env_int("NAME_REVIEW_CACHE_SECONDS", 3600)

# --- helper C: JSON API and its OpenAPI schema ---------------------------------------------

INSTALLED_APPS.append("drf_spectacular")
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"
SPECTACULAR_SETTINGS = {
    "TITLE": f"{SITE_NAME} API",
    "DESCRIPTION": (
        "The JSON API, field-compatible with the public index's "
        "/pypi/<name>/json and /pypi/<name>/<version>/json."
    ),
    "VERSION": "1",
    # 3.1: nullable fields are JSON Schema types ("null"), so a plain JSON
    # Schema validator can check answers against the components.
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
}

# --- helper E: download counts ------------------------------------------------------------

# How often (seconds) one of the server processes moves the download counts
# from the cache to the database; 0: never (run `manage.py
# flush_download_counts` from cron instead).
DOWNLOAD_COUNTS_FLUSH_SECONDS = env_int("DOWNLOAD_COUNTS_FLUSH_SECONDS", 20)

# --- Upload archive caps ------------------------------------------------------------------

# Every uploaded wheel and sdist is inspected within these bounds; an archive
# past one is refused with the limit named (packages.distributions).
# Members (files, directories, links) in one archive.
UPLOAD_ARCHIVE_MAX_MEMBERS = env_int("UPLOAD_ARCHIVE_MAX_MEMBERS", 100_000)
# Largest tar header read whole: pax extended headers and GNU long names.
UPLOAD_ARCHIVE_MAX_HEADER_BYTES = env_int("UPLOAD_ARCHIVE_MAX_HEADER_BYTES", MiB)
# Total uncompressed size of the members.
UPLOAD_ARCHIVE_MAX_UNCOMPRESSED_BYTES = env_int(
    "UPLOAD_ARCHIVE_MAX_UNCOMPRESSED_BYTES", 4 * 1024 * MiB
)
# Uncompressed size over upload size, checked once the uncompressed size passes
# UPLOAD_ARCHIVE_RATIO_MIN_BYTES (the public index refuses zip bombs the same way).
UPLOAD_ARCHIVE_MAX_RATIO = env_int("UPLOAD_ARCHIVE_MAX_RATIO", 50)
UPLOAD_ARCHIVE_RATIO_MIN_BYTES = env_int("UPLOAD_ARCHIVE_RATIO_MIN_BYTES", 64 * MiB)

# --- helper 8: edge purges ----------------------------------------------------------------

# Every change purges its surrogate keys at each edge below, through the
# database outbox worked after the commit and by `manage.py worker`
# (packages.purges). None configured: nothing is queued.
# Varnish edges (edge/default.vcl): base URLs that take `PURGE /` with xkey-purge.
EDGE_PURGE_URLS = env_list("EDGE_PURGE_URLS", [])
# Fastly: purge by surrogate key through its API, when a token and a service are set.
FASTLY_API_TOKEN = env_str("FASTLY_API_TOKEN")
FASTLY_SERVICE_ID = env_str("FASTLY_SERVICE_ID")
FASTLY_API_URL = env_str("FASTLY_API_URL", "https://api.fastly.com")
# Soft purge: Fastly marks the answers stale instead of dropping them, so it can
# still serve them if the origin is down (stale-if-error).
FASTLY_SOFT_PURGE = env_bool("FASTLY_SOFT_PURGE", True)
# Seconds one purge request to one edge may take before it counts as failed.
EDGE_PURGE_TIMEOUT = env_int("EDGE_PURGE_TIMEOUT", 5)
# Seconds after a change when the worker purges its keys once more (0: never):
# an answer rendered from data read just before the change may reach an edge
# just after the first purge.
EDGE_PURGE_ECHO_SECONDS = env_int("EDGE_PURGE_ECHO_SECONDS", 3)
# Seconds each server process may serve its own copy of a simple page before
# asking the shared cache again (0: never keeps one): a change made through
# another process shows there this late. packages.cache keeps it under
# EDGE_PURGE_ECHO_SECONDS when edges are purged (the echo purge is what takes
# from an edge a copy fetched in that time).
PAGE_LOCAL_CACHE_SECONDS = env_int("PAGE_LOCAL_CACHE_SECONDS", 1)

# --- helper 7: edge cache ------------------------------------------------------------------

# Seconds an edge may keep a purgeable answer (simple and JSON pages, project
# pages, feeds), told by Surrogate-Control and only when purges are configured
# above: browsers keep the short Cache-Control max-age (packages.surrogate).
EDGE_MAX_AGE = env_int("EDGE_MAX_AGE", 86400)
# Seconds an edge may serve an answer stale while the app is down
# (Surrogate-Control stale-if-error; edge/run reads the same variable).
EDGE_STALE_IF_ERROR = env_int("EDGE_STALE_IF_ERROR", 86400)
