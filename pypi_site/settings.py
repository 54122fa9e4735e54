"""Settings for the package index, every one read from the environment.

One machine needs none of them: SQLite under ``var/``, files under ``var/files/``,
a cache under ``var/cache/`` that its worker processes share. Many machines set
DATABASE_URL, REDIS_URL and the S3 variables. A malformed value stops the
start-up with a message instead of being guessed at (the readers are in
common/env.py). Every secret can also be given as ``<NAME>_FILE``, the path
of a file holding it.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from common.env import (
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
    secret_scanning_public_keys,
    smtp_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
MiB = 1024 * 1024

# --- Site ---------------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The index's name in e-mails, authenticator apps and the API schema.
SITE_NAME = env_str("SITE_NAME", "Package Index")

# --- Applications, middleware, templates --------------------------------------

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
    # The JSON API's OpenAPI schema.
    "drf_spectacular",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # What SecurityMiddleware lacks for HTML documents: a Content Security
    # Policy and a Permissions Policy.
    "pypi_site.middleware.SecurityHeadersMiddleware",
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

DATABASE_URL = env_secret("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": database_url("DATABASE_URL", DATABASE_URL)}
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

# --- Secret key and the many-machine requirements -----------------------------

# A server database (PostgreSQL) is the many-machine setup: every machine must
# share what one machine keeps to itself. Checked before a key is generated.
_SERVER_DATABASE = DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"
_secret_key = env_secret("SECRET_KEY")
REDIS_URL = env_secret("REDIS_URL")
if _SERVER_DATABASE and not _secret_key:
    raise ImproperlyConfigured(
        "DATABASE_URL is a server database but SECRET_KEY is not set: a generated key is per "
        "machine, so sessions and signed links would break across machines; set one shared key."
    )
if _SERVER_DATABASE and not REDIS_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL is a server database but REDIS_URL is not set: without the shared cache "
        "this machine would serve pages up to minutes stale after changes made on another."
    )
# Without one given, a key generated once into var/: one machine only.
SECRET_KEY = _secret_key or generated_secret_key(VAR_DIR)

# --- Cache --------------------------------------------------------------------

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

# --- Distribution files and static files --------------------------------------

FILES_STORAGE = env_str("FILES_STORAGE", "filesystem")
FILES_ROOT = Path(env_str("FILES_ROOT", str(VAR_DIR / "files")))
# Where download links point. Empty: this app serves /packages/... itself.
FILES_URL = env_str("FILES_URL").rstrip("/")
# A file's path names the same bytes forever (it is derived from their
# blake2b-256): the answers this app gives for files and the S3 objects say so.
FILES_CACHE_CONTROL = "public, max-age=31536000, immutable"

if FILES_STORAGE == "filesystem":
    _files_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": FILES_ROOT, "file_permissions_mode": 0o644},
    }
elif FILES_STORAGE == "s3":
    from boto3.s3.transfer import TransferConfig

    # A big file goes up in 8 MiB parts, each read into memory before it is
    # sent. boto3 holds up to 10 of them (measured: a 200 MiB upload grew the
    # process by 126 MiB); 4 in memory and 4 in flight: by 52 MiB.
    _s3_transfer = TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)
    # Not an argument of boto3's TransferConfig; s3transfer reads the attribute.
    _s3_transfer.max_in_memory_upload_chunks = 4
    _bucket = env_str("AWS_STORAGE_BUCKET_NAME")
    if not _bucket:
        raise ImproperlyConfigured("FILES_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.")
    _files_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _bucket,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "access_key": env_secret("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_secret("AWS_SECRET_ACCESS_KEY") or None,
            # The key prefix; packages/ by default, as this app's own file
            # URLs, so FILES_URL can be the bucket's URL (packages.storage.file_url).
            "location": env_str("AWS_LOCATION", "packages"),
            "default_acl": None,
            "querystring_auth": False,
            # Paths are content-addressed: the same path always holds the same
            # bytes, so an overwrite by a concurrent identical upload is harmless.
            "file_overwrite": True,
            "object_parameters": {"CacheControl": FILES_CACHE_CONTROL},
            "transfer_config": _s3_transfer,
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

# --- Uploads ------------------------------------------------------------------

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

# --- Accounts -----------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
# Frozen accounts (moderation) can't sign in, and their sessions end.
AUTHENTICATION_BACKENDS = ["accounts.backends.AccountBackend"]
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
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "account-settings"
LOGOUT_REDIRECT_URL = "home"
# How long an e-mail verification link works, in seconds (default one day).
EMAIL_VERIFICATION_MAX_AGE = env_int("EMAIL_VERIFICATION_MAX_AGE", 24 * 60 * 60)
# How long an invitation to a project role can be accepted, in seconds.
ROLE_INVITATION_MAX_AGE = env_int("ROLE_INVITATION_MAX_AGE", 3 * 24 * 60 * 60)

# --- Two-factor authentication ------------------------------------------------

# The project-management pages (/manage/project/...) need 2FA on the account,
# as on the public index.
REQUIRE_2FA_TO_MANAGE = env_bool("REQUIRE_2FA_TO_MANAGE", True)
# Token uploads need 2FA on the token owner's account too. Off so a fresh
# install can publish at once; recommended for any public deployment.
REQUIRE_2FA_TO_UPLOAD = env_bool("REQUIRE_2FA_TO_UPLOAD", False)
# WebAuthn relying party: the registrable domain security keys are bound to
# (default: the host of the request); SITE_NAME is the name they show.
WEBAUTHN_RP_ID = env_str("WEBAUTHN_RP_ID")
# How long the password step of a 2FA login waits for the second factor.
TWO_FACTOR_LOGIN_MAX_AGE = env_int("TWO_FACTOR_LOGIN_MAX_AGE", 5 * 60)

# --- E-mail -------------------------------------------------------------------

EMAIL_URL = env_secret("EMAIL_URL")
if EMAIL_URL:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    (
        EMAIL_HOST,
        EMAIL_PORT,
        EMAIL_HOST_USER,
        EMAIL_HOST_PASSWORD,
        EMAIL_USE_SSL,
        EMAIL_USE_TLS,
    ) = smtp_url("EMAIL_URL", EMAIL_URL)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "noreply@localhost")

# --- Security headers, cookies and proxies ------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
_behind_tls_proxy = env_bool("BEHIND_TLS_PROXY", False)
if _behind_tls_proxy:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Proxies whose X-Forwarded-For is believed (common.client_address), as IP
# addresses or networks, e.g. "127.0.0.1,10.0.0.0/8": the edge (Varnish on the
# same machine is 127.0.0.1) and load balancers. Empty: the peer is the client.
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES")
# Cookies only over HTTPS, outside DEBUG, unless the index answers only to this
# machine's loopback names: that is `make run` on plain http://127.0.0.1:8000,
# where secure cookies would make signing in impossible. An index on a LAN over
# plain http says SECURE_COOKIES=false.
SESSION_COOKIE_SECURE = env_bool(
    "SECURE_COOKIES",
    not DEBUG and (bool(env_str("SECURE_ORIGIN")) or not loopback_only(ALLOWED_HOSTS)),
)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Behind a TLS proxy the index is HTTPS-only: browsers are told to keep it so
# for a year (sent on HTTPS answers only).
SECURE_HSTS_SECONDS = env_int(
    "SECURE_HSTS_SECONDS", 365 * 24 * 60 * 60 if _behind_tls_proxy and not DEBUG else 0
)

# --- Rate limits --------------------------------------------------------------

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
        "organization-create": "5/3600",  # new organizations per user
        "organization-invite": "30/3600",  # organization invitations sent per user
        "oidc-mint-failure": "30/300",  # refused trusted-publishing exchanges per client IP
    }.items()
}

# --- APIs ---------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
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
# How long a CDN may keep a simple or JSON page before asking again; purges
# (Surrogate-Key) make changes visible sooner where the CDN supports them.
SIMPLE_CACHE_SECONDS = env_int("SIMPLE_CACHE_SECONDS", 600)
# Public keys that sign leaked-token reports (accounts.secret_scanning), as
# JSON or the path of a JSON file (common.env.secret_scanning_public_keys).
SECRET_SCANNING_PUBLIC_KEYS = secret_scanning_public_keys(env_str("SECRET_SCANNING_PUBLIC_KEYS"))

# --- Moderation ---------------------------------------------------------------

# New projects whose name is one edit away from one of this many most-downloaded
# projects (last 30 days) are queued for a moderator's review.
NAME_REVIEW_TOP_PROJECTS = env_int("NAME_REVIEW_TOP_PROJECTS", 1000)
# How long that list of popular names is cached, in seconds.
NAME_REVIEW_CACHE_SECONDS = env_int("NAME_REVIEW_CACHE_SECONDS", 3600)

# --- Download counts ----------------------------------------------------------

# Downloads served here are counted in the cache and written to the database
# in batches by the server processes themselves (packages.downloads).
DOWNLOAD_COUNTS = env_bool("DOWNLOAD_COUNTS", True)
# How often (seconds) one of the server processes moves the download counts
# from the cache to the database; 0: never (run `manage.py
# flush_download_counts` from cron instead).
DOWNLOAD_COUNTS_FLUSH_SECONDS = env_int("DOWNLOAD_COUNTS_FLUSH_SECONDS", 20)

# --- Edge caches and their purges ---------------------------------------------

# Seconds an edge may keep a purgeable answer (simple and JSON pages, project
# pages, feeds), told by Surrogate-Control and only when purges are configured
# below: browsers keep the short Cache-Control max-age (packages.surrogate).
EDGE_MAX_AGE = env_int("EDGE_MAX_AGE", 86400)
# Seconds an edge may serve an answer stale while the app is down
# (Surrogate-Control stale-if-error; edge/run reads the same variable).
EDGE_STALE_IF_ERROR = env_int("EDGE_STALE_IF_ERROR", 86400)
# Every change purges its surrogate keys at each edge below, through the
# database outbox worked after the commit and by `manage.py worker`
# (packages.purges). None configured: nothing is queued.
# Varnish edges (edge/default.vcl): base URLs that take `PURGE /` with xkey-purge.
EDGE_PURGE_URLS = env_list("EDGE_PURGE_URLS", [])
# Fastly: purge by surrogate key through its API, when a token and a service are set.
FASTLY_API_TOKEN = env_secret("FASTLY_API_TOKEN")
FASTLY_SERVICE_ID = env_str("FASTLY_SERVICE_ID")
FASTLY_API_URL = env_str("FASTLY_API_URL", "https://api.fastly.com")
# Soft purge: Fastly marks the answers stale instead of dropping them, so it can
# still serve them if the origin is down (stale-if-error).
FASTLY_SOFT_PURGE = env_bool("FASTLY_SOFT_PURGE", True)
# Seconds one purge request to one edge may take before it counts as failed.
EDGE_PURGE_TIMEOUT = env_int("EDGE_PURGE_TIMEOUT", 5)
# Seconds after a change when its keys are purged once more (0: never): an
# answer rendered from data read just before the change may reach an edge just
# after the first purge. It bounds how long an edge may show the old answer.
EDGE_PURGE_ECHO_SECONDS = env_int("EDGE_PURGE_ECHO_SECONDS", 1)
# Seconds each server process may serve its own copy of a simple page before
# asking the shared cache again (0: never keeps one): a change made through
# another process shows there this late. packages.cache keeps it under
# EDGE_PURGE_ECHO_SECONDS when edges are purged (the echo purge is what takes
# from an edge a copy fetched in that time).
PAGE_LOCAL_CACHE_SECONDS = env_int("PAGE_LOCAL_CACHE_SECONDS", 1)

# --- The upstream index: a company's one index (packages.mirror) ---------------

# A PEP 503/691 simple index (e.g. the public index's https://.../simple/) whose
# projects this index serves, pull-through, under every name that has no local
# project. Unset: no mirroring at all.
UPSTREAM_INDEX_URL = env_str("UPSTREAM_INDEX_URL").strip()
if UPSTREAM_INDEX_URL and not UPSTREAM_INDEX_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        f"UPSTREAM_INDEX_URL={UPSTREAM_INDEX_URL!r} is not an http(s) URL of a simple index."
    )
UPSTREAM_INDEX_URL = UPSTREAM_INDEX_URL.rstrip("/") + "/" if UPSTREAM_INDEX_URL else ""
# Globs of names (PEP 503 normalized, e.g. "acme-*") that are never fetched from
# the upstream, whether or not a local project has them yet.
PRIVATE_NAME_PATTERNS = env_list("PRIVATE_NAME_PATTERNS", [])
# Seconds an upstream release waits after its upload before it is offered here.
UPSTREAM_MIN_AGE = env_int("UPSTREAM_MIN_AGE", 0)
# Seconds a fetched upstream page is served before it is checked again.
UPSTREAM_FRESHNESS = env_int("UPSTREAM_FRESHNESS", 600)
# Seconds one fetch of an upstream page may take in all (then the cached copy,
# if any, is served stale); a file's download may pause this long between reads.
UPSTREAM_TIMEOUT = env_int("UPSTREAM_TIMEOUT", 5)
# Fetches from the upstream at once, per server process; more wait (bounded by
# UPSTREAM_TIMEOUT) and are then answered from what is cached.
UPSTREAM_MAX_CONCURRENCY = env_int("UPSTREAM_MAX_CONCURRENCY", 8)
# The circuit breaker: after this many failures in a row, no request goes to the
# upstream for UPSTREAM_BREAKER_SECONDS (shared by every process through the cache).
UPSTREAM_BREAKER_FAILURES = env_int("UPSTREAM_BREAKER_FAILURES", 5)
UPSTREAM_BREAKER_SECONDS = env_int("UPSTREAM_BREAKER_SECONDS", 30)

# --- Trusted publishing (packages.trusted_publishing) ---------------------------

# The audience OIDC tokens must be minted for; clients ask GET /_/oidc/audience
# first, so any value works with them ("pypi" is the public index's).
OIDC_AUDIENCE = env_str("OIDC_AUDIENCE", "pypi")
# Where each provider publishes its signing keys. Tokens keep the provider's
# real issuer; these are overridable so tests (or an air-gapped mirror of the
# keys) can stand in for the provider.
OIDC_GITHUB_JWKS_URL = env_str(
    "OIDC_GITHUB_JWKS_URL", "https://token.actions.githubusercontent.com/.well-known/jwks"
)
OIDC_GITLAB_JWKS_URL = env_str("OIDC_GITLAB_JWKS_URL", "https://gitlab.com/oauth/discovery/keys")
OIDC_GOOGLE_JWKS_URL = env_str("OIDC_GOOGLE_JWKS_URL", "https://www.googleapis.com/oauth2/v3/certs")

# --- Language, time and logging -----------------------------------------------

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
