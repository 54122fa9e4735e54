"""``manage.py moderate <action> ...``: the moderators' actions from a shell,
through the same services as the admin."""

from django.core.management.base import BaseCommand, CommandError

from accounts.events import Actor
from accounts.flags import KILL_SWITCHES
from accounts.models import AdminFlag, User
from moderation import services
from packages.models import Project


class Command(BaseCommand):
    help = (
        "Moderate a project or an account, or flip a kill switch; every action is recorded "
        "with its reason."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)

        def action(name, help_text, target):
            cmd = sub.add_parser(name, help=help_text)
            cmd.add_argument(target)
            cmd.add_argument("--reason", required=True, help="Why (recorded).")
            cmd.add_argument("--moderator", required=True, help="Username of the moderator acting.")
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

    def handle(self, *args, action, reason, moderator, **options):
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

    def _run(self, action: str, common: dict, options: dict) -> str:
        if action == "quarantine":
            project = services.project_quarantine(
                project=self._project(options["project"]), **common
            )
            return f"{project.name} is quarantined."
        if action == "release-quarantine":
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
