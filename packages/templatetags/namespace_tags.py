"""``{% project_namespace project as namespace %}``: the visible namespace grant
(PEP 752) a project answers to, for templates/packages/_namespace.html."""

from django import template

from packages.namespaces import ProjectNamespace, project_namespace

register = template.Library()


@register.simple_tag
def project_namespace_of(project) -> ProjectNamespace | None:
    # One query (packages.namespaces.project_namespace).
    return project_namespace(project.normalized_name)
