from django.contrib.admin.apps import AdminConfig


class IndexAdminConfig(AdminConfig):
    """django.contrib.admin with the index's admin site (pypi_site.admin)."""

    default_site = "pypi_site.admin.IndexAdminSite"
