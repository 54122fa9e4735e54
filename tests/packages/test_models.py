import pytest
from django.db import connection

from packages.models import Project

pytestmark = pytest.mark.django_db


def test_the_largest_upload_limit_is_read_from_an_index_not_a_scan_of_every_project():
    # Every upload reads MAX(upload_limit) before its body (upload_handler):
    # with 500,000 projects a scan of the table costs tens of milliseconds.
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Project._meta.db_table)
    assert any(
        info["index"] and info["columns"] == ["upload_limit"] for info in constraints.values()
    )
