"""Included by pypi_site/urls.py under "project/<project:name>/report/"."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.report_project, name="report-project"),
    path("thanks/", views.report_thanks, name="report-project-thanks"),
]
