"""Organization management pages, under /manage/organizations/ and
/manage/organization/<name>/: your organizations, a new one, invitations; per
organization its people, teams, profile and security history.

Every page needs sign-in and (with REQUIRE_2FA_TO_MANAGE) 2FA, as the project
pages do. An organization the user is not a member of answers 404, exactly as
an unknown one does; a role that does not allow the action answers 403. The
rules are accounts.organizations'; these views parse, authorize, call one
service and redirect with a message.
"""

from functools import wraps

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django.views.defaults import page_not_found, permission_denied

from common.ratelimit import limit_hit, limit_wait, too_many_requests

from .. import organizations as orgs
from ..events import Actor
from ..models import (
    Event,
    Organization,
    OrganizationInvitation,
    OrganizationRole,
    Team,
    User,
)
from ..organizations import OrganizationAction as Do
from ..two_factor import two_factor_required
from .invitations import answer_invitation, invitation_link_page

HISTORY_PAGE_SIZE = 50
ROLE_CHOICES = OrganizationRole.Name.choices


# --- Access ---------------------------------------------------------------------------


def signed_in_page(view):
    """Sign-in and 2FA first; never_cache outermost, so redirects and refusals
    (rendered here, not by the handler, which would send them without it) are
    never cached either."""

    @wraps(view)
    def refusals_rendered(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Http404 as exc:
            return page_not_found(request, exc)
        except PermissionDenied as exc:
            return permission_denied(request, exc)

    return never_cache(two_factor_required(refusals_rendered))


def organization_page(action: Do = Do.VIEW):
    """Resolve ``name`` to an active organization the user is a member of (404
    otherwise), send other spellings to the normalized URL, refuse (403) a
    role that does not allow ``action``. The view gets the organization and role."""

    def decorator(view):
        @wraps(view)
        def wrapped(request: HttpRequest, name: str, **kwargs) -> HttpResponse:
            organization = orgs.organization_by_name(name)
            role = orgs.organization_role(request.user, organization) if organization else None
            if role is None:
                raise Http404("No such organization.")
            if name != organization.normalized_name and request.method in ("GET", "HEAD"):
                # After the role check: the redirect must not reveal an
                # organization the user cannot see.
                return redirect(
                    request.resolver_match.url_name,
                    name=organization.normalized_name,
                    permanent=True,
                    **kwargs,
                )
            if not orgs.may(role, action):
                raise PermissionDenied("Your role in this organization does not allow this.")
            return view(request, organization, role, **kwargs)

        return signed_in_page(wrapped)

    return decorator


def _context(organization: Organization, role: str, section: str, **extra) -> dict:
    return {
        "organization": organization,
        "role": role,
        "is_owner": role == OrganizationRole.Name.OWNER,
        "can_manage_teams": orgs.may(role, Do.MANAGE_TEAMS),
        "section": section,
        **extra,
    }


def _posted_id(request: HttpRequest, field: str) -> int:
    """The row id a form posted, or 0, which no row has (never a query error)."""
    value = request.POST.get(field, "")
    return int(value) if value.isascii() and value.isdigit() else 0


def _form_change(request: HttpRequest, form: forms.Form, service, /, **arguments):
    """What ``service`` returns, called with a valid ``form``'s data, ``arguments``
    and the request's actor; None when the form is invalid or the service
    refuses, the refusal then shown on the form (on its field, if it names one)."""
    # Positional-only above: a service may take a ``request`` argument of its own.
    if not form.is_valid():
        return None
    try:
        return service(**form.cleaned_data, **arguments, actor=Actor.from_request(request))
    except orgs.OrganizationError as exc:
        form.add_error(exc.field, exc.message)
        return None


class UsernameForm(forms.Form):
    username = forms.CharField(max_length=User._meta.get_field("username").max_length)


def _member(organization: Organization, request: HttpRequest) -> User:
    form = UsernameForm(request.POST)
    if not form.is_valid():
        # Empty, too long, a NUL: nobody's username.
        raise Http404("No such member.")
    return get_object_or_404(
        User,
        username=form.cleaned_data["username"],
        organization_roles__organization=organization,
    )


def _creation_limits(request: HttpRequest) -> list:
    return [("organization-create", [str(request.user.pk)])]


def _invitation_limits(request: HttpRequest) -> list:
    return [("organization-invite", [str(request.user.pk)])]


# --- Your organizations, a new one, invitations ------------------------------------------


class CreateForm(forms.Form):
    name = forms.CharField(max_length=orgs.MAX_NAME_LENGTH)
    display_name = forms.CharField(
        max_length=Organization._meta.get_field("display_name").max_length, required=False
    )


@signed_in_page
@require_http_methods(["GET", "HEAD", "POST"])
def organization_list(request: HttpRequest) -> HttpResponse:
    form = CreateForm(request.POST if request.method == "POST" else None)
    status = 200
    if form.is_bound:
        if (wait := limit_wait(_creation_limits(request))) is not None:
            return too_many_requests(wait, "You created too many organizations lately.")
        organization = _form_change(request, form, orgs.organization_create)
        if organization is not None:
            limit_hit(_creation_limits(request))
            messages.success(
                request, f"The organization {organization.name} is created; you are its Owner."
            )
            return redirect("manage-organization", name=organization.normalized_name)
        status = 400
    context = {
        "roles": orgs.user_organizations(request.user).annotate(
            members=Count("organization__roles", distinct=True)
        ),
        "invitations": orgs.pending_invitations(request.user),
        "form": form,
    }
    return render(request, "accounts/organizations/list.html", context, status=status)


def _answer_invitation(request: HttpRequest, invitation: OrganizationInvitation) -> HttpResponse:
    return answer_invitation(
        request,
        invitation,
        orgs.INVITATIONS,
        accept=orgs.invitation_accept,
        decline=orgs.invitation_decline,
        accepted_url_name="manage-organization",
        list_url_name="manage-organizations",
    )


@signed_in_page
@require_http_methods(["GET", "HEAD", "POST"])
def invitation_link(request: HttpRequest) -> HttpResponse:
    """Where the e-mailed link leads: the invitee confirms, with a POST."""
    return invitation_link_page(
        request,
        orgs.INVITATIONS,
        template="accounts/organizations/invitation.html",
        answer=_answer_invitation,
    )


@signed_in_page
@require_POST
def invitation_answer(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept or decline from the list on "Your organizations"."""
    invitation = get_object_or_404(
        OrganizationInvitation.objects.select_related("organization", "invited_by"),
        pk=pk,
        user=request.user,
        organization__is_active=True,
    )
    return _answer_invitation(request, invitation)


# --- People -----------------------------------------------------------------------------


class InviteForm(forms.Form):
    who = forms.CharField(label="Username or e-mail address", max_length=254)
    role_name = forms.ChoiceField(
        label="Role", choices=ROLE_CHOICES, initial=OrganizationRole.Name.MEMBER
    )


def _render_people(
    request: HttpRequest, organization: Organization, role: str, form: InviteForm, status=200
) -> HttpResponse:
    context = _context(
        organization,
        role,
        "people",
        form=form,
        members=organization.roles.select_related("user").order_by("role_name", "user__username"),
        invitations=organization.invitations.select_related("user", "invited_by"),
        now=timezone.now(),
        role_choices=ROLE_CHOICES,
    )
    return render(request, "accounts/organizations/people.html", context, status=status)


def _back_to_people(organization: Organization) -> HttpResponse:
    return redirect("manage-organization", name=organization.normalized_name)


@organization_page()
@require_safe
def organization_people(request: HttpRequest, organization, role) -> HttpResponse:
    return _render_people(request, organization, role, InviteForm())


@organization_page(Do.INVITE)
@require_POST
def member_invite(request: HttpRequest, organization, role) -> HttpResponse:
    if (wait := limit_wait(_invitation_limits(request))) is not None:
        return too_many_requests(wait, "You sent too many invitations lately.")
    form = InviteForm(request.POST)
    invitation = _form_change(
        request, form, orgs.invitation_create, organization=organization, request=request
    )
    if invitation is None:
        return _render_people(request, organization, role, form, status=400)
    limit_hit(_invitation_limits(request))
    messages.success(
        request,
        f"{invitation.user.username} is invited as {invitation.role_name}; "
        "they have been sent an e-mail to accept.",
    )
    return _back_to_people(organization)


@organization_page(Do.CHANGE_ROLES)
@require_POST
def member_change(request: HttpRequest, organization, role) -> HttpResponse:
    user = _member(organization, request)
    try:
        changed = orgs.member_change_role(
            organization=organization,
            user=user,
            role_name=request.POST.get("role_name", ""),
            actor=Actor.from_request(request),
        )
    except orgs.OrganizationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{user.username} is now {changed.role_name}.")
    return _back_to_people(organization)


@organization_page()
@require_POST
def member_remove(request: HttpRequest, organization, role) -> HttpResponse:
    """An Owner removes a member, or anyone leaves (their own username)."""
    user = _member(organization, request)
    leaving = user.pk == request.user.pk
    try:
        # The service refuses (403) anyone but an Owner removing someone else.
        orgs.member_remove(organization=organization, user=user, actor=Actor.from_request(request))
    except orgs.OrganizationError as exc:
        messages.error(request, exc.message)
        return _back_to_people(organization)
    if leaving:
        messages.success(request, f"You left {organization.name}.")
        return redirect("manage-organizations")
    messages.success(request, f"{user.username} is no longer a member of {organization.name}.")
    return _back_to_people(organization)


@organization_page(Do.INVITE)
@require_POST
def invitation_revoke(request: HttpRequest, organization, role) -> HttpResponse:
    invitation = get_object_or_404(
        organization.invitations.select_related("user", "organization"),
        pk=_posted_id(request, "invitation"),
    )
    try:
        orgs.invitation_revoke(invitation=invitation, actor=Actor.from_request(request))
    except orgs.OrganizationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The invitation of {invitation.user.username} is revoked.")
    return _back_to_people(organization)


# --- Teams ------------------------------------------------------------------------------


class TeamNameForm(forms.Form):
    name = forms.CharField(label="Team name", max_length=orgs.MAX_TEAM_NAME_LENGTH)


def _render_teams(request, organization, role, form: TeamNameForm, status=200) -> HttpResponse:
    teams = organization.teams.annotate(
        member_count=Count("memberships", distinct=True),
        project_count=Count("roles", distinct=True),
    )
    context = _context(organization, role, "teams", teams=teams, form=form)
    return render(request, "accounts/organizations/teams.html", context, status=status)


@organization_page()
@require_http_methods(["GET", "HEAD", "POST"])
def organization_teams(request: HttpRequest, organization, role) -> HttpResponse:
    """The teams; a POST creates one (Owners and Managers)."""
    if request.method != "POST":
        return _render_teams(request, organization, role, TeamNameForm())
    form = TeamNameForm(request.POST)
    team = _form_change(request, form, orgs.team_create, organization=organization)
    if team is None:
        return _render_teams(request, organization, role, form, status=400)
    messages.success(request, f"The team {team.name} is created.")
    return _back_to_team(organization, team)


def _team_or_404(organization: Organization, name: str) -> Team:
    team = orgs.team_by_name(organization, name)
    if team is None:
        raise Http404("No such team.")
    return team


def _back_to_team(organization: Organization, team: Team) -> HttpResponse:
    return redirect(
        "manage-organization-team", name=organization.normalized_name, team=team.normalized_name
    )


def _render_team(request, organization, role, team, *, rename=None, add=None, status=200):
    context = _context(
        organization,
        role,
        "teams",
        team=team,
        memberships=team.memberships.select_related("user").order_by("user__username"),
        candidates=organization.roles.exclude(user__team_memberships__team=team)
        .select_related("user")
        .order_by("user__username"),
        # packages.TeamRole rows (related_name "roles"): the team's projects.
        holdings=team.roles.select_related("project").order_by("project__normalized_name"),
        rename_form=rename or TeamNameForm(initial={"name": team.name}),
        add_form=add or UsernameForm(),
    )
    return render(request, "accounts/organizations/team.html", context, status=status)


@organization_page()
@require_safe
def team_detail(request: HttpRequest, organization, role, team: str) -> HttpResponse:
    found = _team_or_404(organization, team)
    if team != found.normalized_name:
        return _back_to_team(organization, found)
    return _render_team(request, organization, role, found)


@organization_page(Do.MANAGE_TEAMS)
@require_POST
def team_rename(request: HttpRequest, organization, role, team: str) -> HttpResponse:
    found = _team_or_404(organization, team)
    form = TeamNameForm(request.POST)
    renamed = _form_change(request, form, orgs.team_rename, team=found)
    if renamed is None:
        return _render_team(request, organization, role, found, rename=form, status=400)
    messages.success(request, f"The team is now named {renamed.name}.")
    return _back_to_team(organization, renamed)


@organization_page(Do.MANAGE_TEAMS)
@require_POST
def team_delete(request: HttpRequest, organization, role, team: str) -> HttpResponse:
    found = _team_or_404(organization, team)
    if request.POST.get("confirm", "").strip() != found.name:
        messages.error(request, f"Type the team name {found.name} to confirm the deletion.")
        return _back_to_team(organization, found)
    try:
        orgs.team_delete(team=found, actor=Actor.from_request(request))
    except orgs.OrganizationError as exc:
        messages.error(request, exc.message)
        return _back_to_team(organization, found)
    messages.success(request, f"The team {found.name} is deleted.")
    return redirect("manage-organization-teams", name=organization.normalized_name)


@organization_page(Do.MANAGE_TEAMS)
@require_POST
def team_member_add(request: HttpRequest, organization, role, team: str) -> HttpResponse:
    found = _team_or_404(organization, team)
    form = UsernameForm(request.POST)
    membership = _form_change(request, form, orgs.team_member_add, team=found)
    if membership is None:
        return _render_team(request, organization, role, found, add=form, status=400)
    messages.success(request, f"{membership.user.username} is in the team {found.name}.")
    return _back_to_team(organization, found)


@organization_page(Do.MANAGE_TEAMS)
@require_POST
def team_member_remove(request: HttpRequest, organization, role, team: str) -> HttpResponse:
    found = _team_or_404(organization, team)
    user = _member(organization, request)
    try:
        orgs.team_member_remove(team=found, user=user, actor=Actor.from_request(request))
    except orgs.OrganizationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{user.username} is no longer in the team {found.name}.")
    return _back_to_team(organization, found)


# --- Settings and history -----------------------------------------------------------------


def _max_length(field: str) -> int:
    return Organization._meta.get_field(field).max_length


class SettingsForm(forms.Form):
    display_name = forms.CharField(max_length=_max_length("display_name"), required=False)
    link_url = forms.URLField(
        label="Link", max_length=_max_length("link_url"), required=False, assume_scheme="https"
    )
    description = forms.CharField(required=False, widget=forms.Textarea)


@organization_page(Do.EDIT)
@require_http_methods(["GET", "HEAD", "POST"])
def organization_settings(request: HttpRequest, organization, role) -> HttpResponse:
    profile = {key: getattr(organization, key) for key in SettingsForm.base_fields}
    form = SettingsForm(request.POST if request.method == "POST" else None, initial=profile)
    if form.is_bound:
        # Refused (on the form) when deactivated by a moderator since the page was resolved.
        saved = _form_change(request, form, orgs.organization_update, organization=organization)
        if saved is not None:
            messages.success(request, "The organization's profile is saved.")
            return redirect("manage-organization-settings", name=organization.normalized_name)
        status = 400
    else:
        status = 200
    context = _context(organization, role, "settings", form=form)
    return render(request, "accounts/organizations/settings.html", context, status=status)


@organization_page(Do.HISTORY)
@require_safe
def organization_history(request: HttpRequest, organization, role) -> HttpResponse:
    events = Event.objects.filter(organization=organization).select_related("actor", "user")
    page = Paginator(events, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = _context(organization, role, "history", page=page)
    return render(request, "accounts/organizations/history.html", context)
