"""The "Report project" page."""

import pytest
from django.utils import timezone

from moderation.models import MalwareReport

pytestmark = pytest.mark.django_db
URL = "/project/Sample.Project/report/"


def test_needs_login(client, project):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/account/login/" in response["Location"]


def test_form_page(client, project, outsider):
    client.force_login(outsider)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Report Sample.Project</h1>" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'aria-describedby="id_details_helptext"' in html
    assert "no-cache" in response["Cache-Control"]


def test_report_is_filed_and_thanked(client, project, outsider):
    client.force_login(outsider)
    response = client.post(URL, {"reason": "malware", "details": "setup.py downloads a binary"})
    assert response.status_code == 302
    assert response["Location"] == "/project/sample-project/report/thanks/"
    report = MalwareReport.objects.get()
    assert (report.project, report.reporter, report.reason) == (project, outsider, "malware")
    thanks = client.get(response["Location"])
    assert b"Thank you" in thanks.content


def test_invalid_and_duplicate_reports_show_errors(client, project, outsider):
    client.force_login(outsider)
    response = client.post(URL, {"reason": "boring", "details": ""})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"reason", "details"}
    client.post(URL, {"reason": "spam", "details": "ads"})
    response = client.post(URL, {"reason": "spam", "details": "ads again"})
    assert "already reported" in response.content.decode()
    assert MalwareReport.objects.count() == 1


def test_csrf_is_enforced(project, outsider):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(outsider)
    response = client.post(URL, {"reason": "spam", "details": "x"})
    assert response.status_code == 403
    assert not MalwareReport.objects.exists()


def test_unknown_and_quarantined_projects_are_404(client, project, outsider):
    client.force_login(outsider)
    assert client.get("/project/nope/report/").status_code == 404
    project.quarantined_at = timezone.now()
    project.save()
    assert client.get(URL).status_code == 404
