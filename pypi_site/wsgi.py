import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pypi_site.settings")

django_application = get_wsgi_application()

from packages.downloads import flusher  # noqa: E402
from packages.purges import purger  # noqa: E402
from pypi_site.fastpath import SimpleFastPath  # noqa: E402 (needs Django set up)

# A serving process moves the download counts from the cache to the database.
flusher.serve()
# ... and purges the edges after a change in a thread of its own, not in the request.
purger.serve()

application = SimpleFastPath(django_application)
