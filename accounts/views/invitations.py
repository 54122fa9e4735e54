"""The pages of an e-mailed invitation, for every kind of invitation
(accounts.invitations): an organization's (views.organizations) and a
project's (packages.views.manage). Each app's views keep their URL, sign-in
and methods, and hand the request here with their kind and services."""

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from common.http import error_response

from ..events import Actor
from ..invitations import InvitationKind, InvitationLinkError


def invitation_link_page(
    request: HttpRequest,
    kind: InvitationKind,
    *,
    template: str,
    answer: Callable[[HttpRequest, object], HttpResponse],
) -> HttpResponse:
    """Where the e-mailed link leads: ``template`` asks the invitee to confirm;
    its POST carries the token back and goes to ``answer(request, invitation)``.
    A link that can't be used is said on the same page, with its status."""
    token = request.POST.get("token") if request.method == "POST" else request.GET.get("token")
    try:
        invitation = kind.from_token(token or "", request.user)
    except InvitationLinkError as exc:
        return render(request, template, {"error": exc.message}, status=exc.status)
    if request.method == "POST":
        return answer(request, invitation)
    return render(request, template, {"invitation": invitation, "token": token})


def answer_invitation(
    request: HttpRequest,
    invitation,
    kind: InvitationKind,
    *,
    accept: Callable,
    decline: Callable,
    accepted_url_name: str,
    list_url_name: str,
) -> HttpResponse:
    """The POSTed ``action``, accept or decline, done by the app's service
    (``accept(invitation=, actor=)`` returns the role). Accepting leads to the
    target's page (``accepted_url_name``, by its normalized name); declining,
    or a refusal with its message, to the invitee's list (``list_url_name``)."""
    action = request.POST.get("action")
    target = getattr(invitation, kind.target)
    actor = Actor.from_request(request)
    try:
        if action == "accept":
            role = accept(invitation=invitation, actor=actor)
            messages.success(request, f"You are now {role.role_name} of {target.name}.")
            return redirect(accepted_url_name, name=target.normalized_name)
        if action == "decline":
            decline(invitation=invitation, actor=actor)
            messages.info(request, f"You declined the invitation to {target.name}.")
            return redirect(list_url_name)
    except kind.error as exc:
        messages.error(request, exc.message)
        return redirect(list_url_name)
    return error_response(400, "Choose accept or decline.")
