"""The test run's settings: production's, with the one thing a test process
must supply itself, and what each pytest-xdist worker keeps to itself.

With a server database (DATABASE_URL=postgresql://...) production refuses a
generated SECRET_KEY, since machines would each make their own. A test run is
one machine; pytest-django imports the settings before any conftest, so the
key is set here.
"""

import os
import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def redis_url_of_worker(url: str, worker: int) -> str:
    """``url`` with its database number raised by ``worker``.

    pytest-xdist's workers (`make test` runs gw0, gw1, ...) run tests at the
    same moment, and every test empties the cache (tests/conftest.py), which for
    django-redis is FLUSHDB: the whole Redis database. So worker k takes the
    database of REDIS_URL plus k, the way pytest-django gives it test_<db>_gw<k>.
    """
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if "db" in query:  # redis://host:port?db=3 and unix:///path?db=3
        query["db"] = str(int(query["db"]) + worker)
        if not parts.netloc:  # urlunsplit would write unix:/path
            return f"{parts.scheme}://{parts.path}?{urlencode(query)}"
        return urlunsplit(parts._replace(query=urlencode(query)))
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{base + worker}"))


_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw") and os.environ.get("REDIS_URL"):
    # In the environment too: the servers and manage.py commands the end-to-end
    # tests start inherit it, and share this worker's database, not another's.
    os.environ["REDIS_URL"] = redis_url_of_worker(os.environ["REDIS_URL"], int(_worker[2:]))

# Unless the key comes from a file: SECRET_KEY beside SECRET_KEY_FILE is refused.
if not os.environ.get("SECRET_KEY_FILE"):
    os.environ.setdefault("SECRET_KEY", "tests-" + secrets.token_urlsafe(32))

from pypi_site.settings import *  # noqa: E402, F403
