"""The test run's settings: production's, with the one thing a test process
must supply itself.

With a server database (DATABASE_URL=postgresql://...) production refuses a
generated SECRET_KEY, since machines would each make their own. A test run is
one machine; pytest-django imports the settings before any conftest, so the
key is set here.
"""

import os
import secrets

# Unless the key comes from a file: SECRET_KEY beside SECRET_KEY_FILE is refused.
if not os.environ.get("SECRET_KEY_FILE"):
    os.environ.setdefault("SECRET_KEY", "tests-" + secrets.token_urlsafe(32))

from pypi_site.settings import *  # noqa: F403
