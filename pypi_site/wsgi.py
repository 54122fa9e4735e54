import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pypi_site.settings")

django_application = get_wsgi_application()

from pypi_site.fastpath import SimpleFastPath  # noqa: E402 (needs Django set up)

application = SimpleFastPath(django_application)
