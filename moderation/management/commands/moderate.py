"""``manage.py moderate <action> ...``: the moderators' actions from a shell,
through the same services as the admin."""

from django.core.management.base import BaseCommand, CommandError

from accounts.events import Actor
from accounts.flags import KILL_SWITCHES
from accounts.models import AdminFlag, User
from moderation import namespaces, project_status, services, upstream
from packages.models import Project, UpstreamProject
from packages.names import normalize_project_name

STATUS_HELP = {
    "archive": "Archive a project (PEP 792): no more uploads; the reason is shown.",
    "unarchive": "Make an archived project active again.",
    "deprecate": "Deprecate a project (PEP 792); the reason is shown.",
    "undeprecate": "Make a deprecated project active again.",
}
# upstream-check writes a progress line after every this many names.
CHECK_PROGRESS_EVERY = 100
# Names listed in upstream-check's summary, per list; the admin has them all.
CHECK_LIST_LIMIT = 50


class Command(BaseCommand):
    help = (
        "Moderate a project or an account, or flip a kill switch; every action is recorded "
        "with its reason."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)

        def action(name, help_text, target, *, moderator_required=True):
            cmd = sub.add_parser(name, help=help_text)
            cmd.add_argument(target)
            cmd.add_argument("--reason", required=True, help="Why (recorded).")
            cmd.add_argument(
                "--moderator",
                required=moderator_required,
                help="Username of the moderator acting"
                + ("." if moderator_required else "; left out: recorded as done from the shell."),
            )
            return cmd

        action("quarantine", "Quarantine a project.", "project")
        action("release-quarantine", "Release a project from quarantine.", "project")
        remove = action("remove-project", "Delete a project.", "project")
        remove.add_argument("--prohibit", action="store_true", help="Also prohibit its name.")
        action("freeze", "Freeze an account.", "username")
        action("unfreeze", "Unfreeze an account.", "username")
        action("prohibit-name", "Prohibit a project name.", "name")
        limits = action("set-limits", "Set a project's size limits (bytes).", "project")
        limits.add_argument("--upload-limit", type=int, help="Per file; omit for the default.")
        limits.add_argument("--total-size-limit", type=int, help="All files; omit for default.")
        switch = sub.add_parser("switch", help="Turn a kill switch on or off.")
        switch.add_argument("switch", choices=KILL_SWITCHES)
        switch.add_argument("state", choices=["on", "off"])
        switch.add_argument("--reason", required=True, help="Why (recorded).")
        # In an incident the shell may be all there is: left out, the change is
        # recorded as done from the shell.
        switch.add_argument("--moderator", help="Username of the moderator acting.")

        # The mirrored upstream index (moderation.upstream, docs/moderation.md); as
        # docs/ARCHITECTURE.md has it, --moderator is optional for these.
        def upstream_action(name, help_text):
            return action(name, help_text, "name", moderator_required=False)

        for verb in ("block", "unblock"):
            cmd = upstream_action(
                f"upstream-{verb}",
                f"{verb.capitalize()} an upstream project, or one version of it.",
            )
            cmd.add_argument("version", nargs="?", help="One version (PEP 440); omit: all.")
        upstream_action("upstream-quarantine", "Quarantine a mirrored project.")
        upstream_action("upstream-unquarantine", "Release a mirrored project from quarantine.")
        upstream_action(
            "upstream-allow-claim", "Let a new local project take a name the upstream has."
        )
        # PEP 792 statuses (moderation.project_status); --moderator optional.
        for verb, help_text in STATUS_HELP.items():
            cmd = action(verb, help_text, "project", moderator_required=False)
            if verb == "deprecate":
                cmd.add_argument("--successor", default="", help="The project replacing it.")
        sub.add_parser(
            "upstream-check",
            help="Ask the upstream about every local project's name; record which it has too.",
        )
        self._add_namespace_actions(action)

    def _add_namespace_actions(self, action) -> None:
        """Namespace grants (PEP 752; moderation.namespaces); --moderator optional."""
        grant = action(
            "namespace-grant",
            "Grant a namespace (a project name prefix) to an organization.",
            "prefix",
            moderator_required=False,
        )
        grant.add_argument("--organization", required=True, help="The organization's name.")
        grant.add_argument(
            "--open", action="store_true", help="Anyone may still create projects under it."
        )
        grant.add_argument("--hidden", action="store_true", help="Enforced but never shown.")
        grant.add_argument("--parent", help="A child grant inside this root namespace.")
        action(
            "namespace-revoke",
            "Revoke a namespace and its children.",
            "prefix",
            moderator_required=False,
        )
        change = action(
            "namespace-change",
            "Make a namespace open or restricted, hidden or shown.",
            "prefix",
            moderator_required=False,
        )
        openness = change.add_mutually_exclusive_group()
        openness.add_argument("--open", dest="is_open", action="store_true", default=None)
        openness.add_argument("--restricted", dest="is_open", action="store_false", default=None)
        visibility = change.add_mutually_exclusive_group()
        visibility.add_argument("--hidden", dest="is_hidden", action="store_true", default=None)
        visibility.add_argument("--shown", dest="is_hidden", action="store_false", default=None)

    def handle(self, *args, action, reason=None, moderator=None, **options):
        if action == "upstream-check":
            self._upstream_check()
            return
        # Recorded as done from the shell, by the moderator it names if any.
        actor = Actor.shell(self._user(moderator) if moderator else None)
        common = {"actor": actor, "reason": reason}
        try:
            message = self._run(action, common, options)
        except services.ModerationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(message)

    def _project(self, name: str) -> Project:
        project = Project.objects.by_name(name)
        if project is None:
            raise CommandError(f"No project {name!r}.")
        return project

    def _user(self, username: str) -> User:
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user {username!r}.") from None

    def _mirrored(self, name: str) -> bool:
        """Whether ``name`` means a mirrored project: no local one has it."""
        return (
            Project.objects.by_name(name) is None
            and UpstreamProject.objects.filter(
                normalized_name=normalize_project_name(name)
            ).exists()
        )

    def _run(self, action: str, common: dict, options: dict) -> str:
        if action.startswith("namespace-"):
            return self._run_namespace(action, common, options)
        if action.startswith("upstream-"):
            return self._run_upstream(action, common, options)
        if action in STATUS_HELP:
            project = project_status.project_status_moderate(
                project=self._project(options["project"]),
                action=action,
                successor=options.get("successor", ""),
                **common,
            )
            return f"{project.name} is {project.status}."
        if action == "quarantine":
            if self._mirrored(options["project"]):
                return self._run_upstream(
                    "upstream-quarantine", common, {"name": options["project"]}
                )
            project = services.project_quarantine(
                project=self._project(options["project"]), **common
            )
            return f"{project.name} is quarantined."
        if action == "release-quarantine":
            if self._mirrored(options["project"]):
                return self._run_upstream(
                    "upstream-unquarantine", common, {"name": options["project"]}
                )
            project = services.project_unquarantine(
                project=self._project(options["project"]), **common
            )
            return f"{project.name} is released from quarantine."
        if action == "remove-project":
            project = self._project(options["project"])
            services.project_remove(project=project, prohibit_name=options["prohibit"], **common)
            return f"{project.name} is removed" + (
                " and its name prohibited." if options["prohibit"] else "."
            )
        if action == "freeze":
            user = services.user_freeze(user=self._user(options["username"]), **common)
            return f"{user.username} is frozen."
        if action == "unfreeze":
            user = services.user_unfreeze(user=self._user(options["username"]), **common)
            return f"{user.username} is unfrozen."
        if action == "prohibit-name":
            prohibited = services.name_prohibit(name=options["name"], **common)
            return f"{prohibited.name} is prohibited."
        if action == "switch":
            flag = services.kill_switch_set(
                flag=AdminFlag.objects.get(pk=options["switch"]),
                enabled=options["state"] == "on",
                **common,
            )
            return f"Kill switch {flag.pk} is {options['state']}."
        # set-limits (argparse allows no other action)
        project = services.project_limits_set(
            project=self._project(options["project"]),
            upload_limit=options["upload_limit"],
            total_size_limit=options["total_size_limit"],
            **common,
        )
        return f"Limits of {project.name} set."

    def _run_upstream(self, action: str, common: dict, options: dict) -> str:
        name = options["name"]
        if action in ("upstream-block", "upstream-unblock"):
            version = options["version"]
            if action == "upstream-block":
                block = upstream.upstream_block(name=name, version=version, **common)
                return f"{block} is blocked: not offered from the upstream."
            block = upstream.upstream_unblock(name=name, version=version, **common)
            return f"{block} is unblocked: offered from the upstream again."
        if action == "upstream-quarantine":
            row = upstream.upstream_quarantine(name=name, **common)
            return f"The mirrored project {row} is quarantined."
        if action == "upstream-unquarantine":
            row = upstream.upstream_unquarantine(name=name, **common)
            return f"The mirrored project {row} is released from quarantine."
        # upstream-allow-claim
        row = upstream.upstream_claim_allow(name=name, **common)
        return f"A local project may now take the name {row}."

    def _run_namespace(self, action: str, common: dict, options: dict) -> str:
        if action == "namespace-grant":
            parent = options["parent"]
            grant = namespaces.namespace_grant(
                prefix=options["prefix"],
                organization=namespaces.organization_named(options["organization"]),
                is_open=options["open"],
                is_hidden=options["hidden"],
                parent=namespaces.grant_named(parent) if parent else None,
                **common,
            )
            kind = "open" if grant.is_open else "restricted"
            hidden = ", hidden" if grant.is_hidden else ""
            return (
                f"The namespace {grant.normalized_prefix} ({kind}{hidden}) is granted to "
                f"{grant.organization.name}."
            )
        if action == "namespace-change":
            grant = namespaces.namespace_change(
                grant=namespaces.grant_named(options["prefix"]),
                is_open=options["is_open"],
                is_hidden=options["is_hidden"],
                **common,
            )
            kind = "open" if grant.is_open else "restricted"
            hidden = ", hidden" if grant.is_hidden else ""
            return f"The namespace {grant.normalized_prefix} is now {kind}{hidden}."
        # namespace-revoke
        revoked = namespaces.namespace_revoke(
            grant=namespaces.grant_named(options["prefix"]), **common
        )
        return f"Revoked: {', '.join(revoked)}."

    def _upstream_check(self) -> None:
        def progress(done: int, total: int) -> None:
            if done % CHECK_PROGRESS_EVERY == 0:
                self.stderr.write(f"Asked the upstream about {done} of {total} names.")

        try:
            report = upstream.upstream_check(progress=progress)
        except services.ModerationError as exc:
            raise CommandError(str(exc)) from None
        both = report.on_upstream
        self.stdout.write(
            f"Checked {report.checked} local names: {len(both)} also on the upstream, "
            f"{report.private} private (not asked), {len(report.failed)} unanswered."
        )
        if both:
            shown = ", ".join(both[:CHECK_LIST_LIMIT])
            more = (
                f" and {len(both) - CHECK_LIST_LIMIT} more" if len(both) > CHECK_LIST_LIMIT else ""
            )
            self.stdout.write(f"Also on the upstream: {shown}{more}.")
        for name, error in report.failed[:CHECK_LIST_LIMIT]:
            self.stderr.write(f"{name}: {error}")
        if report.failed:
            raise CommandError(
                f"The upstream did not answer for {len(report.failed)} names; run the check again."
            )
