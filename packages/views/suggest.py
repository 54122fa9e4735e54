"""/search/suggest/?q=: project names for the search box's autocomplete, as JSON."""

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_safe

from packages.names import normalize_project_name
from packages.search import clean_query, suggest_names

SUGGESTIONS = 10


@require_safe
def suggest(request: HttpRequest) -> JsonResponse:
    query = clean_query(request.GET.get("q", ""))
    suggestions = []
    for name in suggest_names(query, SUGGESTIONS):
        url = reverse("project", args=[normalize_project_name(name)])
        suggestions.append({"name": name, "url": url})
    response = JsonResponse({"query": query, "suggestions": suggestions})
    # The same answer for everyone, and a minute-old list of names is good
    # enough while someone types.
    response["Cache-Control"] = "public, max-age=60"
    return response
