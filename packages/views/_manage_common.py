"""What the management pages' POST views share: a service called as the
signed-in user, whose refusal becomes the page's error message and whose
success its confirmation (packages.views.manage, manage_advisories,
manage_status, manage_namespaces, manage_organizations)."""

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.http import HttpRequest

from accounts.events import Actor


def change(
    request: HttpRequest,
    service: Callable,
    done: str | Callable[..., str],
    *,
    refused: type[Exception],
    **arguments,
) -> bool:
    """Call ``service(**arguments, actor=...)`` as the signed-in user and say
    ``done`` (when callable, made from what the service returned). A ``refused``
    error is said instead: the services word it for the person who asked.
    Anything else (PermissionDenied, Http404) goes on, to be a 403 or a 404.
    True when the change is made."""
    try:
        result = service(**arguments, actor=Actor.from_request(request))
    except refused as exc:
        messages.error(request, str(exc))
        return False
    messages.success(request, done(result) if callable(done) else done)
    return True


def posted_form(request: HttpRequest, form_class: type[forms.Form]) -> dict | None:
    """The cleaned data of ``form_class`` as posted, or None when it is refused:
    then every refused field with why is the page's error message."""
    form = form_class(request.POST)
    if form.is_valid():
        return form.cleaned_data
    messages.error(
        request,
        " ".join(
            f"{form.fields[name].label or name}: {' '.join(errors)}"
            for name, errors in form.errors.items()
        ),
    )
    return None
