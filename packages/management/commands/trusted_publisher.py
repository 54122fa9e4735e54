"""``manage.py trusted_publisher add|list|remove``: an admin's way to configure
trusted publishers from a shell, through the same service as the web pages."""

from django.core.management.base import BaseCommand, CommandError

from accounts.events import Actor
from packages.management.common import get_actor
from packages.models import OIDCIssuer, Project, TrustedPublisher
from packages.names import normalize_project_name
from packages.trusted_publishing import (
    PublisherError,
    parse_claims,
    publisher_add,
    publisher_remove,
)

Provider = TrustedPublisher.Provider


class Command(BaseCommand):
    help = "Add, list or remove the trusted publishers (CI identities) of a project."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Let a CI workflow mint upload tokens for PROJECT.")
        add.add_argument("project", metavar="PROJECT")
        add.add_argument("--provider", required=True, choices=Provider.values)
        add.add_argument(
            "--repository", default="", help="GitHub OWNER/NAME; GitLab NAMESPACE/PROJECT."
        )
        add.add_argument(
            "--workflow", default="", help="GitHub workflow file; GitLab CI file path."
        )
        add.add_argument("--environment", default="", help="Only jobs in this environment.")
        add.add_argument("--owner-id", default="", help="GitHub: the repository owner's id.")
        add.add_argument(
            "--issuer",
            default="",
            help="GitLab: a self-hosted instance's issuer URL; custom: the issuer URL "
            "(both configured by the admins first).",
        )
        add.add_argument("--email", default="", help="Google: the service account's e-mail.")
        add.add_argument("--subject", default="", help="Google: the service account's subject.")
        add.add_argument(
            "--claim",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="Custom: a claim the token must carry with this value (repeatable).",
        )
        add.add_argument(
            "--pending",
            action="store_true",
            help="PROJECT does not exist yet: the first token minted creates it, owned by --user.",
        )
        add.add_argument(
            "--user", metavar="USERNAME", help="Who adds it (a pending one: the Owner)."
        )
        listing = sub.add_parser("list", help="The publishers of PROJECT (pending ones included).")
        listing.add_argument("project", metavar="PROJECT")
        remove = sub.add_parser("remove", help="Remove a publisher by the id `list` shows.")
        remove.add_argument("project", metavar="PROJECT")
        remove.add_argument("id", type=int)

    def handle(self, *args, action, project, **options):
        getattr(self, f"_{action}")(project, **options)

    def _publishers(self, name):
        project = Project.objects.by_name(name)
        if project is not None:
            return project, TrustedPublisher.objects.filter(project=project)
        pending = TrustedPublisher.objects.filter(
            project__isnull=True, pending_normalized_name=normalize_project_name(name)
        )
        return None, pending

    def _add(self, name, *, provider, pending, user, issuer, claim, owner_id, **options):
        actor = Actor.shell(get_actor(user))
        project = Project.objects.by_name(name)
        if pending:
            if project is not None:
                raise CommandError(f"Project {project.name!r} exists: add it without --pending.")
            if actor.user is None:
                raise CommandError("A pending publisher needs --user: the new project's Owner.")
        elif project is None:
            raise CommandError(f"No project named {name!r} (--pending creates it on first use).")
        fields = {
            key: options[key]
            for key in ("repository", "workflow", "environment", "email", "subject")
        }
        fields.update(provider=provider, repository_owner_id=owner_id)
        if provider == Provider.CUSTOM:
            fields["custom_issuer"] = OIDCIssuer.objects.filter(issuer_url=issuer).first()
        else:
            fields["issuer_url"] = issuer
        try:
            if provider == Provider.CUSTOM:
                fields["claims"] = parse_claims(claim)
            publisher = publisher_add(
                actor=actor, project=project, pending_name=name if pending else "", **fields
            )
        except PublisherError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Added publisher {publisher.pk}: {publisher}")

    def _list(self, name, **options):
        _, publishers = self._publishers(name)
        for publisher in publishers:
            self.stdout.write(f"{publisher.pk}\t{publisher}")

    def _remove(self, name, *, id, **options):
        _, publishers = self._publishers(name)
        publisher = publishers.filter(pk=id).first()
        if publisher is None:
            raise CommandError(f"{name!r} has no publisher {id}.")
        publisher_remove(publisher, actor=Actor.shell())
        self.stdout.write(f"Removed publisher {id}: {publisher}")
